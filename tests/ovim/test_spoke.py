# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every implemented operation by pull and by push, repeated; the hub away; SIGTERM; bad settings."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from typing import Any, Optional

import pytest

from .conftest import BACKENDS, HUB, HUB_CA, TOKEN, Spoke, call, control, results_for, wait_for


def _name(prefix: str) -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def _payload(spoke: Spoke, name: str) -> dict:
    backend = BACKENDS[spoke.backend]
    payload = {"name": name, "namespace": backend["namespace"], "template_name": "base", "cpu": 1,
               "memory": "256Mi", "storage": backend["storage"], "labels": {"app": "ovim-test"}, "annotations": {}}
    if backend.get("network"):
        payload["network_name"] = backend["network"]
    return payload


def _run(spoke: Spoke, via: str, kind: str, payload: dict) -> dict:
    """One operation by pull or by push; its one result."""
    op_id = "op-%s" % uuid.uuid4().hex
    operation = {"id": op_id, "type": kind, "payload": payload}
    if via == "pull":
        control("/enqueue", {"agent_id": spoke.agent_id, "operations": [operation]})
    else:
        answer = control("/push", {"agent_id": spoke.agent_id, "operation": operation, "token": TOKEN})
        assert answer["status"] == 200, answer
    found = wait_for("the result of %s %s" % (kind, op_id), lambda: results_for({op_id}))
    assert len(found) == 1, found
    return found[0]


def _completed(result: dict) -> dict:
    assert result["status"] == "completed", result.get("error")
    assert isinstance(result["duration"], int)
    return result.get("result") or {}


@pytest.mark.parametrize("via", ["pull", "push"])
def test_vm_lifecycle(spoke: Spoke, via: str) -> None:
    name = _name("ovim-%s" % via)
    payload = _payload(spoke, name)
    target = {"name": name, "namespace": payload["namespace"]}
    first = _completed(_run(spoke, via, "create_vm", payload))
    assert first["created"] is True and first["vm"]["status"] == "running"
    again = _completed(_run(spoke, via, "VMCreate", payload))
    assert again["created"] is False and again["vm"]["id"] == first["vm"]["id"]
    assert _completed(_run(spoke, via, "get_vm_status", target))["vm"]["labels"] == {"app": "ovim-test"}
    assert _completed(_run(spoke, via, "stop_vm", target))["vm"]["status"] == "stopped"
    assert _completed(_run(spoke, via, "VMStop", target))["changed"] is False
    assert _completed(_run(spoke, via, "start_vm", target))["vm"]["status"] == "running"
    listed = _completed(_run(spoke, via, "list_vms", {"namespace": payload["namespace"]}))
    assert [vm["id"] for vm in listed["vms"] if vm["name"] == name] == [first["vm"]["id"]]
    assert _completed(_run(spoke, via, "delete_vm", target))["deleted"] is True
    assert _completed(_run(spoke, via, "VMDelete", target))["deleted"] is False
    missing = _run(spoke, via, "get_vm_status", target)
    assert missing["status"] == "failed" and "not found" in missing["error"]


@pytest.mark.parametrize("via", ["pull", "push"])
def test_agent_operations(spoke: Spoke, via: str) -> None:
    health = _completed(_run(spoke, via, "get_health", {}))
    assert health["state"] == "Healthy" and health["backend_ok"] is True
    assert "operations" in _completed(_run(spoke, via, "get_metrics", {}))
    assert _completed(_run(spoke, via, "ConfigUpdate", {"report_interval": "4s", "log_level": "debug"})) == {
        "report_interval_seconds": 4.0, "log_level": "debug"}
    refused = _run(spoke, via, "ConfigUpdate", {"hub_endpoint": "https://elsewhere"})
    assert refused["status"] == "failed" and "hub_endpoint" in refused["error"]
    assert _completed(_run(spoke, via, "TemplateSync", {}))["templates"] == ["base"]
    unknown = _run(spoke, via, "reboot_the_world", {})
    assert unknown["status"] == "failed" and "unknown operation type 'reboot_the_world'" in unknown["error"]
    bad = _run(spoke, via, "create_vm", dict(_payload(spoke, _name("ovim-bad")), template_name="nope"))
    assert bad["status"] == "failed" and "template_name" in bad["error"]


