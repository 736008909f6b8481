# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KubeVirt mapping: spec → VirtualMachine, KubeVirt's admission rules, VM + VMI → observed, API errors."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import dropped_fields
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import NicChange, Reconfiguration
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt import (
    checks,
    reconfiguration,
    snapshots,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt import translate as kv
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import DiskSpec, NetworkSpec, parse_vm

PLACEMENT = checks.Placement(namespace="apps", storage_class="fast")


def spec(**params):
    return parse_vm(dict({"name": "web-1", "cpu": 2, "memory": "1Gi"}, **params))


def template(vm):
    return vm["spec"]["template"]["spec"]


@pytest.mark.parametrize("image, expected", [
    ("quay.io/containerdisks/debian:12", checks.Image(container="quay.io/containerdisks/debian:12")),
    ("docker://debian:12", checks.Image(container="debian:12")),
    ("localhost/disk:1", checks.Image(container="localhost/disk:1")),
    ("debian-12", checks.Image(pvc="debian-12", namespace="apps")),
    ("golden/debian-12", checks.Image(pvc="debian-12", namespace="golden")),
    ("pvc:golden/debian-12", checks.Image(pvc="debian-12", namespace="golden")),
])
def test_images_are_container_disks_or_pvcs(image, expected):
    assert checks.parse_image(image, "apps") == expected


def test_an_image_that_is_neither_names_the_option():
    with pytest.raises(errors.SpecError) as caught:
        checks.parse_image("Not_A/Name", "apps")
    assert caught.value.option == "image"


def test_a_new_vm_is_stopped_with_sockets_memory_headroom_and_data_volumes():
    vm = kv.vm_manifest(spec(disk_defaults={"size": "20Gi"}, disks=[{"name": "data", "size": "5Gi"}],
                             tags=["web", "has space"]), PLACEMENT, checks.Image(pvc="debian", namespace="golden"), 20)
    domain = template(vm)["domain"]
    assert vm["spec"]["runStrategy"] == "Halted" and "running" not in vm["spec"]
    assert domain["cpu"] == {"sockets": 2, "cores": 1, "threads": 1, "maxSockets": 8}
    assert domain["memory"] == {"guest": "1Gi", "maxGuest": "4Gi"}
    root, data = vm["spec"]["dataVolumeTemplates"]
    assert root["metadata"]["name"] == "web-1-root" and root["spec"]["source"] == {
        "pvc": {"namespace": "golden", "name": "debian"}}
    assert root["spec"]["storage"] == {"resources": {"requests": {"storage": "20Gi"}}, "storageClassName": "fast"}
    assert data["spec"]["source"] == {"blank": {}} and data["metadata"]["labels"][kv.VM_LABEL] == "web-1"
    assert [v["name"] for v in template(vm)["volumes"]] == ["root", "data"]
    assert vm["metadata"]["labels"]["tag.virtrigaud.io/web"] == "true"
    assert "tag.virtrigaud.io/has space" not in vm["metadata"]["labels"]
    assert json.loads(vm["metadata"]["annotations"][kv.TAGS_ANNOTATION]) == ["has space", "web"]
    assert kv.admission_errors(vm) == []


def test_nics_use_masquerade_on_the_pod_network_and_bridge_on_multus():
    vm = kv.vm_manifest(spec(networks=[{"name": "lan", "network": "pod"},
                                       {"name": "storage", "network": "infra/storage-net",
                                        "mac_address": "02:00:00:00:00:01", "model": "e1000e"}]),
                        PLACEMENT, checks.Image(container="quay.io/x/y:1"), None)
    lan, storage = template(vm)["domain"]["devices"]["interfaces"]
    assert lan == {"name": "lan", "model": "virtio", "masquerade": {}}
    assert storage == {"name": "storage", "model": "e1000e", "macAddress": "02:00:00:00:00:01", "bridge": {}}
    assert template(vm)["networks"] == [{"name": "lan", "pod": {}},
                                        {"name": "storage", "multus": {"networkName": "infra/storage-net"}}]


def test_cloud_init_lives_in_a_secret_owned_by_the_vm():
    wanted = spec(cloud_init={"user_data": "#cloud-config\npassword: canary\n", "network_config": "version: 2\n",
                              "meta_data": "local-hostname: web-one\n"})
    vm = kv.vm_manifest(wanted, PLACEMENT, None, None)
    volume = template(vm)["volumes"][-1]
    assert volume == {"name": "cloudinit", "cloudInitNoCloud": {"secretRef": {"name": "web-1-cloudinit"},
                                                                "networkDataSecretRef": {"name": "web-1-cloudinit"}}}
    assert "canary" not in json.dumps(vm) and template(vm)["hostname"] == "web-one"
    secret = kv.cloud_init_secret(wanted, "apps", {"metadata": {"name": "web-1", "uid": "u-1"}})
    assert base64.b64decode(secret["data"]["userdata"]).decode() == "#cloud-config\npassword: canary\n"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_firmware_and_instancetypes():
    efi = kv.vm_manifest(spec(firmware="uefi"), PLACEMENT, None, None)
    assert template(efi)["domain"]["firmware"] == {"bootloader": {"efi": {"secureBoot": False}}}
    typed = checks.Placement("apps", instancetype=checks.class_ref("u1.medium", "instancetype"),
                             preference=checks.class_ref("virtualmachinepreference/debian", "preference"))
    vm = kv.vm_manifest(parse_vm({"name": "web-1"}), typed, None, None)
    assert vm["spec"]["instancetype"] == {"kind": "VirtualMachineClusterInstancetype", "name": "u1.medium"}
    assert vm["spec"]["preference"] == {"kind": "VirtualMachinePreference", "name": "debian"}
    assert "cpu" not in template(vm)["domain"] and "memory" not in template(vm)["domain"]


@pytest.mark.parametrize("params, placement, image, option", [
    ({"name": "Web_1"}, PLACEMENT, None, "name"),
    ({"networks": [{"name": "lan", "bridge": "br0"}]}, PLACEMENT, None, "networks[0].bridge"),
    ({"networks": [{"name": "lan", "ip_address": "192.0.2.1"}]}, PLACEMENT, None, "networks[0].ip_address"),
    ({"networks": [{"name": "lan", "model": "vmxnet3"}]}, PLACEMENT, None, "networks[0].model"),
    ({"placement": {"folder": "x"}}, PLACEMENT, None, "placement.folder"),
    ({"disks": [{"name": "d", "size": 1, "type": "ssd"}]}, PLACEMENT, None, "disks[0].type"),
    ({"cpu": 2}, checks.Placement("apps", instancetype={"kind": "K", "name": "u1"}), None, "cpu"),
    ({"disk_defaults": {"size": "5Gi"}}, PLACEMENT, checks.Image(container="quay.io/a/b:1"), "disk_defaults.size"),
    ({"cloud_init": {"meta_data": "instance-id: x\n"}}, PLACEMENT, None, "cloud_init.meta_data"),
])
def test_what_kubevirt_cannot_do_is_refused_by_option(params, placement, image, option):
    with pytest.raises(errors.SpecError) as caught:
        checks.check_spec(parse_vm(dict({"name": "web-1"}, **params)), placement, image)
    assert caught.value.option == option


def test_class_references_name_their_kind():
    assert checks.class_ref("virtualmachineclusterinstancetype/u1", "instancetype")["kind"] == \
        "VirtualMachineClusterInstancetype"
    with pytest.raises(errors.SpecError) as caught:
        checks.class_ref("flavor/u1", "instancetype")
    assert caught.value.option == "instancetype"


def _vm(**spec_fields):
    return {"metadata": {"name": "raw", "namespace": "apps"},
            "spec": dict({"template": {"spec": {"domain": {"devices": {"interfaces": [
                {"name": "lan", "masquerade": {}}]}}, "networks": [{"name": "lan", "pod": {}}]}}}, **spec_fields)}


def test_admission_rules_of_kubevirts_webhooks():
    assert kv.admission_errors(_vm(runStrategy="Always")) == []
    both = _vm(running=True, runStrategy="Always")
    assert kv.admission_errors(both)[0][0] == "spec.running"
    multus = _vm(runStrategy="Halted")
    multus["spec"]["template"]["spec"]["networks"] = [{"name": "lan", "multus": {"networkName": "x"}}]
    with pytest.raises(errors.SpecError) as caught:
        kv.check_admission(multus)
    assert caught.value.option == "spec.template.spec.domain.devices.interfaces[0].masquerade"


def test_fields_the_server_pruned_are_found():
    sent = {"a": {"b": 1, "c": [{"d": 1}]}, "e": 2}
    assert dropped_fields(sent, {"a": {"b": 1, "c": [{"d": 1}]}, "e": 2, "f": 3}, "spec") == []
    assert dropped_fields(sent, {"a": {"c": [{}]}, "e": 2}, "spec") == ["spec.a.b", "spec.a.c[0].d"]


def test_observed_from_the_vm_and_its_instance():
    vm = kv.vm_manifest(spec(disks=[{"name": "data", "size": "5Gi"}], tags=["web"],
                             networks=[{"name": "lan", "network": "pod"}]),
                        PLACEMENT, checks.Image(pvc="debian", namespace="apps"), 10)
    vm["metadata"]["uid"] = "u-1"
    vm["status"] = {"printableStatus": "Running", "created": True, "ready": True}
    vmi = {"status": {"phase": "Running", "nodeName": "node-1",
                      "conditions": [{"type": "AgentConnected", "status": "True"}],
                      "interfaces": [{"name": "lan", "mac": "02:AA:00:00:00:01",
                                      "ipAddresses": ["10.244.0.7", "fd10::7"]}]}}
    seen = kv.observed(vm, vmi)
    assert (seen.id, seen.power_state, seen.cpu, seen.memory_mib, seen.max_cpu, seen.max_memory_mib) == (
        "apps/web-1", "On", 2, 1024, 8, 4096)
    disks = [(d.name, d.size_gib, d.path) for d in seen.disks]
    assert disks == [("root", 10, "web-1-root"), ("data", 5, "web-1-data")]
    assert seen.nics[0].mac_address == "02:aa:00:00:00:01" and seen.ip_addresses == ("10.244.0.7",)
    assert seen.tags == ("web",) and seen.details["node"] == "node-1" and seen.details["guest_agent"]
    assert (seen.placement.datastore, seen.placement.host) == ("fast", None)


def test_instancetype_sizes_come_from_the_instancetype():
    vm = kv.vm_manifest(parse_vm({"name": "web-1"}), checks.Placement("apps", instancetype={"kind": "K", "name": "u1"}),
                        None, None)
    seen = kv.observed(vm, None, {"instancetype": {"cpu": {"guest": 4}, "memory": {"guest": "8Gi"}}})
    assert (seen.cpu, seen.memory_mib, seen.max_cpu, seen.power_state) == (4, 8192, None, "Off")
    assert seen.details["instancetype"] == "u1"


def test_reconfiguration_grows_claims_and_adds_disks_and_nics():
    vm = kv.vm_manifest(spec(disks=[{"name": "data", "size": "5Gi"}]), PLACEMENT, None, 10)
    change = Reconfiguration(cpu=3, memory_mib=1536, disk_sizes_gib={"data": 8},
                             add_disks=(DiskSpec("logs", 2),), add_networks=(NetworkSpec("san", network="san-net"),),
                             tags=("db",))
    updated, grow = reconfiguration.reconfigured(vm, change, "fast")
    domain = template(updated)["domain"]
    assert grow == {"web-1-data": 8}
    assert domain["cpu"]["sockets"] == 3 and domain["cpu"]["maxSockets"] == 12
    assert domain["memory"] == {"guest": "1536Mi", "maxGuest": "6Gi"}
    assert updated["spec"]["dataVolumeTemplates"][1]["spec"]["storage"]["resources"]["requests"]["storage"] == "8Gi"
    assert [d["name"] for d in domain["devices"]["disks"]] == ["root", "data", "logs"]
    assert domain["devices"]["interfaces"][-1] == {"name": "san", "model": "virtio", "bridge": {}}
    assert updated["metadata"]["labels"]["tag.virtrigaud.io/db"] == "true"
    live, dummy = reconfiguration.reconfigured(vm, Reconfiguration(cpu=3, live=True), "fast")
    assert template(live)["domain"]["cpu"]["maxSockets"] == 8
    assert reconfiguration.live_refusal(Reconfiguration(add_disks=(DiskSpec("x", 1),), live=True))
    assert reconfiguration.live_refusal(Reconfiguration(add_networks=(NetworkSpec("san", network="san-net"),))) is None


def test_snapshot_names_become_kubernetes_names_without_clashes():
    assert snapshots.snapshot_object_name("web-1", "before-change") == "web-1-before-change"
    assert (snapshots.snapshot_object_name("web-1", "Before_Change")
            != snapshots.snapshot_object_name("web-1", "before-change"))
    obj = snapshots.snapshot_object("web-1", "apps", "Before_Change", "why")
    obj["status"] = {"creationTime": "2026-01-01T00:00:00Z", "readyToUse": True}
    taken = snapshots.snapshots_of([obj, dict(obj, spec={"source": {"name": "other"}})], "web-1")
    assert [(s.name, s.description, s.created, s.has_memory) for s in taken] == [
        ("Before_Change", "why", "2026-01-01T00:00:00Z", False)]


def _status(code, reason, message, causes=()):
    return json.dumps({"kind": "Status", "code": code, "reason": reason, "message": message,
                       "details": {"causes": list(causes)}}).encode()


def test_api_errors_map_onto_the_taxonomy():
    message = ('virtualmachineinstances.kubevirt.io is forbidden: User "system:serviceaccount:apps:vr" cannot list '
               'resource "virtualmachineinstances" in API group "kubevirt.io" in the namespace "apps"')
    forbidden = kv.translate_error(403, _status(403, "Forbidden", message), "list virtualmachineinstances in apps")
    assert isinstance(forbidden, errors.PermissionDeniedError)
    assert "may not list virtualmachineinstances.kubevirt.io in namespace apps" in forbidden.msg
    assert forbidden.details["verb"] == "list"
    invalid = kv.translate_error(422, _status(422, "Invalid", "bad", [{"field": "spec.runStrategy"}]), "create x")
    assert isinstance(invalid, errors.SpecError) and invalid.option == "spec.runStrategy"
    conflict = kv.translate_error(409, _status(409, "Conflict", "modified"), "update x")
    assert isinstance(conflict, errors.ConflictError) and conflict.retryable
    assert isinstance(kv.translate_error(409, _status(409, "AlreadyExists", "exists"), "x"),
                      errors.AlreadyExistsError)
    assert isinstance(kv.translate_error(404, b"", "get x"), errors.NotFoundError)
    assert isinstance(kv.translate_error(503, b"busy", "get x"), errors.UnavailableError)
    assert isinstance(kv.translate_error(401, b"", "get x"), errors.AuthenticationError)


def test_failures_of_snapshots_restores_and_clones_are_read_from_status():
    failed = {"phase": "Failed", "conditions": [{"message": "source gone"}]}
    assert snapshots.failure({"status": failed}) == "source gone"
    refused = {"conditions": [{"type": "Failure", "status": "True", "reason": "VMRunning"}]}
    assert snapshots.failure({"status": refused}) == "VMRunning"
    assert snapshots.failure({"status": {"readyToUse": True}}) is None


def test_nics_are_removed_and_changed_by_name():
    vm = kv.vm_manifest(spec(networks=[{"name": "lan", "network": "pod"},
                                       {"name": "san", "network": "san-a", "mac_address": "02:00:00:00:00:05"},
                                       {"name": "old", "network": "san-a"}]), PLACEMENT, None, None)
    change = Reconfiguration(remove_networks=("old",), change_networks=(
        NicChange(NetworkSpec("san", network="san-b"), ("network",)),
        NicChange(NetworkSpec("lan", network="pod", mac_address="02:00:00:00:00:09"), ("mac_address",))))
    updated, dummy = reconfiguration.reconfigured(vm, change, "fast")
    interfaces = template(updated)["domain"]["devices"]["interfaces"]
    assert [i["name"] for i in interfaces] == ["lan", "san"]
    assert interfaces[0]["macAddress"] == "02:00:00:00:00:09" and "masquerade" in interfaces[0]
    assert interfaces[1]["macAddress"] == "02:00:00:00:00:05" and "bridge" in interfaces[1]
    assert template(updated)["networks"] == [{"name": "lan", "pod": {}},
                                             {"name": "san", "multus": {"networkName": "san-b"}}]
    assert kv.admission_errors(updated) == []


@pytest.mark.parametrize("value, valid", [
    ("vr-multus", True), ("infra/storage-net", True), ("a.b-c", True), ("missing/../../etc", False),
    ("../x", False), ("missing'/><foo x='", False), ("Upper", False), ("a/b/c", False)])
def test_object_references_refuse_path_tricks(value, valid):
    assert checks.object_ref(value) is valid


@pytest.mark.parametrize("params, bootloader, features, secure", [
    ({"firmware": "uefi", "secure_boot": True}, {"efi": {"secureBoot": True}}, {"smm": {"enabled": True}}, True),
    ({"firmware": "uefi"}, {"efi": {"secureBoot": False}}, None, False),
    ({"firmware": "bios"}, {"bios": {}}, None, False),
])
def test_secure_boot_comes_with_the_smm_feature_kubevirt_requires(params, bootloader, features, secure):
    vm = kv.vm_manifest(spec(**params), PLACEMENT, checks.Image(container="quay.io/x/y:1"), None)
    domain = template(vm)["domain"]
    assert domain["firmware"]["bootloader"] == bootloader and domain.get("features") == features
    assert kv.admission_errors(vm) == [] and kv.observed(vm, None).secure_boot is secure


@pytest.mark.parametrize("efi, smm, refused", [
    ({}, None, True),  # secureBoot defaults to true
    ({"secureBoot": True}, {"enabled": False}, True),
    ({"secureBoot": True}, {}, False),  # an smm feature is enabled unless it says otherwise
    ({"secureBoot": False}, None, False),
])
def test_kubevirt_refuses_secure_boot_without_smm(efi, smm, refused):
    vm = _vm(runStrategy="Halted")
    domain = vm["spec"]["template"]["spec"]["domain"]
    domain["firmware"] = {"bootloader": {"efi": efi}}
    if smm is not None:
        domain["features"] = {"smm": smm}
    fields = [field for field, dummy in kv.admission_errors(vm)]
    assert fields == (["spec.template.spec.domain.features.smm"] if refused else [])
    assert kv.observed(vm, None).secure_boot is (efi.get("secureBoot", True))


def test_the_vnc_subresource_is_the_console_of_a_running_instance():
    access = kv.vnc_access("https://kube.example:6443", "apps", "web-1")
    assert access.url == ("https://kube.example:6443/apis/subresources.kubevirt.io/v1/namespaces/apps/"
                          "virtualmachineinstances/web-1/vnc")
    assert (access.host, access.port, access.password) == ("kube.example", 6443, None)
    assert access.websocket_url is not None and access.websocket_url.startswith("wss://kube.example:6443/apis/")
