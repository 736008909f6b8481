# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spoke agent as a real process against the fake hub (scripts/testbed/ovimhub.sh) and real backends.

The stage (scripts/test.sh ovim) starts the hub with a secret canary as its token, and the backends named
in OVIM_TEST_BACKENDS; every spoke's log goes to OVIM_TEST_LOGS, where the stage looks for the canary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable, Iterator, Optional

import pytest

HUB = os.environ.get("OVIM_FAKE_HUB", "https://127.0.0.1:18480")
HUB_CA = os.environ.get("OVIM_FAKE_HUB_CA", "")
CONTROL = os.environ.get("OVIM_FAKE_HUB_CONTROL", "http://127.0.0.1:18481")
TOKEN = os.environ.get("OVIM_FAKE_HUB_TOKEN", "spoke-agent-token")
LOGS = os.environ.get("OVIM_TEST_LOGS", "/tmp/ovim-test-logs")
CACHE = os.environ.get("VIRTRIGAUD_CACHE", os.path.expanduser("~/.cache/virtrigaud"))
KUBECONFIG = "/run/virtrigaud-testbed/kube-%s.kubeconfig" % os.environ.get("KUBE_APISERVER_PORT", "16443")
BACKENDS = {
    "kubevirt": {"env": {"OVIM_PROVIDER_TYPE": "kubevirt", "K8S_AUTH_KUBECONFIG": KUBECONFIG,
                         "OVIM_DEFAULT_NAMESPACE": "vr-kubevirt", "OVIM_BACKEND_STORAGE": "standin",
                         "OVIM_TEMPLATE_CATALOGUE": json.dumps({"base": "vr-base"})},
                 "namespace": "vr-kubevirt", "storage": "2Gi"},
    "libvirt": {"env": {"OVIM_PROVIDER_TYPE": "libvirt", "LIBVIRT_DEFAULT_URI": "qemu:///system",
                        "VIRTRIGAUD_LIBVIRT_DOMAIN_TYPE": "qemu", "LIBVIRT_STORAGE_POOL": "virtrigaud",
                        "OVIM_TEMPLATE_CATALOGUE": json.dumps({"base": "vr-tiny.qcow2"})},
                "namespace": "default", "storage": "1Gi", "network": "default"},
    # For a quick run while developing: the mock provider with its VMs in a file.
    "mock": {"env": {"OVIM_PROVIDER_TYPE": "mock", "VIRTRIGAUD_MOCK_URI": "mock://%s/ovim-mock.json" % LOGS,
                     "OVIM_TEMPLATE_CATALOGUE": json.dumps({"base": "base-image"})},
             "namespace": "default", "storage": "10Gi"},
}
_ports = iter(range(18500, 18600))


def call(url: str, body: Any = None, method: Optional[str] = None, headers: Optional[dict] = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    sent = dict(headers or {}, **{"Content-Type": "application/json"})
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
            status = answer.status
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text.decode()


def control(route: str, body: Any = None) -> Any:
    status, answer = call(CONTROL + route, body, "POST" if body is not None else "GET")
    assert status == 200, answer
    return answer


def wait_for(what: str, probe: Callable[[], Any], seconds: float = 90.0) -> Any:
    """A bound on waiting for something to happen, not a timing assertion."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("gave up waiting for %s" % what)


def results_for(ids: set) -> list:
    return [result for result in control("/state")["results"] if result["path_id"] in ids]


class Spoke:
    """One agent process; ``stop()`` sends SIGTERM and returns its exit status."""

    def __init__(self, backend: str, extra: Optional[dict] = None, agent_id: Optional[str] = None) -> None:
        self.backend = backend
        self.agent_id = agent_id or "spoke-%s-%s" % (backend, uuid.uuid4().hex[:6])
        self.port = next(_ports)
        self.url = "http://127.0.0.1:%d" % self.port
        os.makedirs(LOGS, exist_ok=True)
        self.log_path = os.path.join(LOGS, self.agent_id + ".log")
        env = dict(os.environ, OVIM_AGENT_ID=self.agent_id, OVIM_CLUSTER_ID="cluster-" + backend,
                   OVIM_HUB_ENDPOINT=HUB, OVIM_HUB_TOKEN=TOKEN, OVIM_HUB_CA_PATH=HUB_CA,
                   OVIM_API_ADDRESS="0.0.0.0", OVIM_API_PORT=str(self.port), OVIM_POLL_INTERVAL="0.5",
                   OVIM_REPORT_INTERVAL="5", OVIM_HEALTH_CHECK_INTERVAL="2", OVIM_LOG_LEVEL="debug",
                   **BACKENDS[backend]["env"], **(extra or {}))
        self.log = open(self.log_path, "ab")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen([sys.executable, "-m", "virtrigaud_runtime", "spoke"], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("the local API of %s" % self.agent_id, self.live)

    def live(self) -> bool:
        assert self.process.poll() is None, "the spoke exited with %s" % self.process.returncode
        try:
            return call(self.url + "/health/live")[0] == 200
        except urllib.error.URLError:
            return False

    def status(self) -> dict:
        return call(self.url + "/health/status")[1]

    def registered(self) -> bool:
        return any(report["agent_id"] == self.agent_id for report in control("/state")["reports"])

    def kill(self) -> None:
        """SIGKILL: no chance to answer anything."""
        self.process.kill()
        self.process.wait(30)
        self.log.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(60)
        finally:
            self.log.close()
        return code


@pytest.fixture(scope="session", params=os.environ.get("OVIM_TEST_BACKENDS", "kubevirt").split())
def spoke(request: pytest.FixtureRequest) -> Iterator[Spoke]:
    agent = Spoke(request.param)
    try:
        wait_for("%s to register with the hub" % agent.agent_id, agent.registered)
        wait_for("%s to be ready" % agent.agent_id, lambda: call(agent.url + "/health/ready")[0] == 200)
        yield agent
    finally:
        assert agent.stop() == 0, "the spoke did not exit 0 on SIGTERM"
