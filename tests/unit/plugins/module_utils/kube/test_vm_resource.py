# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vm with provider_ref on an in-memory API: the VirtualMachine and its inline objects, leftovers
pruned, the deprecated ``resources`` alias beside ``objects``."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.vm import OWNER_LABEL
from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_vm as module
from ansible_collections.virtrigaud.core.tests.unit.plugins.module_utils.kube.fake_kube import FakeKube, run_module

PROVIDER = {"apiVersion": "infra.virtrigaud.io/v1beta1", "kind": "Provider",
            "metadata": {"name": "lab", "namespace": "apps"}, "spec": {"type": "libvirt"}}
ARGS = {"name": "web", "namespace": "apps", "provider_ref": {"name": "lab"}, "cpu": 1, "memory": "1Gi",
        "networks": [{"name": "lan", "network": "default"}], "wait": False}


def ready(obj):
    return dict(obj, status={"id": "vm-1", "powerState": "On", "ips": ["10.0.0.5"],
                             "conditions": [{"type": "Ready", "status": "True"}]})


def test_present_writes_the_inline_objects_then_the_vm():
    kube = FakeKube(PROVIDER)
    result = run_module(module, kube, ARGS, diff_mode=True)
    assert [(entry["kind"], entry["name"]) for entry in result["objects"]] == [
        ("VMClass", "web"), ("VMNetworkAttachment", "web-lan"), ("VirtualMachine", "web")]
    assert result["resources"] == [{"kind": entry["kind"], "name": entry["name"], "changed": True}
                                   for entry in result["objects"]]
    assert result["resource"]["spec"]["classRef"] == {"name": "web"}
    # The former diff (the VirtualMachine's own fields) stays beside the Kind/name keys.
    assert result["diff"]["after"]["spec"] == result["diff"]["after"]["VirtualMachine/web"]["spec"]
    assert {"VMClass/web", "VMNetworkAttachment/web-lan"} <= set(result["diff"]["after"])


def test_a_dropped_network_prunes_its_attachment():
    kube = FakeKube(PROVIDER)
    run_module(module, kube, ARGS)
    result = run_module(module, kube, dict(ARGS, networks=[]))
    assert [(entry["kind"], entry["changed"]) for entry in result["objects"]] == [
        ("VMClass", False), ("VirtualMachine", True), ("VMNetworkAttachment", True)]
    assert ("VMNetworkAttachment", "apps", "web-lan") not in kube.store


def test_wait_returns_the_vm_as_the_manager_reports_it():
    kube = FakeKube(PROVIDER, on_wait=ready)
    result = run_module(module, kube, dict(ARGS, wait=True, wait_for_ip_address=True, state="started"))
    assert result["vm"]["ip_addresses"] == ["10.0.0.5"]
    assert [call[-1] for call in kube.calls if call[0] == "wait_for"] == [
        "VirtualMachine apps/web to become Ready with an IP address"]


def test_check_mode_without_the_provider_predicts_and_a_real_run_refuses():
    kube = FakeKube()
    predicted = run_module(module, kube, ARGS, check_mode=True)
    assert predicted["changed"] and kube.store == {}
    assert run_module(module, kube, ARGS)["details"]["option"] == "provider_ref"


def test_absent_removes_the_vm_and_everything_it_owns():
    kube = FakeKube(PROVIDER)
    run_module(module, kube, ARGS)
    result = run_module(module, kube, dict(ARGS, state="absent"))
    assert [(entry["kind"], entry["changed"]) for entry in result["objects"]] == [
        ("VirtualMachine", True), ("VMClass", True), ("VMNetworkAttachment", True)]
    assert result["resource"] is None and result["vm"] is None
    assert not [key for key, obj in kube.store.items() if obj["metadata"].get("labels", {}).get(OWNER_LABEL)]


DOCUMENTS = [
    {"apiVersion": "infra.virtrigaud.io/v1beta1", "kind": "VirtualMachine",
     "metadata": {"name": "web", "namespace": "apps"},
     "spec": {"providerRef": {"name": "lab"}, "classRef": {"name": "small"}, "powerState": "On"}},
    {"apiVersion": "infra.virtrigaud.io/v1beta1", "kind": "VMClass", "metadata": {"name": "small"},
     "spec": {"cpu": 1, "memory": "1Gi", "performanceProfile": {"nestedVirtualization": True}}},
]


def test_a_definition_is_applied_as_written_the_referred_documents_first():
    kube = FakeKube(PROVIDER)
    args = {"definition": DOCUMENTS, "apply_to": "kubernetes", "wait": False}
    result = run_module(module, kube, args, diff_mode=True)
    assert [(entry["kind"], entry["name"], entry["namespace"]) for entry in result["objects"]] == [
        ("VMClass", "small", "apps"), ("VirtualMachine", "web", "apps")]
    # Written as given: Kubernetes mode refuses nothing the schema allows, such as a performance profile.
    assert kube.store[("VMClass", "apps", "small")]["spec"]["performanceProfile"] == {"nestedVirtualization": True}
    assert result["resource"]["spec"]["powerState"] == "On" and "VirtualMachine/web" in result["diff"]["after"]
    assert not run_module(module, kube, args)["changed"]
    removed = run_module(module, kube, dict(args, state="absent"))
    assert [(entry["kind"], entry["changed"]) for entry in removed["objects"]] == [
        ("VirtualMachine", True), ("VMClass", True)]
    assert kube.store == {("Provider", "apps", "lab"): kube.store[("Provider", "apps", "lab")]}


def test_a_definition_whose_provider_is_missing_is_refused_on_a_real_run():
    result = run_module(module, FakeKube(), {"definition": DOCUMENTS, "apply_to": "kubernetes", "wait": False})
    assert result["details"]["option"] == "definition" and "no Provider 'lab'" in result["msg"]


def test_a_definition_as_resources_refuses_what_only_a_backend_carries_out():
    args = {"definition": DOCUMENTS, "apply_to": "kubernetes", "wait": False}
    for option, value in (("placement_policy", {"spread": [{"max_skew": 1}]}), ("allow_migration", True),
                          ("allow_power_cycling", True), ("console", {"type": "vnc"})):
        kube = FakeKube(PROVIDER)
        result = run_module(module, kube, dict(args, **{option: value}))
        assert result["details"]["option"] == option, option
        assert "apply_to: kubernetes" in result["msg"] or option == "console", result["msg"]
        assert list(kube.store) == [("Provider", "apps", "lab")]
