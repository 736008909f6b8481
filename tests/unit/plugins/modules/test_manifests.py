# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upstream manifests as ``definition``, run in-process on the mock provider, as Ansible would run them."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_image, virtrigaud_vm, virtrigaud_vm_snapshot

from .utils import run

API = "infra.virtrigaud.io/v1beta1"
MANIFEST = """
apiVersion: infra.virtrigaud.io/v1beta1
kind: VirtualMachine
metadata: {name: web}
spec:
  providerRef: {name: lab}
  classRef: {name: small}
  imageRef: {name: base}
  networks: [{name: lan, networkRef: {name: lan}}]
  disks: [{name: data, sizeGiB: 2}]
  powerState: "Off"
---
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMClass
metadata: {name: small}
spec: {cpu: 2, memory: 1Gi, diskDefaults: {size: 4Gi}}
---
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMImage
metadata: {name: base}
spec: {source: {libvirt: {path: base-image}}}
---
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMNetworkAttachment
metadata: {name: lan}
spec: {network: {libvirt: {networkName: default}, mtu: 1500}}
"""


def test_a_vm_manifest_converges_on_the_backend_twice(connection, capsys):
    args = dict(connection, definition=MANIFEST)
    predicted = run(virtrigaud_vm, capsys, args, check_mode=True)
    created = run(virtrigaud_vm, capsys, args)
    assert predicted["changes"] == created["changes"] and [c["action"] for c in created["changes"]] == ["create"]
    vm = created["vm"]
    assert (vm["name"], vm["cpu"], vm["memory_mib"], vm["power_state"]) == ("web", 2, 1024, "Off")
    assert [disk["name"] for disk in vm["disks"]] == ["root", "data"] and vm["nics"][0]["network"] == "default"
    assert not run(virtrigaud_vm, capsys, args, check_mode=True)["changed"]
    assert not run(virtrigaud_vm, capsys, args)["changed"]
    assert run(virtrigaud_vm, capsys, dict(args, state="absent"))["changed"]


def test_an_unquoted_on_is_refused_with_the_quoting(connection, capsys):
    failed = run(virtrigaud_vm, capsys, dict(connection, definition=MANIFEST.replace('"Off"', "off")))
    assert failed["failed"] and failed["error_code"] == "invalid_spec"
    assert "VirtualMachine 'web', field spec.powerState" in failed["msg"] and 'powerState: "Off"' in failed["msg"]


def test_what_the_api_server_refuses_is_refused_first_naming_the_field(connection, capsys):
    for wrong, field in (("sizeGiB: 2", "spec.disks[0].sizeGiB"), ("cpu: 2", "spec.cpu")):
        failed = run(virtrigaud_vm, capsys, dict(connection, definition=MANIFEST.replace(wrong, wrong[:-1] + "0")))
        assert failed["failed"] and field in failed["msg"] and "out of range" in failed["msg"], failed["msg"]
    unknown = run(virtrigaud_vm, capsys, dict(connection, definition=MANIFEST.replace("powerState", "power")))
    assert "field spec.power: unknown field" in unknown["msg"]


def test_flat_options_beside_a_definition_are_refused_by_name(connection, capsys):
    failed = run(virtrigaud_vm, capsys, dict(connection, definition=MANIFEST, cpu=4))
    assert failed["failed"] and "definition" in failed["msg"] and "cpu" in failed["msg"]
    alone = run(virtrigaud_vm, capsys, dict(connection, name="web", apply_to="kubernetes"))
    assert alone["failed"] and "apply_to" in alone["msg"] and "definition" in alone["msg"]
    started = run(virtrigaud_vm, capsys, dict(connection, definition=MANIFEST, state="started"))
    assert started["failed"] and "spec.powerState" in started["msg"] and "state" in started["msg"]


