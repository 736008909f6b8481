# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Proxmox VE backend's pure parts: config strings ↔ the spec, cloud-init fallback, error mapping."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    NicChange,
    Reconfiguration,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox import translate as pve
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import NetworkSpec, parse_vm

CONFIG = {
    "name": "web-1", "cores": 4, "sockets": 1, "vcpus": 1, "memory": "1024", "numa": 1,
    "hotplug": "network,disk,cpu,memory", "bios": "ovmf", "tags": "prod;web",
    "scsi0": "ceph-vm:vm-100-disk-0,discard=on,size=10G",
    "scsi1": "ceph-vm:vm-100-disk-1,size=512M",
    "ide2": "ceph-vm:vm-100-cloudinit,media=cdrom",
    "net0": "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0",
    "net1": "e1000=BC:24:11:AA:BB:CD,bridge=vmbr1,tag=20",
    "description": "hand-written notes\n" + pve.RECORD_PREFIX + '{"disks":{"scsi1":"data"},"maxMemoryMiB":4096,'
                   '"nics":{"net0":"lan"}}',
    "digest": "abc",
}
INTERFACES = [
    {"name": "lo", "hardware-address": "00:00:00:00:00:00",
     "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
    {"name": "eth0", "hardware-address": "bc:24:11:aa:bb:cc",
     "ip-addresses": [{"ip-address": "10.0.0.5", "ip-address-type": "ipv4", "prefix": 24},
                      {"ip-address": "169.254.1.1", "ip-address-type": "ipv4", "prefix": 16},
                      {"ip-address": "fe80::1", "ip-address-type": "ipv6", "prefix": 64}]},
]


def test_observed_reads_names_ceilings_and_addresses():
    vm = pve.observed(100, "pve1", CONFIG, {"status": "running"}, INTERFACES)
    assert (vm.id, vm.name, vm.power_state, vm.firmware) == ("100", "web-1", "On", "uefi")
    assert (vm.cpu, vm.max_cpu, vm.memory_mib, vm.max_memory_mib) == (1, 4, 1024, 4096)
    assert [(d.name, d.size_gib, d.device) for d in vm.disks] == [("root", 10, "scsi0"), ("data", 0, "scsi1")]
    assert [(n.name, n.model, n.bridge, n.ip_addresses) for n in vm.nics] == [
        ("lan", "virtio", "vmbr0", ("10.0.0.5",)), ("net1", "e1000", "vmbr1", ())]
    assert vm.tags == ("prod", "web")


def test_without_hotplug_the_ceilings_are_the_current_values():
    config = dict(CONFIG, hotplug="network,disk")
    vm = pve.observed(100, "pve1", config, {"status": "stopped"})
    assert (vm.max_cpu, vm.max_memory_mib, vm.power_state) == (1, 1024, "Off")


def test_the_record_keeps_the_users_description():
    text = pve.write_record(CONFIG["description"], {"disks": {}, "nics": {"net0": "wan"}})
    assert text.splitlines()[0] == "hand-written notes"
    assert pve.read_record(text) == {"disks": {}, "nics": {"net0": "wan"}}
    assert pve.read_record("no record here") == {}


def test_values_for_pve():
    assert pve.bool_params({"full": True, "start": False, "storage": None, "name": "x"}) == {
        "full": 1, "start": 0, "name": "x"}
    assert pve.pve_tags(["Web", "prod", "web"]) == "prod;web"
    assert pve.cpu_settings(2) == {"sockets": 1, "cores": 8, "vcpus": 2}
    assert pve.cpu_settings(100)["cores"] == 128
    assert pve.free_keys("scsi", ["scsi0", "scsi2", "net0"], 2, first=1) == ["scsi1", "scsi3"]
    assert pve.free_keys("net", ["net0", "net2"], 2) == ["net1", "net3"]
    assert pve.nic_value(NetworkSpec("lan", mac_address="bc:24:11:00:00:01"), "vmbr0", "o") == \
        "virtio=BC:24:11:00:00:01,bridge=vmbr0"
    assert pve.ipconfig(NetworkSpec("lan", ip_address="192.0.2.5", prefix=28, gateway="192.0.2.1")) == \
        "ip=192.0.2.5/28,gw=192.0.2.1"


def test_ssh_keys_are_percent_encoded_without_plus():
    encoded = pve.ssh_keys(["ssh-ed25519 AAAA+b/c= me@host"])
    assert encoded == "ssh-ed25519%20AAAA%2Bb%2Fc%3D%20me%40host%0A"
    assert "+" not in encoded


@pytest.mark.parametrize("name", ["vmbr0;rm", "a" * 16, "br 0"])
def test_bad_bridges_are_refused(name):
    with pytest.raises(errors.SpecError) as caught:
        pve.check_bridge(name, "networks[0].bridge")
    assert caught.value.option == "networks[0].bridge"


def test_tags_pve_cannot_store_are_refused():
    pve.check_tags(["prod", "web_1", "a.b"])
    with pytest.raises(errors.SpecError):
        pve.check_tags(["Has Space"])


def test_cloud_init_fallback_says_what_it_drops():
    spec = parse_vm({"name": "vm", "cloud_init": {
        "user_data": "#cloud-config\nuser: ops\nssh_authorized_keys: [ssh-ed25519 AAAA me]\npackages: [nginx]\n",
        "meta_data": "local-hostname: vm\n"}})
    values, dropped = pve.cloud_init_fallback(spec)
    assert values == {"ciuser": "ops", "sshkeys": "ssh-ed25519%20AAAA%20me%0A"}
    assert dropped == ["user_data.packages", "meta_data"]
    script = parse_vm({"name": "vm", "cloud_init": {"user_data": "#!/bin/sh\necho hi\n"}})
    assert pve.cloud_init_fallback(script) == ({}, ["user_data (not a #cloud-config document)"])


@pytest.mark.parametrize("status, reason, expected", [
    (500, "VM is locked (backup)", errors.ConflictError),
    (500, "checksum mismatch (file change by other user?)", errors.ConflictError),
    (500, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist", errors.NotFoundError),
    (500, "VM 100 is running - destroy failed", errors.PreconditionError),
    (500, "hostname lookup 'pve9' failed - failed to get address info", errors.NotFoundError),
    (500, "storage 'x' does not support vm images", errors.ProviderError),
    (400, "Parameter verification failed.", errors.SpecError),
    (401, "authentication failure", errors.AuthenticationError),
    (403, "Permission check failed (/vms/100, VM.PowerMgmt)", errors.PermissionDeniedError),
    (501, "Method 'GET /x' not implemented", errors.UnsupportedError),
    (595, "Connection refused", errors.UnavailableError),
    (503, "Service Unavailable", errors.UnavailableError),
])
def test_pve_errors_map_to_the_taxonomy(status, reason, expected):
    assert pve.translate(status, reason).__class__ is expected


def test_parameter_errors_are_named():
    err = pve.translate(400, "Parameter verification failed.", {"cores": "type check ('integer') failed"})
    assert "cores: type check" in err.msg
    assert err.details["parameters"] == {"cores": "type check ('integer') failed"}


def test_observed_reads_static_addresses_and_placement():
    config = dict(CONFIG, ipconfig0="ip=192.0.2.5/24,gw=192.0.2.1", ipconfig1="ip=dhcp",
                  nameserver="192.0.2.53 192.0.2.54")
    vm = pve.observed(100, "pve1", config, {"status": "stopped"})
    assert [(n.static_ip, n.gateway, n.dns) for n in vm.nics] == [
        ("192.0.2.5/24", "192.0.2.1", ("192.0.2.53", "192.0.2.54")), ("", None, ())]
    assert (vm.placement.host, vm.placement.datastore) == ("pve1", "ceph-vm")


@pytest.mark.parametrize("fields, network, expected", [
    (("network",), NetworkSpec("lan", network="vmbr1"), {"net1": "e1000=BC:24:11:AA:BB:CD,bridge=vmbr1,tag=20"}),
    (("network",), NetworkSpec("lan", bridge="vmbr2"), {"net1": "e1000=BC:24:11:AA:BB:CD,bridge=vmbr2,tag=20"}),
    (("mac_address",), NetworkSpec("lan", mac_address="bc:24:11:00:00:09"),
     {"net1": "e1000=BC:24:11:00:00:09,bridge=vmbr1,tag=20"}),
    (("ip_address",), NetworkSpec("lan", ip_address="192.0.2.7", gateway="192.0.2.1", dns=("192.0.2.53",)),
     {"ipconfig1": "ip=192.0.2.7/24,gw=192.0.2.1", "nameserver": "192.0.2.53"}),
])
def test_a_nic_changed_in_place_keeps_its_other_options(fields, network, expected):
    assert pve.changed_nic(CONFIG, "net1", NicChange(network, fields)) == expected


def test_nics_are_found_by_their_recorded_name_or_key():
    assert pve.nic_key(CONFIG, {"lan": "net0"}, "lan") == "net0"
    assert pve.nic_key(CONFIG, {}, "net1") == "net1"
    with pytest.raises(errors.NotFoundError):
        pve.nic_key(CONFIG, {}, "wan")
    assert pve.has_cloud_init_drive(CONFIG) and not pve.has_cloud_init_drive({"scsi0": "local:1"})


def test_nic_changes_write_and_delete_keys_and_keep_the_record():
    config = dict(CONFIG, ipconfig1="ip=dhcp")
    record = pve.read_record(config["description"])
    record["nics"]["net1"] = "backup"
    values, delete = {}, []
    change = Reconfiguration(remove_networks=("backup",),
                             change_networks=(NicChange(NetworkSpec("lan", network="vmbr1"), ("network",)),),
                             add_networks=(NetworkSpec("wan", ip_address="192.0.2.8"),))
    pve.nic_changes(config, change, record, values, delete, "vmbr0")
    assert delete == ["net1", "ipconfig1"]
    assert values == {"net0": "virtio=BC:24:11:AA:BB:CC,bridge=vmbr1", "net2": "virtio,bridge=vmbr0",
                      "ipconfig2": "ip=192.0.2.8/24"}
    assert record["nics"] == {"net0": "lan", "net2": "wan"}
    values = {}
    pve.nic_changes({"net0": "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0", "scsi0": "local-lvm:vm-1-disk-0"},
                    Reconfiguration(change_networks=(NicChange(NetworkSpec("net0", ip_address="192.0.2.9"),
                                                               ("ip_address",)),)), {"nics": {}}, values, [], None)
    assert values == {"ipconfig0": "ip=192.0.2.9/24", "ide2": "local-lvm:cloudinit"}


def test_secure_boot_is_an_efi_vars_disk_with_enrolled_keys():
    value = pve.efi_disk("local-lvm")
    assert value == "local-lvm:1,efitype=4m,pre-enrolled-keys=1"
    stored = {"bios": "ovmf", "efidisk0": "local-lvm:vm-100-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M"}
    assert pve.secure_boot_of(stored)
    assert pve.observed(100, "pve1", dict(CONFIG, **stored), {"status": "stopped"}).secure_boot
    assert not pve.secure_boot_of(dict(stored, bios="seabios"))
    assert not pve.secure_boot_of(dict(stored, efidisk0="local-lvm:vm-100-disk-1,efitype=2m,size=528K"))
    assert not pve.secure_boot_of({"bios": "ovmf"})


def test_a_vncproxy_answer_becomes_console_access_with_the_ticket_only_in_its_secrets():
    answer = {"user": "root@pam", "ticket": "PVEVNC:6543ABCD::sig/na+ture=", "port": "5901", "upid": "UPID:x",
              "cert": "-----BEGIN CERTIFICATE-----"}
    access = pve.vnc_access(answer, pve.web_address("pve.example", 8006), "pve.example", "pve1", 101)
    assert (access.type, access.host, access.port, access.password) == (
        "vnc", "pve.example", 5901, "PVEVNC:6543ABCD::sig/na+ture=")
    assert access.url == "https://pve.example:8006/?console=kvm&novnc=1&vmid=101&node=pve1"
    assert access.websocket_url == ("wss://pve.example:8006/api2/json/nodes/pve1/qemu/101/vncwebsocket?port=5901"
                                    "&vncticket=PVEVNC%3A6543ABCD%3A%3Asig%2Fna%2Bture%3D")
    assert "PVEVNC" not in repr(access)