def test_colliding_ids_both_run(spoke: Spoke) -> None:
    """Two operations queued in the same second share an id: both run and both results are posted."""
    two = [{"type": "get_health"}, {"type": "get_metrics"}]
    made = control("/enqueue", {"agent_id": spoke.agent_id, "operations": two})
    assert made[0]["id"] == made[1]["id"]
    before = len(results_for({made[0]["id"]}))
    found = wait_for("both results", lambda: len(results_for({made[0]["id"]})) >= before + 2)
    assert found


def test_push_needs_the_token(spoke: Spoke) -> None:
    answer = control("/push", {"agent_id": spoke.agent_id, "operation": {"type": "get_health"}})
    assert answer["status"] == 401
    wrong = call(spoke.url + "/operations", {"id": "x", "type": "get_health"}, headers={"Authorization": "Bearer no"})
    assert wrong[0] == 401


def test_report_content(spoke: Spoke) -> None:
    """Cluster metrics from nodes and pods on Kubernetes (the test bed serves no metrics.k8s.io), else said why not."""
    report = wait_for("a report", lambda: [
        r for r in control("/state")["reports"] if r["agent_id"] == spoke.agent_id])[-1]
    if spoke.backend == "kubevirt":
        assert report["metrics"]["cluster_id"] == "cluster-kubevirt"
        assert "node_count" in report["metrics"]["resources"]
        assert any("metrics.k8s.io" in error for error in report["errors"])
    else:
        assert report["metrics"] is None and any("Kubernetes" in error for error in report["errors"])


def test_local_api(spoke: Spoke) -> None:
    assert call(spoke.url + "/health/live")[0] == 200
    assert call(spoke.url + "/health")[1]["status"] == "healthy"
    assert call(spoke.url + "/status")[1]["agent_id"] == spoke.agent_id
    status, text = call(spoke.url + "/metrics")
    assert status == 200 and "ovim_spoke_operations_total" in text and "ovim_spoke_agent_state" in text
    reports = [r for r in control("/state")["reports"] if r["agent_id"] == spoke.agent_id]
    assert reports[-1]["callback_url"] == spoke.url and reports[-1]["zone_id"] == "cluster-" + spoke.backend


def test_hub_down_at_start_then_up() -> None:
    control("/mode", {"mode": "down"})
    agent = Spoke(os.environ.get("OVIM_TEST_BACKENDS", "kubevirt").split()[0])
    try:
        wait_for("the agent to try the hub", lambda: agent.status()["state"] == "Connecting")
        assert call(agent.url + "/health/ready")[0] == 503
        control("/mode", {"mode": "up"})
        wait_for("the agent to register", agent.registered)
    finally:
        control("/mode", {"mode": "up"})
        assert agent.stop() == 0


def test_results_kept_while_hub_away(spoke: Spoke) -> None:
    """Results made while the hub answers 500, then is down, all arrive once it is back: none lost, none doubled."""
    ids = set()
    try:
        for mode in ("error", "down"):
            control("/mode", {"mode": mode})
            for dummy in range(3):
                op_id = "op-%s" % uuid.uuid4().hex
                ids.add(op_id)
                answer = control("/push", {"agent_id": spoke.agent_id, "token": TOKEN,
                                           "operation": {"id": op_id, "type": "get_health"}})
                assert answer["status"] == 200, answer
        wait_for("six results pending", lambda: spoke.status()["results_pending"] >= 6)
        assert spoke.status()["state"] in ("Disconnected", "Connecting")
    finally:
        control("/mode", {"mode": "up"})
    wait_for("the kept results", lambda: len(results_for(ids)) >= 6)
    found = results_for(ids)
    assert sorted(r["path_id"] for r in found) == sorted(ids)
    assert wait_for("the agent to be healthy", lambda: spoke.status()["state"] == "Healthy")