def test_a_field_not_carried_out_is_refused_unless_at_its_default(connection, capsys):
    lifecycle = MANIFEST.replace("  powerState", "  lifecycle: {gracefulShutdownTimeout: 90s}\n  powerState")
    failed = run(virtrigaud_vm, capsys, dict(connection, definition=lifecycle))
    assert failed["failed"] and "lifecycle.gracefulShutdownTimeout is not carried out" in failed["msg"]
    assert "'60s'" in failed["msg"]
    at_default = lifecycle.replace("90s", "60s")
    assert not run(virtrigaud_vm, capsys, dict(connection, definition=at_default), check_mode=True).get("failed")


def test_a_document_the_vm_does_not_refer_to_is_refused(connection, capsys):
    extra = MANIFEST + "---\napiVersion: %s\nkind: VMClass\nmetadata: {name: big}\nspec: {cpu: 8, memory: 8Gi}\n" % API
    failed = run(virtrigaud_vm, capsys, dict(connection, definition=extra))
    assert failed["failed"] and "VMClass 'big': VirtualMachine 'web' does not refer to it" in failed["msg"]


def test_a_vmsnapshot_manifest_is_taken_twice_then_removed(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, definition=MANIFEST))
    snapshot = {"apiVersion": API, "kind": "VMSnapshot", "metadata": {"name": "web-before"},
                "spec": {"vmRef": {"name": "web"}, "snapshotConfig": {"name": "before", "quiesce": True}}}
    args = dict(connection, definition=snapshot)
    predicted = run(virtrigaud_vm_snapshot, capsys, args, check_mode=True)
    taken = run(virtrigaud_vm_snapshot, capsys, args)
    assert predicted["changes"] == taken["changes"] and taken["snapshot"]["name"] == "before"
    assert not run(virtrigaud_vm_snapshot, capsys, args, check_mode=True)["changed"]
    assert not run(virtrigaud_vm_snapshot, capsys, args)["changed"]
    assert run(virtrigaud_vm_snapshot, capsys, dict(args, state="absent"))["changed"]
    scheduled = dict(snapshot, spec=dict(snapshot["spec"], schedule={"cronSpec": "@daily"}))
    failed = run(virtrigaud_vm_snapshot, capsys, dict(connection, definition=scheduled))
    assert failed["failed"] and "field schedule.cronSpec is not carried out" in failed["msg"]
    dotted = dict(snapshot, metadata={"name": "web.before"}, spec={"vmRef": {"name": "web"}})
    failed = run(virtrigaud_vm_snapshot, capsys, dict(connection, definition=dotted))
    assert failed["failed"] and "field metadata.name" in failed["msg"] and "snapshotConfig.name" in failed["msg"]
    both = run(virtrigaud_vm_snapshot, capsys, dict(args, vm_name="web"))
    assert both["failed"] and "definition" in both["msg"] and "vm_name" in both["msg"]


def test_a_vmimage_manifest_is_prepared_twice(connection, capsys, tmp_path):
    source = tmp_path / "disk.qcow2"
    source.write_bytes(b"QFI\xfb" + b"\0" * 508)
    image = {"apiVersion": API, "kind": "VMImage", "metadata": {"name": "base.qcow2"},
             "spec": {"source": {"libvirt": {"path": str(source)}}, "prepare": {"retries": 2, "onMissing": "Import"}}}
    args = dict(connection, definition=[image], download_dir=str(tmp_path / "dl"))
    predicted = run(virtrigaud_image, capsys, args, check_mode=True)
    done = run(virtrigaud_image, capsys, args)
    assert predicted["changes"] == done["changes"] and done["image"]["format"] == "qcow2"
    assert not run(virtrigaud_image, capsys, args, check_mode=True)["changed"]
    assert not run(virtrigaud_image, capsys, args)["changed"]
    bad = dict(image, spec={"source": {"libvirt": {"path": str(source), "checksumType": "crc32"}}})
    failed = run(virtrigaud_image, capsys, dict(connection, definition=bad))
    assert failed["failed"] and "field spec.source.libvirt.checksumType" in failed["msg"]
    lazy = dict(image, spec={"source": {"libvirt": {"path": str(source)}}, "prepare": {"onMissing": "Wait"}})
    failed = run(virtrigaud_image, capsys, dict(connection, definition=lazy))
    assert failed["failed"] and "field prepare.onMissing is not carried out" in failed["msg"]
