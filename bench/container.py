# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider runtime's container image: its size, its start-up time and its memory.

  PYTHONPATH=<collections tree>:<collection>/runtime RUNTIME_PKI=<runtime.sh certs> \\
      python3 bench/container.py [--rounds 5] [--calls 1000]

Needs the image from ``scripts/testbed/container.sh build`` and the PKI from
``scripts/testbed/runtime.sh certs``.  Prints the image's size and the size of
each layer the project adds to the Debian base; the time from ``podman run``
to the gRPC health service answering SERVING over mTLS (median of the rounds);
and the runtime's RSS when idle and after the Describe calls.  The baseline is
the same runtime started as a plain process on the host, in the same run (the
machine is shared: read the ratios).  Goals (issue 11): ready in at most 2 s,
RSS at most 120 MB after the calls.  The mock backend keeps the hypervisor out
of the figures; the container runs locked down as the role's Deployment does.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.provider import RemoteProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

import benchlib

REPO = pathlib.Path(__file__).resolve().parent.parent
NAME = "virtrigaud-bench-runtime"
GRPC_PORT, HTTP_PORT = 19543, 18543
LOCKED_DOWN = ["--user", "65532", "--read-only", "--read-only-tmpfs=false", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges", "--tmpfs", "/tmp:rw,size=64m,mode=1777"]


def pki() -> pathlib.Path:
    folder = pathlib.Path(os.environ.get("RUNTIME_PKI", ""))
    if not (folder / "server-tls" / "tls.crt").is_file():
        sys.exit("set RUNTIME_PKI to the folder scripts/testbed/runtime.sh certs made")
    return folder


def serving(deadline: float) -> bool:
    """Poll the gRPC health service on fresh channels, so gRPC's reconnect back-off does not pad the figure."""
    folder = pki()
    credentials = grpc.ssl_channel_credentials((folder / "ca" / "ca.crt").read_bytes(),
                                               (folder / "client.key").read_bytes(),
                                               (folder / "client.crt").read_bytes())
    while time.monotonic() < deadline:
        with grpc.secure_channel("127.0.0.1:%d" % GRPC_PORT, credentials) as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""),
                                                                   timeout=0.5)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                time.sleep(0.02)
    return False


def flags() -> list[str]:
    return ["--grpc-addr=:%d" % GRPC_PORT, "--metrics-addr=:%d" % HTTP_PORT, "--provider-type=mock",
            "--provider-endpoint=mock://", "--tls-enabled=true"]


def start_container(image: str, credentials: str) -> Callable[[], int]:
    """The runtime locked down; its TLS material readable by its user, as a Secret volume (mode 0644) makes it."""
    subprocess.run(["podman", "rm", "--force", "--time", "1", NAME], capture_output=True, check=False)
    subprocess.run(["podman", "run", "--detach", "--name", NAME, "--network", "host", "--pull", "never", *LOCKED_DOWN,
                    "--volume", "%s:/etc/virtrigaud/tls:ro" % os.path.join(credentials, "tls"),
                    "--volume", "%s:/etc/virtrigaud/credentials:ro" % credentials, image, *flags()],
                   check=True, capture_output=True)

    def pid() -> int:
        found = subprocess.run(["podman", "inspect", "--format", "{{.State.Pid}}", NAME], capture_output=True,
                               text=True, check=True)
        return int(found.stdout.strip())
    return pid


def stop_container() -> None:
    subprocess.run(["podman", "rm", "--force", "--time", "2", NAME], capture_output=True, check=False)


def start_process(credentials: str) -> subprocess.Popen:
    folder = pki()
    return subprocess.Popen([sys.executable, "-m", "virtrigaud_runtime", *flags(), "--tls-dir",
                             str(folder / "server-tls"), "--credentials-dir", credentials],
                            stderr=subprocess.DEVNULL)