def test_sigterm_posts_in_flight_results() -> None:
    agent = Spoke(os.environ.get("OVIM_TEST_BACKENDS", "kubevirt").split()[0])
    wait_for("the agent to register", agent.registered)
    op_id = "op-%s" % uuid.uuid4().hex
    control("/enqueue", {"agent_id": agent.agent_id, "operations": [{"id": op_id, "type": "list_vms"}]})
    wait_for("the agent to take it", lambda: agent.status()["operations"] or agent.status()["queue_depth"])
    assert agent.stop() == 0
    assert len(results_for({op_id})) == 1


def test_killed_mid_create_runs_it_again() -> None:
    """SIGKILL while a create runs: the restarted agent runs it again from its journal, one VM, one result."""
    backend = os.environ.get("OVIM_TEST_BACKENDS", "kubevirt").split()[0]
    journal = tempfile.mkdtemp(prefix="ovim-journal-")
    agent = Spoke(backend, {"OVIM_JOURNAL_DIR": journal})
    wait_for("the agent to register", agent.registered)
    name = _name("ovim-killed")
    op_id = "op-%s" % uuid.uuid4().hex
    answer = control("/push", {"agent_id": agent.agent_id, "token": TOKEN,
                               "operation": {"id": op_id, "type": "create_vm", "payload": _payload(agent, name)}})
    assert answer["status"] == 200 and os.listdir(journal)
    agent.kill()
    again = Spoke(backend, {"OVIM_JOURNAL_DIR": journal}, agent_id=agent.agent_id)
    try:
        result = _completed(wait_for("the result after the restart", lambda: results_for({op_id}))[0])
        listed = _completed(_run(again, "push", "list_vms", {"namespace": _payload(again, name)["namespace"]}))
        assert [vm["id"] for vm in listed["vms"] if vm["name"] == name] == [result["vm"]["id"]]
        assert len(results_for({op_id})) == 1
        wait_for("the journal to empty", lambda: not os.listdir(journal))
        target = {"name": name, "namespace": _payload(again, name)["namespace"]}
        assert _completed(_run(again, "push", "delete_vm", target))["deleted"] is True
    finally:
        assert again.stop() == 0


BAD_SETTINGS = [
    ("OVIM_AGENT_ID", ""), ("OVIM_AGENT_ID", "spaces are bad"), ("OVIM_CLUSTER_ID", ""),
    ("OVIM_HUB_ENDPOINT", ""), ("OVIM_HUB_ENDPOINT", "ftp://hub"), ("OVIM_HUB_TLS_INSECURE", "maybe"),
    ("OVIM_HUB_CA_PATH", "/nonexistent/ca.crt"), ("OVIM_HUB_CLIENT_CERT", "/nonexistent/c.crt"),
    ("OVIM_LOG_LEVEL", "loud"), ("OVIM_METRICS_ENABLED", "sometimes"), ("OVIM_HEALTH_CHECK_INTERVAL", "0"),
    ("OVIM_REPORT_INTERVAL", "-5"), ("OVIM_API_PORT", "70000"), ("OVIM_PROVIDER_TYPE", "hyperv"),
    ("OVIM_TEMPLATE_CATALOGUE", "{not json"), ("OVIM_PUSH_AUTH", "maybe"),
    ("OVIM_HUB_PROTOCOL", "http" if HUB.startswith("https:") else "https"),
    ("OVIM_JOURNAL_DIR", "/nonexistent/journal"), ("OVIM_CONFIG_FILE", "/nonexistent/spoke.yaml"),
]


