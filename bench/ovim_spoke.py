# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OVIM spoke agent: operation latency by pull and by push, its memory, and the cost of its heartbeat.

  PYTHONPATH=<collections tree>:<collection>/runtime python3 bench/ovim_spoke.py [--operations 200] [--vms 500]
      [--kubevirt]

Starts the fake hub (tests/ovim_hub, plain HTTP) and the agent as processes, on the mock backend unless
OVIM_PROVIDER_TYPE and that backend's variables are set.  ``--kubevirt`` starts the KubeVirt test bed
(kube-apiserver and stand-in, on the benchmarks' own ports, as bench/kubevirt.py does) and runs the agent on it,
as the ovim stage does.  Prints:

- the time from queueing a ``get_vm_status`` to its result at the hub, by pull (the agent polls every
  0.2 s here) and by push: median and p95, against the floor, the provider call alone in this process;
- the agent's RSS when idle and after 1,000 operations (goal: at most 100 MB);
- the CPU the agent spends on status reports with ``--vms`` VMs in them, as seconds per hour at the
  default 30 s interval (goal: at most 30 s), measured over a minute of reports every second.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from typing import Any, Callable

from virtrigaud_runtime.spoke import settings as spoke_settings
from virtrigaud_runtime.spoke.backend import Backend
from virtrigaud_runtime.spoke.vms import create_spec

import benchlib

REPO = pathlib.Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
# The KubeVirt test bed's objects that the ovim stage uses too: the namespace, the image PVC, the storage class.
KUBEVIRT_ENV = {"OVIM_PROVIDER_TYPE": "kubevirt", "OVIM_DEFAULT_NAMESPACE": "vr-kubevirt",
                "OVIM_BACKEND_STORAGE": "standin", "OVIM_TEMPLATE_CATALOGUE": json.dumps({"base": "vr-base"})}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, body: Any = None, headers: dict | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, dict(headers or {}, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def wait(probe: Callable[[], Any], seconds: float = 120.0) -> Any:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            found = probe()
        except OSError:  # a server not listening yet
            found = None
        if found:
            return found
        time.sleep(0.005)
    raise SystemExit("gave up waiting")


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def rss_mib(pid: int) -> float:
    with open("/proc/%d/status" % pid, encoding="utf-8") as handle:
        kib = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
    return kib / 1024


def cpu_seconds(pid: int) -> float:
    with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, scratch: str) -> None:
        self.hub_port, control_port, self.api_port = free_port(), free_port(), free_port()
        self.control = "http://127.0.0.1:%d" % control_port
        self.hub = subprocess.Popen([sys.executable, "-m", "ovim_hub", "--port", str(self.hub_port),
                                     "--control-port", str(control_port), "--token", TOKEN], cwd=REPO / "tests")
        self.env = dict(os.environ)
        self.env.setdefault("OVIM_PROVIDER_TYPE", "mock")
        self.env.setdefault("VIRTRIGAUD_MOCK_URI", "mock://%s/mock.json" % scratch)
        self.agent_id = "bench-%s" % uuid.uuid4().hex[:6]
        self.env.update(OVIM_AGENT_ID=self.agent_id, OVIM_CLUSTER_ID="bench",
                        OVIM_HUB_ENDPOINT="http://127.0.0.1:%d" % self.hub_port, OVIM_HUB_TOKEN=TOKEN,
                        OVIM_API_ADDRESS="127.0.0.1", OVIM_API_PORT=str(self.api_port), OVIM_POLL_INTERVAL="0.2",
                        OVIM_LOG_LEVEL="warning")
        self.agent: subprocess.Popen | None = None

    def start_agent(self, report_interval: str = "30") -> None:
        self.agent = subprocess.Popen([sys.executable, "-m", "virtrigaud_runtime", "spoke"],
                                      env=dict(self.env, OVIM_REPORT_INTERVAL=report_interval))
        wait(self.reports)

    def reports(self) -> int:
        return sum(1 for r in call(self.control + "/state")["reports"] if r["agent_id"] == self.agent_id)

    def stop_agent(self) -> None:
        if self.agent is not None:
            self.agent.terminate()
            self.agent.wait(60)

    def results(self) -> list:
        return call(self.control + "/state")["results"]

    def one(self, via: str, payload: dict) -> float:
        op_id = "op-%s" % uuid.uuid4().hex
        operation = {"id": op_id, "type": "get_vm_status", "payload": payload}
        started = time.monotonic()
        if via == "pull":
            call(self.control + "/enqueue", {"agent_id": self.agent_id, "operations": [operation]})
        else:
            call(self.control + "/push", {"agent_id": self.agent_id, "operation": operation, "token": TOKEN})
        wait(lambda: any(r["path_id"] == op_id for r in self.results()))
        return time.monotonic() - started

    def close(self) -> None:
        self.stop_agent()
        self.hub.terminate()
        self.hub.wait(30)


def backend_provider(env: dict) -> tuple[Any, Any]:
    """The provider the agent would use (its settings, read as it reads them), and a VM spec maker."""
    current = spoke_settings.load(env)
    provider = Backend(current.provider, current.default_namespace).provider()
    template = "base" if "base" in current.templates else None

    def spec(name: str) -> Any:
        payload = {"name": name, "cpu": 1, "memory": "256Mi", "template_name": template, "storage": "2Gi"}
        return create_spec(payload, current.templates)

    return provider, spec


def seed(env: dict, count: int) -> None:
    """``count`` VMs for the heartbeat figure, made straight through the provider layer."""
    provider, spec = backend_provider(env)
    for index in range(count):
        provider.create(spec("bench-vm-%d" % index))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=200)
    parser.add_argument("--vms", type=int, default=500)
    parser.add_argument("--kubevirt", action="store_true", help="on the KubeVirt test bed (started and stopped)")
    args = parser.parse_args()
    if args.kubevirt:
        sys.path.insert(0, str(REPO / "bench"))
        from kubevirt import KUBECONFIG, testbed  # pylint: disable=import-outside-toplevel

        testbed("stop")
        testbed("start")
        os.environ.update(KUBEVIRT_ENV, K8S_AUTH_KUBECONFIG=KUBECONFIG)
    try:
        run(args)
    finally:
        if args.kubevirt:
            testbed("stop")


