# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad requests straight to the runtime over real gRPC and mTLS, as a foreign manager could send them.

Each case must end with its status code, a message, the offending field or option named in the
``virtrigaud-option`` trailer (or in the message for what gRPC itself refuses), no "internal error",
and the backend exactly as before: ListVMs and the target VM's Describe are compared around each case.
The cases are counted at the end of the run (conftest.py), as "N gRPC bad-input cases".
"""

from __future__ import annotations

import json

import grpc
import pytest

from test_runtime import Runtime, call

INVALID, MISSING = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
TOO_BIG = grpc.StatusCode.RESOURCE_EXHAUSTED
TARGET = "@target"  # stands for the id of the VM the fixture made
MIB = 1024 * 1024


def create(name: str = "bad-1", **fields) -> dict:
    return dict({"name": name}, **fields)


def klass(**document) -> dict:
    return {"class_json": json.dumps(document)}


def reconfigure(document) -> dict:
    return {"id": TARGET, "desired_json": document if isinstance(document, str) else json.dumps(document)}


# (id, method, request fields, status, option named in the trailer or a hint in the message)
CASES = [
    # names: path separators, `..`, shell and XML metacharacters, control characters, unicode
    ("name-empty", "Create", create(""), INVALID, "name"),
    ("name-slash", "Create", create("web/1"), INVALID, "name"),
    ("name-parent-path", "Create", create("../../etc/passwd"), INVALID, "name"),
    ("name-dot-dot", "Create", create(".."), INVALID, "name"),
    ("name-shell", "Create", create("web;reboot"), INVALID, "name"),
    ("name-command-substitution", "Create", create("$(reboot)"), INVALID, "name"),
    ("name-xml", "Create", create("<domain type='kvm'/>"), INVALID, "name"),
    ("name-nul", "Create", create("web\x00x"), INVALID, "name"),
    ("name-trailing-newline", "Create", create("web\n"), INVALID, "name"),
    ("name-cyrillic", "Create", create("wеb"), INVALID, "name"),
    ("name-right-to-left-override", "Create", create("web\u202e1"), INVALID, "name"),
    ("name-too-long", "Create", create("v" * 81), INVALID, "name"),
    # malformed PascalCase JSON
    ("class-not-json", "Create", create(class_json="{not json"), INVALID, "class_json"),
    ("class-truncated", "Create", create(class_json='{"CPU": 2,'), INVALID, "class_json"),
    ("class-an-array", "Create", create(class_json="[1]"), INVALID, "class_json"),
    ("class-a-string", "Create", create(class_json='"CPU"'), INVALID, "class_json"),
    ("class-a-number", "Create", create(class_json="5"), INVALID, "class_json"),
    ("class-nested-too-deep", "Create", create(class_json="[" * 100000 + "]" * 100000), INVALID, "class_json"),
    ("class-cpu-word", "Create", create(**klass(CPU="two")), INVALID, "cpu"),
    ("class-cpu-negative", "Create", create(**klass(CPU=-1)), INVALID, "cpu"),
    ("class-cpu-too-many", "Create", create(**klass(CPU=129)), INVALID, "cpu"),
    ("class-cpu-overflow", "Create", create(**klass(CPU=18446744073709551617)), INVALID, "cpu"),
    ("class-cpu-fraction", "Create", create(**klass(CPU=2.5)), INVALID, "cpu"),
    ("class-cpu-bool", "Create", create(**klass(CPU=True)), INVALID, "cpu"),
    ("class-cpu-nan", "Create", create(class_json='{"CPU": NaN}'), INVALID, "cpu"),
    ("class-cpu-infinite", "Create", create(class_json='{"CPU": 1e999}'), INVALID, "cpu"),
    ("class-cpu-superscript", "Create", create(**klass(CPU="²")), INVALID, "cpu"),
    ("class-memory-too-small", "Create", create(**klass(MemoryMiB=1)), INVALID, "memory"),
    ("class-memory-negative", "Create", create(**klass(MemoryMiB=-512)), INVALID, "memory"),
    ("class-memory-too-big", "Create", create(**klass(MemoryMiB=99999999999)), INVALID, "memory"),
    ("class-memory-5000-digits", "Create", create(**klass(MemoryMiB="9" * 5000)), INVALID, "memory"),
    ("class-memory-an-array", "Create", create(**klass(MemoryMiB=[512])), INVALID, "memory"),
    ("class-firmware-unknown", "Create", create(**klass(Firmware="BIOS2")), INVALID, "firmware"),
    ("class-firmware-a-number", "Create", create(**klass(Firmware=5)), INVALID, "firmware"),
    ("class-disk-defaults-an-array", "Create", create(**klass(DiskDefaults=[1])), INVALID, "class_json.DiskDefaults"),
    ("class-root-size-negative", "Create", create(**klass(DiskDefaults={"SizeGiB": -1})), INVALID,
     "disk_defaults.size"),
    ("class-root-type-unknown", "Create", create(**klass(DiskDefaults={"Type": "floppy"})), INVALID,
     "disk_defaults.type"),
    ("image-an-array", "Create", create(image_json="[1]"), INVALID, "image_json"),
    ("image-a-number", "Create", create(image_json='{"TemplateName": 5}'), INVALID, "image"),
    ("image-missing", "Create", create(image_json='{"TemplateName": "missing-image"}'), INVALID, "image"),
    ("image-parent-path", "Create", create(image_json='{"TemplateName": "missing/../../etc/passwd"}'), INVALID,
     "image"),
    ("disks-an-object", "Create", create(disks_json='{"Name": "d1"}'), INVALID, "disks_json"),
    ("disks-number-inside", "Create", create(disks_json="[5]"), INVALID, "disks_json[0]"),
    ("disks-array-inside", "Create", create(disks_json='[[{"Name": "d1", "SizeGiB": 1}]]'), INVALID,
     "disks_json[0]"),
    ("disk-name-parent-path", "Create", create(disks_json='[{"Name": "../../etc", "SizeGiB": 1}]'), INVALID,
     "disks[0].name"),
    ("disk-name-missing", "Create", create(disks_json='[{"SizeGiB": 1}]'), INVALID, "disks[0].name"),
    ("disk-size-negative", "Create", create(disks_json='[{"Name": "d1", "SizeGiB": -1}]'), INVALID,
     "disks[0].size"),
    ("disk-size-zero", "Create", create(disks_json='[{"Name": "d1", "SizeGiB": 0}]'), INVALID, "disks[0].size"),
    ("disk-size-word", "Create", create(disks_json='[{"Name": "d1", "SizeGiB": "big"}]'), INVALID, "disks[0].size"),
    ("disk-type-unknown", "Create", create(disks_json='[{"Name": "d1", "SizeGiB": 1, "Type": "floppy"}]'), INVALID,
     "disks[0].type"),
    ("disk-type-a-number", "Create", create(disks_json='[{"Name": "d1", "SizeGiB": 1, "Type": 5}]'), INVALID,
     "disks[0].type"),
    ("disks-too-many-huge-but-allowed", "Create",
     create(disks_json=json.dumps([{"Name": "d%d" % i, "SizeGiB": 1, "Type": "thin"} for i in range(60000)])),
     INVALID, "disks"),
    ("network-model-a-number", "Create", create(networks_json='[{"Name": "lan", "Model": 5}]'), INVALID,
     "networks[0].model"),
    ("network-model-unknown", "Create", create(networks_json='[{"Name": "lan", "Model": "pcnet"}]'), INVALID,
     "networks[0].model"),
    ("network-dns-a-number", "Create", create(networks_json='[{"Name": "lan", "DNS": 5}]'), INVALID,
     "networks[0].dns"),
    ("network-dns-shell", "Create", create(networks_json='[{"Name": "lan", "DNS": "$(reboot)"}]'), INVALID,
     "networks[0].dns"),
    ("network-mac-bad", "Create", create(networks_json='[{"Name": "lan", "MacAddress": "zz:zz"}]'), INVALID,
     "networks[0].mac_address"),
    ("network-static-ip-bad-prefix", "Create", create(networks_json='[{"Name": "lan", "StaticIP": "10.0.0.1/99"}]'),
     INVALID, "networks[0].prefix"),
    ("network-static-ip-word-prefix", "Create",
     create(networks_json='[{"Name": "lan", "StaticIP": "10.0.0.1/abc"}]'), INVALID, "networks[0].prefix"),
    ("network-name-bad", "Create", create(networks_json='[{"Name": "LAN_1"}]'), INVALID, "networks[0].name"),
    ("network-missing", "Create", create(networks_json='[{"Name": "lan", "NetworkName": "missing-net"}]'), INVALID,
     "networks[0].network"),
    ("networks-a-string", "Create", create(networks_json='"lan"'), INVALID, "networks_json"),
    ("placement-a-string", "Create", create(placement_json='"ds1"'), INVALID, "placement_json"),
    ("placement-datastore-missing", "Create", create(placement_json='{"Datastore": "missing-pool"}'), INVALID,
     "placement.datastore"),
    ("placement-datastore-a-number", "Create", create(placement_json='{"Datastore": 5}'), INVALID,
     "placement.datastore"),
    ("tags-empty", "Create", create(tags=[""]), INVALID, "tags"),
    ("tags-xml", "Create", create(tags=["<tag/>"]), INVALID, "tags"),
    ("tags-too-many", "Create", create(tags=["t%d" % i for i in range(51)]), INVALID, "tags"),
    ("user-data-not-utf8", "Create", create(user_data=b"\xff\xfe#cloud-config"), INVALID, "cloud_init.user_data"),
    ("meta-data-not-utf8", "Create", create(meta_data=b"\xc3\x28"), INVALID, "cloud_init.meta_data"),
    ("user-data-beyond-max-receive", "Create", create(user_data=b"#" * (5 * MIB)), TOO_BIG, "larger than max"),
    # Reconfigure: the same checks as a create, nothing unchecked reaches the backend
    ("reconfigure-not-json", "Reconfigure", reconfigure("{"), INVALID, "desired_json"),
    ("reconfigure-an-array", "Reconfigure", reconfigure("[1]"), INVALID, "desired_json"),
    ("reconfigure-nested-too-deep", "Reconfigure", reconfigure("{\"Class\": " * 50000 + "1" + "}" * 50000), INVALID,
     "desired_json"),
    ("reconfigure-class-an-array", "Reconfigure", reconfigure({"Class": [4]}), INVALID, "desired_json.Class"),
    ("reconfigure-cpu-word", "Reconfigure", reconfigure({"Class": {"CPU": "x"}}), INVALID, "cpu"),
    ("reconfigure-cpu-negative", "Reconfigure", reconfigure({"Class": {"CPU": -1}}), INVALID, "cpu"),
    ("reconfigure-cpu-too-many", "Reconfigure", reconfigure({"Class": {"CPU": 1000}}), INVALID, "cpu"),
    ("reconfigure-memory-too-small", "Reconfigure", reconfigure({"Class": {"MemoryMiB": 1}}), INVALID, "memory"),
    ("reconfigure-memory-infinite", "Reconfigure", reconfigure('{"Class": {"MemoryMiB": 1e999}}'), INVALID, "memory"),
    ("reconfigure-disk-parent-path", "Reconfigure", reconfigure({"Disks": [{"Name": "../../etc", "SizeGiB": 1}]}),
     INVALID, "disks[0].name"),
    ("reconfigure-disk-size-negative", "Reconfigure", reconfigure({"Disks": [{"Name": "d9", "SizeGiB": -5}]}),
     INVALID, "disks[0].size"),
    ("reconfigure-root-too-big", "Reconfigure", reconfigure({"Disks": [{"Name": "root", "SizeGiB": 99999999}]}),
     INVALID, "disk_defaults.size"),
    ("reconfigure-disks-a-string", "Reconfigure", reconfigure({"Disks": "data"}), INVALID, "desired_json.Disks"),
    ("reconfigure-network-mac-bad", "Reconfigure",
     reconfigure({"Networks": [{"Name": "wan", "MacAddress": "zz"}]}), INVALID, "networks[0].mac_address"),
    ("reconfigure-network-name-parent-path", "Reconfigure", reconfigure({"Networks": [{"Name": "../wan"}]}), INVALID,
     "networks[0].name"),
    ("reconfigure-network-model-a-number", "Reconfigure",
     reconfigure({"Networks": [{"Name": "wan", "Model": 5}]}), INVALID, "networks[0].model"),
    ("reconfigure-tags-numbers", "Reconfigure", reconfigure({"Tags": [1, 2]}), INVALID, "tags"),
    ("reconfigure-tags-a-string", "Reconfigure", reconfigure({"Tags": "abc"}), INVALID, "tags"),
    ("reconfigure-unknown-vm", "Reconfigure", {"id": "../../etc/passwd", "desired_json": "{}"}, MISSING, "id"),
    # unknown enums, missing required fields, unknown ids
    ("power-op-unspecified", "Power", {"id": TARGET, "op": 0}, INVALID, "op"),
    ("power-op-unknown", "Power", {"id": TARGET, "op": 99}, INVALID, "op"),
    ("power-op-negative", "Power", {"id": TARGET, "op": -1}, INVALID, "op"),
    ("power-timeout-negative", "Power", {"id": TARGET, "op": 4, "graceful_timeout_seconds": -1}, INVALID,
     "graceful_timeout_seconds"),
    ("power-no-id", "Power", {"op": 1}, MISSING, "id"),
    ("snapshot-name-parent-path", "SnapshotCreate", {"vm_id": TARGET, "name_hint": "../snap"}, INVALID, "name"),
    ("snapshot-name-xml", "SnapshotCreate", {"vm_id": TARGET, "name_hint": "<snapshot/>"}, INVALID, "name"),
    ("snapshot-name-unicode", "SnapshotCreate", {"vm_id": TARGET, "name_hint": "snäp"}, INVALID, "name"),
    ("snapshot-no-vm", "SnapshotCreate", {"name_hint": "snap"}, MISSING, "vm_id"),
    ("snapshot-revert-unknown", "SnapshotRevert", {"vm_id": TARGET, "snapshot_id": "../../snap"}, MISSING, "snapshot"),
    ("snapshot-delete-no-vm", "SnapshotDelete", {"vm_id": "vm-missing", "snapshot_id": "s"}, MISSING, "vm_id"),
    ("clone-target-parent-path", "Clone", {"source_vm_id": TARGET, "target_name": "../x"}, INVALID, "target_name"),
    ("clone-target-empty", "Clone", {"source_vm_id": TARGET}, INVALID, "target_name"),
    ("clone-target-shell", "Clone", {"source_vm_id": TARGET, "target_name": "x;reboot"}, INVALID, "target_name"),
    ("clone-cpu-word", "Clone", {"source_vm_id": TARGET, "target_name": "copy-1", "class_json": '{"CPU": "x"}'},
     INVALID, "cpu"),
    ("clone-memory-negative", "Clone",
     {"source_vm_id": TARGET, "target_name": "copy-1", "class_json": '{"MemoryMiB": -1}'}, INVALID, "memory"),
    ("clone-no-source", "Clone", {"target_name": "copy-1"}, MISSING, "source_vm_id"),
    ("hardware-upgrade", "HardwareUpgrade", {"id": TARGET, "target_version": 21}, grpc.StatusCode.UNIMPLEMENTED,
     "not implemented"),
    # disks as files: the staging ADR-0006 allows but the collection does not serve is refused by field name
    ("export-no-destination", "ExportDisk", {"vm_id": TARGET}, INVALID, "destination_url"),
    ("export-relative-path", "ExportDisk", {"vm_id": TARGET, "destination_url": "../disk.qcow2"}, INVALID,
     "destination_url"),
    ("export-s3", "ExportDisk", {"vm_id": TARGET, "destination_url": "/tmp/d", "backend_type": "s3"}, INVALID,
     "backend_type"),
    ("export-direct", "ExportDisk", {"vm_id": TARGET, "destination_url": "/tmp/d", "transfer_mode": "direct"},
     INVALID, "transfer_mode"),
    ("export-credentials", "ExportDisk", {"vm_id": TARGET, "destination_url": "/tmp/d", "credentials": {"k": "v"}},
     INVALID, "credentials"),
    ("export-format", "ExportDisk", {"vm_id": TARGET, "destination_url": "/tmp/d", "format": "vdi"}, INVALID,
     "format"),
    ("export-compress-raw", "ExportDisk", {"vm_id": TARGET, "destination_url": "/tmp/d", "format": "raw",
                                           "compress": True}, INVALID, "compress"),
    ("export-snapshot", "ExportDisk", {"vm_id": TARGET, "destination_url": "/tmp/d", "snapshot_id": "s"}, INVALID,
     "snapshot_id"),
    ("export-no-vm", "ExportDisk", {"vm_id": "vm-missing", "destination_url": "/tmp/d"}, MISSING, "vm_id"),
    ("export-on-mock", "ExportDisk", {"vm_id": TARGET, "destination_url": "/tmp/d"}, grpc.StatusCode.UNIMPLEMENTED,
     "mock backend"),
    ("import-name-path", "ImportDisk", {"source_url": "/tmp/d", "target_name": "../x"}, INVALID, "target_name"),
    ("import-ftp", "ImportDisk", {"source_url": "ftp://h/x", "target_name": "d"}, INVALID, "source_url"),
    ("import-checksum-short", "ImportDisk", {"source_url": "/tmp/d", "target_name": "d", "expected_checksum": "ab"},
     INVALID, "expected_checksum"),
    ("import-verify-nothing", "ImportDisk", {"source_url": "/tmp/d", "target_name": "d", "verify_checksum": True},
     INVALID, "expected_checksum"),
    ("import-storage-options", "ImportDisk", {"source_url": "/tmp/d", "target_name": "d",
                                              "storage_options_json": '{"bucket": "b"}'}, INVALID,
     "storage_options_json"),
    ("import-on-mock", "ImportDisk", {"source_url": "/tmp/d", "target_name": "d"}, grpc.StatusCode.UNIMPLEMENTED,
     "mock backend"),
    ("disk-info-no-vm", "GetDiskInfo", {"vm_id": "vm-missing"}, MISSING, "vm_id"),
    ("disk-info-on-mock", "GetDiskInfo", {"vm_id": TARGET}, grpc.StatusCode.UNIMPLEMENTED, "mock backend"),
    ("image-prepare-empty", "ImagePrepare", {}, INVALID, "image_json"),
    ("image-prepare-not-json", "ImagePrepare", {"image_json": "{x", "target_name": "i"}, INVALID, "image_json"),
    ("image-prepare-name-path", "ImagePrepare",
     {"image_json": '{"source": {"http": {"url": "http://127.0.0.1:1/x"}}}', "target_name": "../x"}, INVALID,
     "target_name"),
    ("image-prepare-ftp", "ImagePrepare",
     {"image_json": '{"source": {"libvirt": {"url": "ftp://h/x"}}}', "target_name": "i"}, INVALID,
     "image_json.source.libvirt.url"),
    ("image-prepare-registry", "ImagePrepare",
     {"image_json": '{"source": {"registry": {"image": "a/b:1"}}}', "target_name": "i"},
     grpc.StatusCode.UNIMPLEMENTED, "a registry image"),
]

# Bytes no protobuf parser accepts, and a method the service does not have.
RAW_CASES = [
    ("create-not-protobuf", "/provider.v1.Provider/Create", b"\xff\xff\xff\xff", INVALID, "not a provider.v1"),
    ("create-invalid-utf8-name", "/provider.v1.Provider/Create", b"\x0a\x02\xff\xfe", INVALID, "not a provider.v1"),
    ("describe-truncated", "/provider.v1.Provider/Describe", b"\x0a\x10abc", INVALID, "not a provider.v1"),
    ("unknown-method", "/provider.v1.Provider/Destroy", b"", grpc.StatusCode.UNIMPLEMENTED, "Method not found"),
]


@pytest.fixture(name="served", scope="module")
def served_fixture(tmp_path_factory):
    runtime = Runtime(tmp_path_factory.mktemp("bad-input")).start()
    channel = runtime.channel()
    created = call(channel, "Create", name="target-1", class_json='{"CPU": 1, "MemoryMiB": 512}',
                   networks_json='[{"Name": "lan", "NetworkName": "default"}]',
                   disks_json='[{"Name": "data", "SizeGiB": 2}]')
    yield runtime, channel, created.id
    channel.close()
    runtime.kill()


def world(channel, vm_id):
    """What the backend holds: every VM in full, and the target with its snapshots."""
    listed = call(channel, "ListVMs")
    described = call(channel, "Describe", metadata=(("virtrigaud-include", "snapshots"),), id=vm_id)
    return listed.SerializeToString(deterministic=True), described.SerializeToString(deterministic=True)


def judge(failed: grpc.RpcError, code, named: str) -> None:
    assert failed.code() == code, (failed.code(), failed.details())
    details = failed.details() or ""
    assert details and "internal error" not in details and "Traceback" not in details
    trailer = dict(failed.trailing_metadata() or ()).get("virtrigaud-option")
    assert named == trailer or named in details, (trailer, details[:300])


@pytest.mark.parametrize("case, method, fields, code, named", CASES, ids=[case[0] for case in CASES])
def test_bad_request(served, case, method, fields, code, named):
    runtime, channel, vm_id = served
    fields = {key: (vm_id if value == TARGET else value) for key, value in fields.items()}
    before = world(channel, vm_id)
    with pytest.raises(grpc.RpcError) as failed:
        call(channel, method, **fields)
    judge(failed.value, code, named)
    assert world(channel, vm_id) == before, case


@pytest.mark.parametrize("case, path, payload, code, named", RAW_CASES, ids=[case[0] for case in RAW_CASES])
def test_bad_bytes(served, case, path, payload, code, named):
    runtime, channel, vm_id = served
    before = world(channel, vm_id)
    stub = channel.unary_unary(path, request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)
    with pytest.raises(grpc.RpcError) as failed:
        stub(payload, timeout=10)
    judge(failed.value, code, named)
    assert world(channel, vm_id) == before, case


def test_huge_but_allowed_json_is_served(served):
    """3 MiB of class_json under the 4 MiB limit: keys the runtime does not know are skipped, as Go skips them."""
    runtime, channel, dummy = served
    extra = {"key%06d" % i: "v" * 40 for i in range(60000)}
    class_json = json.dumps({"CPU": 1, "MemoryMiB": 256, "ExtraConfig": extra})
    assert 2 * MIB < len(class_json) < 4 * MIB
    created = call(channel, "Create", name="huge-allowed", class_json=class_json)
    assert call(channel, "Describe", id=created.id).exists
    call(channel, "Delete", id=created.id)
    assert "internal error" not in runtime.log.read_text()


def test_the_runtime_survived_the_corpus(served):
    runtime, channel, dummy = served
    assert call(channel, "Validate").ok
    assert "internal error" not in runtime.log.read_text()
    assert runtime.process.poll() is None
