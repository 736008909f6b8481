# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_spoke_info through ansible against a running spoke: its answer agrees with the local API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Kube, KubeConfig

from .conftest import KUBECONFIG, Spoke, call, wait_for


def _tree() -> str:
    return next(path for path in sys.path if os.path.isdir(os.path.join(path, "ansible_collections", "virtrigaud")))


def run_info(args: dict[str, Any]) -> dict[str, Any]:
    """One ad-hoc run of the module on localhost; its result."""
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_tree(), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_NOCOLOR="1")
    done = subprocess.run([ansible if os.path.exists(ansible) else "ansible", "localhost", "-c", "local", "-o",
                           "-e", "ansible_python_interpreter=%s" % sys.executable,
                           "-m", "virtrigaud.core.virtrigaud_spoke_info", "-a", json.dumps(args)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    # One line per host: "localhost | SUCCESS => {...}" or "localhost | FAILED! => {...}".
    line = next((line for line in done.stdout.splitlines() if line.startswith("localhost | ")), "")
    try:
        return dict(json.loads(line.split(" => ", 1)[1]), failed=line.startswith("localhost | FAILED"))
    except (ValueError, IndexError):
        raise AssertionError("ansible said: %s %s" % (done.stdout[-2000:], done.stderr[-2000:])) from None


def test_spoke_info_agrees_with_the_local_api(spoke: Spoke) -> None:
    wait_for("an idle queue", lambda: spoke.status()["queue_depth"] == 0)
    answer = run_info({"url": spoke.url})
    status = spoke.status()
    info = answer["spoke"]
    assert answer["changed"] is False and not answer.get("failed")
    assert info["agent_id"] == spoke.agent_id and info["cluster_id"] == "cluster-" + spoke.backend
    assert info["state"] == "Healthy" and info["status"] == "healthy" and info["ready"] is True
    assert info["last_hub_contact"] and info["last_hub_contact"].endswith(("Z", "+00:00"))
    assert info["queue_depth"] == 0 and info["results_pending"] == 0 and info["metrics_enabled"] is True
    counted = {key: value for key, value in status["operations"].items() if value}
    assert {"%s/%s" % (kind, outcome): count for kind, by_outcome in info["operations"].items()
            for outcome, count in by_outcome.items() if count} == counted
    assert info["operations_total"]["completed"] == sum(
        value for key, value in counted.items() if key.endswith("/completed"))
    assert call(spoke.url + "/health/ready")[0] == 200


def test_spoke_info_refuses_and_names() -> None:
    bad = run_info({"url": "ftp://127.0.0.1:8080"})
    assert bad["failed"] and "url" in bad["msg"]
    gone = run_info({"url": "http://127.0.0.1:1", "timeout": 2})
    assert gone["failed"] and "http://127.0.0.1:1" in gone["msg"] and gone.get("error_code") == "unavailable"
    zero = run_info({"url": "http://127.0.0.1:1", "timeout": 0})
    assert zero["failed"] and "timeout" in zero["msg"]


def _host_address() -> str:
    """An address of this host that an Endpoints object may hold (not loopback); no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return probe.getsockname()[0]


def _stand_in_pod(kube: Kube, namespace: str, port: int) -> None:
    """What the role's Deployment and an endpoints controller would leave (the test bed runs neither): a pod at
    this host's address, the agent's Service, and its Endpoints naming the pod, as the API server's proxy checks."""
    base = "/api/v1/namespaces/%s" % namespace
    address = _host_address()
    kube.request("POST", base + "/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                     "metadata": {"name": "default"}})
    kube.request("POST", base + "/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "spoke-0"},
                                          "spec": {"containers": [{"name": "spoke", "image": "stand-in"}]}})
    kube.request("PATCH", base + "/pods/spoke-0/status", {"status": {"podIP": address, "podIPs": [{"ip": address}]}},
                 content_type="application/merge-patch+json")
    meta = {"name": "ovim-spoke-agent", "namespace": namespace}
    kube.request("POST", base + "/services", {"apiVersion": "v1", "kind": "Service", "metadata": meta,
                                              "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": port}]}})
    kube.request("POST", base + "/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": meta,
        "subsets": [{"addresses": [{"ip": address, "targetRef": {"kind": "Pod", "name": "spoke-0",
                                                                 "namespace": namespace}}],
                     "ports": [{"name": "http", "port": port}]}]})


def test_spoke_info_by_namespace(spoke: Spoke) -> None:
    """By the Deployment's namespace: the agent's Service found there, the agent read through the API server's
    proxy."""
    if spoke.backend != "kubevirt":
        return
    namespace = "ovim-info-%s" % uuid.uuid4().hex[:6]
    kube = Kube(KubeConfig(kubeconfig=KUBECONFIG))
    try:
        kube.request("POST", "/api/v1/namespaces",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        missing = run_info({"namespace": namespace, "kubeconfig": KUBECONFIG})
        assert missing["failed"] and "no Service ovim-spoke-agent in namespace %s" % namespace in missing["msg"]
        _stand_in_pod(kube, namespace, spoke.port)
    finally:
        kube.close()
    wait_for("an idle queue", lambda: spoke.status()["queue_depth"] == 0)
    answer = run_info({"namespace": namespace, "kubeconfig": KUBECONFIG})
    assert not answer.get("failed"), answer.get("msg")
    assert answer["spoke"]["agent_id"] == spoke.agent_id and answer["spoke"]["ready"] is True
    assert answer["spoke"]["operations"] == run_info({"url": spoke.url})["spoke"]["operations"]
    both = run_info({"namespace": namespace, "url": spoke.url})
    assert both["failed"] and "mutually exclusive" in both["msg"]