def run(args: argparse.Namespace) -> None:
    scratch = tempfile.mkdtemp(prefix="ovim-bench-")
    bench = Bench(scratch)
    try:
        payload = {"name": "bench-target", "namespace": bench.env.get("OVIM_DEFAULT_NAMESPACE", "default")}
        provider, spec = backend_provider(bench.env)
        provider.create(spec("bench-target"))
        floor = []
        for dummy in range(args.operations):
            started = time.monotonic()
            provider.find("bench-target")
            floor.append(time.monotonic() - started)
        bench.start_agent()
        assert bench.agent is not None
        idle = rss_mib(bench.agent.pid)
        base = quantiles(floor)
        print("operation latency, queue to result, %d get_vm_status each (%s backend):"
              % (args.operations, bench.env["OVIM_PROVIDER_TYPE"]))
        print("  floor (the provider call alone): median %.2f ms, p95 %.2f ms" % (base[0] * 1e3, base[1] * 1e3))
        for via in ("pull", "push"):
            median, p95 = quantiles([bench.one(via, payload) for dummy in range(args.operations)])
            print("  by %s: median %.1f ms (%.0fx the floor), p95 %.1f ms" % (
                via, median * 1e3, median / base[0] if base[0] else 0, p95 * 1e3))
            benchlib.figure("queue to result by %s, median" % via, median, floor=base[0], floor_name="provider call")
            benchlib.figure("queue to result by %s, p95" % via, p95, floor=base[1], floor_name="provider call")
        for start in range(0, 1000, 100):
            call(bench.control + "/enqueue", {"agent_id": bench.agent_id, "operations": [
                {"id": "op-rss-%d" % (start + i), "type": "get_vm_status", "payload": payload} for i in range(100)]})
        wait(lambda: sum(1 for r in bench.results() if r["path_id"].startswith("op-rss-")) >= 1000, 600)
        busy = rss_mib(bench.agent.pid)
        print("agent RSS: %.1f MiB idle, %.1f MiB after 1,000 more operations (goal: at most 100 MB)" % (idle, busy))
        benchlib.figure("agent RSS idle", idle, "MiB", goal="<= 100 MB", met=idle * 1.048576 <= 100)
        benchlib.figure("agent RSS after 1,000 operations", busy, "MiB", goal="<= 100 MB", met=busy * 1.048576 <= 100)
        bench.stop_agent()
        seed(bench.env, args.vms)
        bench.start_agent(report_interval="1")
        before, reports = cpu_seconds(bench.agent.pid), bench.reports()
        time.sleep(60)
        spent, made = cpu_seconds(bench.agent.pid) - before, bench.reports() - reports
        # Everything the agent spent in the minute (its polls and checks too) is charged to the reports.
        per_report = spent / max(made, 1)
        print("heartbeat with %d VMs: %d reports in 60 s, %.3f CPU-s per report, %.1f CPU-s per hour at 30 s "
              "(goal: at most 30 s)" % (args.vms + 1, made, per_report, per_report * 3600 / 30))
        benchlib.figure("heartbeat CPU per hour, %d VMs, 30 s interval" % (args.vms + 1), per_report * 3600 / 30,
                        "CPU-s", goal="<= 30 CPU-s", met=per_report * 3600 / 30 <= 30)
    finally:
        bench.close()


if __name__ == "__main__":
    main()