@pytest.mark.parametrize("variable,value", BAD_SETTINGS, ids=["%s=%s" % case for case in BAD_SETTINGS])
def test_bad_setting_refused_by_name(variable: str, value: str) -> None:
    env = dict(os.environ, OVIM_AGENT_ID="a", OVIM_CLUSTER_ID="c", OVIM_HUB_ENDPOINT=HUB, OVIM_HUB_TOKEN=TOKEN,
               OVIM_PROVIDER_TYPE="mock")
    env[variable] = value
    done = subprocess.run([sys.executable, "-m", "virtrigaud_runtime", "spoke"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and variable in lines[0], lines
    assert TOKEN not in lines[0]


@pytest.mark.parametrize("via", ["pull", "push"])
def test_vdc_lifecycle(spoke: Spoke, via: str) -> None:
    """A VDC is a namespace with a quota, limits and a default-deny policy; its results carry the hub's statuses."""
    if spoke.backend != "kubevirt":
        refused = _run(spoke, via, "VDCCreate", {"vdc_name": "x", "target_namespace": "vdc-x"})
        assert refused["status"] == "failed" and "kubevirt" in refused["error"]
        return
    name = _name("vdc-%s" % via)
    payload = {"vdc_name": name, "vdc_namespace": "org-acme", "target_namespace": "vdc-org-acme-" + name,
               "organization": "acme", "zone_id": "cluster-kubevirt", "display_name": "Team A",
               "description": "a test VDC", "quota": {"cpu": 4, "memory": 8, "storage": 100},
               "network_policy": "default"}
    created = _completed(_run(spoke, via, "create_vdc", payload))
    assert created["status"] == "legacy_created" and created["created"] is True
    again = _completed(_run(spoke, via, "VDCCreate", payload))
    assert again["status"] == "legacy_created" and again["created"] is False
    report = wait_for("the VDC in a report", lambda: [
        vdc for r in control("/state")["reports"] if r["agent_id"] == spoke.agent_id
        for vdc in r["vdcs"] if vdc["namespace"] == payload["target_namespace"]])
    assert report[-1]["resource_usage"]["cpu_capacity"] == 4000
    assert report[-1]["resource_usage"]["memory_capacity"] == 8 * 1024 ** 3
    bad = _run(spoke, via, "create_vdc", dict(payload, network_policy="sometimes"))
    assert bad["status"] == "failed" and "network_policy" in bad["error"]
    foreign = _run(spoke, via, "delete_vdc", {"target_namespace": "kube-system"})
    assert foreign["status"] == "failed" and "not OVIM's" in foreign["error"]
    assert _completed(_run(spoke, via, "delete_vdc", payload))["status"] == "legacy_deleted"
    gone = _completed(_run(spoke, via, "VDCDelete", payload))
    assert gone["status"] == "deleted_with_warnings" and gone["warnings"]


def _to_hub(path: str, body: Any = None, headers: Optional[dict] = None) -> int:
    """One call straight to the fake hub (as a spoke would make it, or not); its HTTP status."""
    context = ssl.create_default_context(cafile=HUB_CA) if HUB.startswith("https:") else None
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(HUB + path, data=data, headers=dict(headers or {}, **{
        "Content-Type": "application/json"}), method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_fake_hub_is_strict() -> None:
    """What the hub's code refuses, the fake hub refuses too, so that the agent's passing tests mean something."""
    spoke = {"X-Agent-ID": "strict", "X-Cluster-ID": "c", "X-Zone-ID": "c"}
    good = dict(spoke, Authorization="Bearer " + TOKEN)
    pull = "/api/v1/spoke/operations?agent_id=strict"
    assert _to_hub(pull, headers={"Authorization": "Bearer " + TOKEN}) == 401
    assert _to_hub(pull, headers=dict(spoke, Authorization="Bearer wrong")) == 401
    assert _to_hub(pull, headers=good) == 204
    report = {"agent_id": "strict", "cluster_id": "c", "zone_id": "c", "status": "healthy", "version": "1",
              "metrics": None, "vdcs": [], "vms": [], "last_hub_contact": "2026-11-30T05:00:00Z",
              "report_time": "2026-11-30T05:00:00Z"}
    assert _to_hub("/api/v1/spoke/status", report, good) == 200
    assert _to_hub("/api/v1/spoke/status", dict(report, report_time="2026-11-30T05:00:00"), good) == 400
    done = {"operation_id": "op-x", "status": "completed", "timestamp": "2026-11-30T05:00:00Z", "duration": 1000}
    assert _to_hub("/api/v1/spoke/operations/op-x/result", done, good) == 200
    assert _to_hub("/api/v1/spoke/operations/op-x/result", dict(done, duration=0.5), good) == 400


def test_a_slow_hub_is_waited_for(spoke: Spoke) -> None:
    try:
        control("/mode", {"mode": "slow", "delay": 0.5})
        assert _completed(_run(spoke, "pull", "get_health", {}))["hub_endpoint"] == HUB
    finally:
        control("/mode", {"mode": "up"})
