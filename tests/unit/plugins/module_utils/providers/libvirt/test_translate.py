# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt backend's domain and volume XML, written and read back."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt import translate as dx
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt.graphics_xml import replace_graphics
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt.snapshot_xml import (
    SnapshotFacts,
    parse_snapshot,
    restorable_snapshot_xml,
    restore_problem,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt.storage_xml import (
    volume_format,
    volume_xml,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import ConsoleSpec

NIC = dx.NicPlan("lan", "52:54:00:00:00:01", network="default")


def plan(**changes):
    values = dict(
        name="web", uuid="8d1c1f5e-0000-4000-8000-000000000001", domain_type="qemu", cpu=2, memory_mib=512,
        firmware="bios",
        disks=(dx.DiskRef("root", "vda", "/pool/web-root.qcow2"), dx.DiskRef("data", "vdb", "/pool/web-data.qcow2")),
        nics=(NIC,), seed="/pool/web-cidata.iso", tags=("a", "b"),
    )
    values.update(changes)
    return dx.DomainPlan(**values)


@pytest.mark.parametrize("index, device", [(0, "vda"), (1, "vdb"), (25, "vdz"), (26, "vdaa"), (27, "vdab")])
def test_disk_devices_follow_the_kernel_naming(index, device):
    assert dx.disk_device(index) == device


def test_next_disk_device_fills_the_first_gap():
    assert dx.next_disk_device({"vda", "vdc"}) == "vdb"


@pytest.mark.parametrize("cpu, ceiling", [(1, 4), (2, 8), (16, 64), (40, 64), (100, 100)])
def test_cpu_hotplug_ceiling_is_four_times_capped_but_never_below_the_request(cpu, ceiling):
    assert dx.hotplug_ceiling_cpu(cpu) == ceiling


def test_domain_round_trips_through_its_own_parser():
    facts = dx.parse_domain(dx.domain_xml(plan()))
    assert (facts.name, facts.cpu, facts.max_cpu) == ("web", 2, 8)
    assert (facts.memory_mib, facts.max_memory_mib, facts.firmware) == (512, 2048, "bios")
    assert facts.disk_paths == {"vda": "/pool/web-root.qcow2", "vdb": "/pool/web-data.qcow2"}
    assert facts.nics == ({"mac": NIC.mac, "network": "default", "bridge": None, "model": "virtio"},)
    assert facts.metadata == plan().metadata()


def test_metadata_declares_its_namespace_on_its_own_element():
    text = dx.domain_xml(plan())
    assert "<metadata><vr:vm xmlns:vr=\"%s\">" % dx.NAMESPACE in text
    assert ET.fromstring(text).get("xmlns:vr") is None


def test_seed_is_a_read_only_cdrom_left_out_of_snapshots():
    cdrom = ET.fromstring(dx.domain_xml(plan())).find("devices/disk[@device='cdrom']")
    assert cdrom.get("snapshot") == "no"
    assert cdrom.find("readonly") is not None
    assert cdrom.find("target").get("dev") == dx.SEED_DEVICE


def test_uefi_asks_libvirt_for_efi_firmware_and_kvm_for_host_cpu():
    domain = ET.fromstring(dx.domain_xml(plan(firmware="uefi", domain_type="kvm")))
    assert domain.find("os").get("firmware") == "efi"
    assert domain.find("cpu").get("mode") == "host-passthrough"
    assert dx.parse_domain(dx.domain_xml(plan(firmware="uefi"))).firmware == "uefi"


def test_bridge_nics_use_the_bridge():
    node = dx.interface_xml(dx.NicPlan("uplink", "52:54:00:00:00:09", bridge="br0", model="e1000"))
    assert node.get("type") == "bridge"
    assert node.find("source").get("bridge") == "br0"
    assert node.find("model").get("type") == "e1000"


@pytest.mark.parametrize("unit, value, mib",
                         [("KiB", 524288, 512), ("MiB", 512, 512), ("GiB", 2, 2048), ("bytes", 1048576, 1)])
def test_memory_units_are_read_in_mib(unit, value, mib):
    text = "<domain><name>x</name><memory unit='%s'>%d</memory></domain>" % (unit, value)
    assert dx.parse_domain(text).memory_mib == mib


def test_a_foreign_domain_without_metadata_still_parses():
    facts = dx.parse_domain("<domain type='kvm'><name>old</name><uuid>u</uuid><vcpu>2</vcpu>"
                            "<memory unit='KiB'>1048576</memory><devices><disk type='file' device='disk'>"
                            "<source file='/x.img'/><target dev='hda' bus='ide'/></disk></devices></domain>")
    assert (facts.cpu, facts.max_cpu, facts.memory_mib) == (2, 2, 1024)
    assert facts.disk_paths == {"hda": "/x.img"}
    assert facts.metadata == dx.Metadata()


def test_clone_takes_a_new_identity_drops_the_seed_and_keeps_the_hardware():
    source = dx.domain_xml(plan())
    meta = dx.Metadata(disks=(dx.DiskRef("root", "vda", "/pool/copy-root.qcow2"),
                              dx.DiskRef("data", "vdb", "/pool/copy-data.qcow2")),
                       nics=(dx.NicRef("lan", "52:54:00:aa:bb:cc"),), tags=("a",))
    facts = dx.parse_domain(dx.clone_xml(source, "copy", "u-2", meta, ["52:54:00:aa:bb:cc"], "pw"))
    assert (facts.name, facts.uuid, facts.cpu, facts.memory_mib) == ("copy", "u-2", 2, 512)
    assert facts.disk_paths == {"vda": "/pool/copy-root.qcow2", "vdb": "/pool/copy-data.qcow2"}
    assert [n["mac"] for n in facts.nics] == ["52:54:00:aa:bb:cc"]
    assert facts.metadata == meta
    assert "cidata" not in dx.clone_xml(source, "copy", "u-2", meta, ["52:54:00:aa:bb:cc"], "pw")


def test_a_storage_move_repoints_the_disks_and_the_metadata_and_keeps_the_rest():
    source = dx.domain_xml(plan())
    before = dx.parse_domain(source)
    moved = {path: path.replace("/", "/other/", 1) for path in before.metadata.owned_paths()}
    after = dx.parse_domain(dx.moved_xml(source, moved))
    assert after.disk_paths == {dev: moved[path] for dev, path in before.disk_paths.items()}
    assert after.metadata.owned_paths() == [moved[p] for p in before.metadata.owned_paths()]
    assert (after.name, after.uuid, after.nics, after.metadata.nics) == (
        before.name, before.uuid, before.nics, before.metadata.nics)
    assert "backingStore" not in dx.moved_xml(source, moved)


def test_overlay_volume_names_its_backing_image():
    volume = ET.fromstring(volume_xml("web-root.qcow2", 2 << 30, backing=("/img/base.raw", "raw")))
    assert volume.findtext("capacity") == str(2 << 30)
    assert volume.find("backingStore/format").get("type") == "raw"
    assert volume_format(volume_xml("x", 1)) == "qcow2"


def test_snapshot_facts():
    facts = parse_snapshot("<domainsnapshot><name>s1</name><description>d</description><state>running</state>"
                           "<creationTime>1700000000</creationTime><parent><name>s0</name></parent></domainsnapshot>")
    assert facts == SnapshotFacts("s1", "d", 1700000000, "running", "s0")


def test_virtio_disks_state_one_queue_per_vcpu_the_vm_may_grow_to():
    disks = ET.fromstring(dx.domain_xml(plan())).findall("devices/disk[@device='disk']")
    assert [d.find("driver").get("queues") for d in disks] == ["8", "8"]


# What libvirt 9.0 reports for a running domain after one vCPU was plugged in live (trimmed).
VCPUS = ("<vcpu placement='static' current='2'>4</vcpu><vcpus>"
         "<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>"
         "<vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/>"
         "<vcpu id='2' enabled='no' hotpluggable='yes'/><vcpu id='3' enabled='no' hotpluggable='yes'/></vcpus>")
META = "<metadata><vr:vm xmlns:vr='%s'><vr:disk name='root' dev='vda' path='/p/r'/></vr:vm></metadata>" % dx.NAMESPACE


def running(vcpus=VCPUS, queues=" queues='4'", extra=""):
    return ("<domain type='qemu'><name>web</name>%s%s<devices><disk type='file' device='disk'>"
            "<driver name='qemu' type='qcow2'%s/><source file='/p/r'/><target dev='vda' bus='virtio'/></disk>"
            "<disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>%s</devices></domain>"
            % (META, vcpus, queues, extra))


def snapshot(domain):
    inactive = domain.replace("<domain ", "<inactiveDomain ").replace("</domain>", "</inactiveDomain>")
    return ("<domainsnapshot><name>s1</name><state>running</state><memory snapshot='internal'/>%s%s</domainsnapshot>"
            % (domain, inactive))


def test_hot_plugged_vcpus_with_stated_queues_can_be_restored():
    assert restore_problem(running()) is None
    assert restore_problem(snapshot(running())) is None


def test_devices_sized_by_the_boot_vcpus_cannot_follow_hot_plugged_ones():
    scsi = "<controller type='scsi' index='0' model='virtio-scsi'/>"
    problem = restore_problem(running(queues="", extra=scsi))
    assert problem.startswith("vCPU 1 was hot-plugged while the VM ran, and vda, scsi0 take the number of queues")
    assert restore_problem(snapshot(running(queues=""))).startswith("vCPU 1 was hot-plugged")


def test_without_hot_plugged_vcpus_queue_counts_do_not_matter():
    assert restore_problem(running(vcpus="<vcpu current='2'>4</vcpu>", queues="")) is None


def test_a_snapshot_records_its_hot_plugged_vcpus_as_boot_vcpus_and_nothing_else():
    fixed = ET.fromstring(restorable_snapshot_xml(snapshot(running())))
    vcpus = [(v.get("id"), v.get("enabled"), v.get("hotpluggable"), v.get("order"))
             for v in fixed.findall("domain/vcpus/vcpu")]
    assert vcpus == [("0", "yes", "no", "1"), ("1", "yes", "no", "2"), ("2", "no", "yes", None),
                     ("3", "no", "yes", None)]
    assert fixed.find("inactiveDomain/vcpus/vcpu[@id='1']").get("hotpluggable") == "yes"
    assert dx.parse_metadata(fixed.find("domain")).disks == (dx.DiskRef("root", "vda", "/p/r"),)


def test_a_snapshot_without_hot_plugged_vcpus_is_left_alone():
    assert restorable_snapshot_xml(restorable_snapshot_xml(snapshot(running()))) is None
    assert restorable_snapshot_xml("<domainsnapshot><name>s0</name><state>shutoff</state></domainsnapshot>") is None


def test_nic_records_keep_the_static_address_the_seed_carries():
    nics = (dx.NicPlan("lan", "52:54:00:00:00:01", network="default", static="192.0.2.10/24", gateway="192.0.2.1",
                       dns=("192.0.2.53", "192.0.2.54")),
            dx.NicPlan("backup", "52:54:00:00:00:02", bridge="br0", static=""),
            dx.NicPlan("other", "52:54:00:00:00:03", network="default"))
    facts = dx.parse_domain(dx.domain_xml(plan(nics=nics)))
    assert facts.metadata.nics == tuple(n.ref() for n in nics)
    assert [(n.name, n.static, n.network, n.bridge) for n in dx.interfaces(facts)] == [
        ("lan", "192.0.2.10/24", "default", None), ("backup", "", None, "br0"), ("other", None, "default", None)]


def test_nics_without_a_record_are_named_by_position():
    facts = dataclasses.replace(dx.parse_domain(dx.domain_xml(plan())), metadata=dx.Metadata())
    assert [(n.name, n.mac) for n in dx.interfaces(facts)] == [("nic0", NIC.mac)]


def test_an_interface_of_unknown_model_is_written_without_one():
    node = dx.interface_xml(dx.NicPlan("lan", "52:54:00:00:00:01", network="default", model=""))
    assert node.find("model") is None and node.find("source").get("network") == "default"


def test_secure_boot_asks_libvirt_for_an_enrolled_ovmf_on_q35_with_smm():
    xml = dx.domain_xml(plan(firmware="uefi", secure_boot=True))
    domain = ET.fromstring(xml)
    assert domain.find("os").get("firmware") == "efi" and domain.find("os/type").get("machine") == "q35"
    assert {f.get("name") for f in domain.findall("os/firmware/feature[@enabled='yes']")} == {
        "secure-boot", "enrolled-keys"}
    assert domain.find("features/smm").get("state") == "on"
    assert dx.parse_domain(xml).secure_boot
    plain = dx.domain_xml(plan(firmware="uefi"))
    assert ET.fromstring(plain).find("os/type").get("machine") is None and not dx.parse_domain(plain).secure_boot


def test_secure_boot_is_read_from_the_loader_libvirt_chose():
    chosen = ("<domain><name>w</name><uuid>u</uuid><os firmware='efi'><type>hvm</type>"
              "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>"
              "</os></domain>")
    assert dx.parse_domain(chosen).secure_boot
    assert not dx.parse_domain(chosen.replace("secure='yes'", "secure='no'")).secure_boot


@pytest.mark.parametrize("caps, offered", [
    ("<domainCapabilities><os><enum name='firmware'><value>efi</value></enum><loader>"
     "<enum name='secure'><value>yes</value><value>no</value></enum></loader></os></domainCapabilities>", True),
    ("<domainCapabilities><os><enum name='firmware'><value>efi</value></enum><loader>"
     "<enum name='secure'><value>no</value></enum></loader></os></domainCapabilities>", False),
    ("<domainCapabilities><os supported='no'/></domainCapabilities>", False),
    ("", False),
])
def test_secure_boot_is_offered_only_with_a_secure_loader(caps, offered):
    assert dx.offers_secure_boot(caps) is offered


def test_a_display_is_written_behind_its_password_and_read_back():
    vnc = ConsoleSpec("vnc")
    facts = dx.parse_domain(dx.domain_xml(plan(console=vnc, console_password="s3cret")))
    assert (facts.console.view(), facts.console_port, facts.console_password) == (
        {"type": "vnc", "listen": "127.0.0.1"}, None, "s3cret")
    assert dx.parse_domain(dx.domain_xml(plan())).console.type == "none"


def test_a_running_display_reports_its_port_and_a_replacement_keeps_one_display():
    live = dx.domain_xml(plan(console=ConsoleSpec("vnc"), console_password="pw")).replace(
        "autoport=", "port='5901' autoport=")
    assert dx.parse_domain(live).console_port == 5901
    spice = replace_graphics(live, ConsoleSpec("spice", "0.0.0.0"), "other")
    assert ET.fromstring(spice).findall("devices/graphics")[0].get("type") == "spice"
    assert len(ET.fromstring(spice).findall("devices/graphics")) == 1
    assert dx.parse_domain(replace_graphics(spice, ConsoleSpec("none"), "")).console.type == "none"


def test_a_clone_gets_a_display_password_of_its_own():
    source = dx.domain_xml(plan(console=ConsoleSpec("vnc"), console_password="source"))
    copy = dx.clone_xml(source, "copy", "u-2", dx.Metadata(), [], "fresh")
    assert dx.parse_domain(copy).console_password == "fresh"
