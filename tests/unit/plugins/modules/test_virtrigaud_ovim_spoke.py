# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_ovim_spoke's logic on an in-memory API: the objects in order, check mode before the namespace
exists, the token kept out of the result and the diff, and bad options refused by name before any write."""

from __future__ import annotations

import json

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import spoke
from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_ovim_spoke as module
from ansible_collections.virtrigaud.core.tests.unit.plugins.module_utils.kube.fake_kube import FakeKube, run_module

TOKEN = "canary-token-7f3a"
ARGS = {"namespace": "ovim-test", "image": "localhost/virtrigaud/provider-runtime:0.3.0", "agent_id": "spoke-a",
        "cluster_id": "east-1", "hub_endpoint": "https://hub.example:8443", "hub_token": TOKEN, "wait": False}
KINDS = ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "Service", "Deployment",
         "NetworkPolicy"]


def test_check_real_check_real():
    kube = FakeKube()
    predicted = run_module(module, kube, ARGS, check_mode=True, diff_mode=True)
    assert not [call for call in kube.writes() if not call[3]]
    done = run_module(module, kube, ARGS, diff_mode=True)
    again = run_module(module, kube, ARGS, check_mode=True)
    last = run_module(module, kube, ARGS)
    assert [predicted["changed"], done["changed"], again["changed"], last["changed"]] == [True, True, False, False]
    assert predicted["objects"] == done["objects"]
    assert [entry["kind"] for entry in done["objects"]] == KINDS
    assert predicted["deployment"]["spec"] == done["deployment"]["spec"]
    assert TOKEN not in json.dumps([predicted, done, again, last])
    assert done["diff"]["after"]["Secret/ovim-spoke-agent"] == {spoke.TOKEN_KEY: "changed"}


def test_the_deployment_runs_the_spoke_command_with_its_settings():
    result = run_module(module, FakeKube(), dict(ARGS, templates={"fedora": "quay.io/containerdisks/fedora:40"}))
    container = result["deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]}
    assert container["args"] == ["spoke"]
    assert env["OVIM_ZONE_ID"] == "east-1"
    assert env["OVIM_HUB_TOKEN"] == {"secretKeyRef": {"name": spoke.NAME, "key": spoke.TOKEN_KEY}}
    assert env["OVIM_CALLBACK_URL"] == "http://ovim-spoke-agent.ovim-test.svc:8080"
    assert json.loads(env["OVIM_TEMPLATE_CATALOGUE"]) == {"fedora": "quay.io/containerdisks/fedora:40"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"


def test_the_role_grants_no_snapshot_or_clone():
    groups = {group for rule in spoke.cluster_rules() for group in rule["apiGroups"]}
    assert not groups & {"snapshot.kubevirt.io", "clone.kubevirt.io"}
    assert {"kubevirt.io", "metrics.k8s.io", "networking.k8s.io"} <= groups


def test_dropping_the_network_policy_removes_it():
    kube = FakeKube()
    run_module(module, kube, ARGS)
    result = run_module(module, kube, dict(ARGS, network_policy=False))
    assert [(entry["kind"], entry["changed"]) for entry in result["objects"] if entry["changed"]] == [
        ("NetworkPolicy", True)]


def test_absent_keeps_the_namespace():
    kube = FakeKube()
    run_module(module, kube, ARGS)
    gone = run_module(module, kube, {"namespace": "ovim-test", "state": "absent"})
    again = run_module(module, kube, {"namespace": "ovim-test", "state": "absent"})
    assert gone["changed"] and not again["changed"]
    assert [key[0] for key in kube.store] == ["Namespace"]


@pytest.mark.parametrize("option, value", [
    ("namespace", "Not_A_Name"), ("agent_id", "-bad"), ("cluster_id", "a b"), ("zone_id", "x" * 70),
    ("hub_endpoint", "ftp://hub"), ("hub_endpoint", "https://user@hub"), ("hub_ca", "not a certificate"),
    ("report_interval", 0), ("network_policy_namespaces", ["Bad"]), ("image_pull_secrets", ["Bad_Name"]),
])
def test_bad_options_are_refused_by_name_before_any_write(option, value):
    kube = FakeKube()
    with pytest.raises(SpecError) as err:
        _run_raw(kube, dict(ARGS, **{option: value}))
    assert err.value.option.split("[")[0] == option
    assert not kube.writes()


def _run_raw(kube, args):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudRun

    validated = ArgumentSpecValidator(module.argument_spec(), **module.OPTION_RULES).validate(args)
    run = VirtrigaudRun(validated.validated_parameters, False, False, lambda text: None)
    run._kube = kube
    module.run(run)