def rss_mib(pid: int) -> float:
    for line in pathlib.Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def describe_many(calls: int) -> None:
    folder = pki()
    config = ProviderConfig(type="remote", uri="127.0.0.1:%d" % GRPC_PORT,
                            options={"ca_path": str(folder / "ca" / "ca.crt"),
                                     "client_cert": str(folder / "client.crt"),
                                     "client_key": str(folder / "client.key")})
    provider = RemoteProvider(config)
    try:
        vm_id = provider.create(parse_vm({"name": "bench-1", "cpu": 1, "memory": "512Mi", "image": "base"}))[0]
        for dummy in range(calls):
            provider.describe(vm_id)
    finally:
        provider.close()


def measure(start: Callable[[], Callable[[], int]], stop: Callable[[], None], rounds: int, calls: int) -> dict:
    ready, idle, busy = [], [], []
    for index in range(rounds):
        began = time.monotonic()
        pid = start()
        if not serving(began + 30):
            stop()
            sys.exit("the runtime did not answer SERVING within 30 s")
        ready.append(time.monotonic() - began)
        if index == rounds - 1:
            time.sleep(1)
            idle.append(rss_mib(pid()))
            describe_many(calls)
            busy.append(rss_mib(pid()))
        stop()
    return {"ready": statistics.median(ready), "idle": idle[0], "busy": busy[0]}


def image_report(image: str) -> list[str]:
    size = int(subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", image], capture_output=True,
                              text=True, check=True).stdout)
    history = json.loads(subprocess.run(["podman", "history", "--format", "json", image], capture_output=True,
                                        text=True, check=True).stdout)
    lines = ["image %s: %.0f MB" % (image, size / 1e6)]
    for layer in history:
        command = " ".join(layer.get("CreatedBy", "").split())
        if (layer.get("size", 0) > 0 and "debootstrap" not in command
                and not command.startswith("/bin/sh -c #(nop) ADD")):
            lines.append("  %8.1f MB  %s" % (layer["size"] / 1e6, command[:90]))
    base = [layer for layer in history if layer.get("size", 0) > 0][-1]
    lines.append("  %8.1f MB  (the Debian base, debootstrap --variant=minbase)" % (base["size"] / 1e6))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default=subprocess.run([str(REPO / "scripts" / "testbed" / "container.sh"), "image"],
                                                          capture_output=True, text=True, check=True).stdout.strip())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    benchlib.print_environment()
    for line in image_report(args.image):
        print(line)
    with tempfile.TemporaryDirectory() as credentials:
        os.chmod(credentials, 0o755)
        os.mkdir(os.path.join(credentials, "tls"), 0o755)
        for name in ("tls.crt", "tls.key", "ca.crt"):
            target = os.path.join(credentials, "tls", name)
            target_path = pathlib.Path(target)
            target_path.write_bytes((pki() / "server-tls" / name).read_bytes())
            os.chmod(target, 0o644)
        holder: dict = {}

        def process_start() -> Callable[[], int]:
            holder["process"] = start_process(credentials)
            return lambda: holder["process"].pid

        def process_stop() -> None:
            holder["process"].terminate()
            holder["process"].wait()

        host = measure(process_start, process_stop, args.rounds, args.calls)
        contained = measure(lambda: start_container(args.image, credentials), stop_container, args.rounds, args.calls)
    print("mock backend, mTLS, median of %d starts; RSS after %d Describe calls" % (args.rounds, args.calls))
    print("  %-28s %8s %10s %10s" % ("", "ready", "RSS idle", "RSS after"))
    for label, found in (("host process (baseline)", host), ("container, locked down", contained)):
        print("  %-28s %6.2f s %7.1f MB %7.1f MB" % (label, found["ready"], found["idle"], found["busy"]))
    print("  container / host: ready %.2fx, RSS after the calls %.2fx" % (
        contained["ready"] / host["ready"], contained["busy"] / host["busy"]))
    benchlib.figure("runtime container ready", contained["ready"], "s", host["ready"], "host process",
                    "<= 2 s", contained["ready"] <= 2)
    benchlib.figure("runtime container RSS after %d Describe calls" % args.calls, contained["busy"], "MB",
                    host["busy"], "host process", "<= 120 MB", contained["busy"] <= 120)
    print("  goals: ready in at most 2 s (%s), RSS at most 120 MB after the calls (%s)" % (
        "met" if contained["ready"] <= 2 else "missed", "met" if contained["busy"] <= 120 else "missed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
