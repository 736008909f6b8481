# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remote backend's translation: PascalCase payloads both ways."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    Capabilities,
    ObservedDisk,
    ObservedNIC,
    ObservedVM,
    Reconfiguration,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote import translate as codec
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import DiskSpec, NetworkSpec, Placement, parse_vm

SPEC = parse_vm({
    "name": "web-1", "cpu": 2, "memory": "4Gi", "firmware": "uefi", "image": "debian-12",
    "disk_defaults": {"size": "40Gi"}, "disks": [{"name": "data", "size": "100Gi"}],
    "networks": [{"name": "lan", "network": "VM Network", "ip_address": "192.0.2.5", "prefix": 24,
                  "dns": ["192.0.2.53"]}],
    "placement": {"datastore": "ds1"}, "tags": ["web"],
    "cloud_init": {"user_data": "#cloud-config\n", "network_config": "version: 2\n"},
})


def request(fields):
    return SimpleNamespace(**dict({"user_data": b"", "meta_data": b"", "tags": []}, **fields))


def test_create_fields_use_upstreams_pascal_case():
    fields = codec.create_fields(SPEC)
    vm_class = json.loads(fields["class_json"])
    assert list(vm_class)[:9] == ["CPU", "MemoryMiB", "Firmware", "DiskDefaults", "GuestToolsPolicy", "ExtraConfig",
                                  "PerformanceProfile", "SecurityProfile", "ResourceLimits"]
    assert (vm_class["CPU"], vm_class["MemoryMiB"], vm_class["Firmware"]) == (2, 4096, "UEFI")
    assert vm_class["DiskDefaults"] == {"Type": "thin", "SizeGiB": 40}
    network = json.loads(fields["networks_json"])[0]
    assert (network["NetworkName"], network["StaticIP"], network["DNS"], network["PCISlotNumber"]) == (
        "VM Network", "192.0.2.5", "192.0.2.53", None)
    assert json.loads(fields["disks_json"]) == [{"SizeGiB": 100, "Type": "thin", "Name": "data"}]
    assert json.loads(fields["image_json"])["TemplateName"] == "debian-12"
    empty = codec.create_fields(parse_vm({"name": "bare"}))
    assert (empty["networks_json"], empty["disks_json"], empty["placement_json"], empty["image_json"]) == (
        "null", "null", "", "")


def test_create_round_trip():
    assert parse_vm(codec.create_params(request(codec.create_fields(SPEC)))) == SPEC


def test_decoders_take_any_case_and_null():
    params = codec.create_params(request({
        "name": "x", "class_json": '{"cpu": 2, "memorymib": 512, "diskDefaults": null}',
        "image_json": '{"templateName": "t"}', "networks_json": "null", "disks_json": "null", "placement_json": "",
    }))
    spec = parse_vm(params)
    assert (spec.cpu, spec.memory_mib, spec.image, spec.networks, spec.disks) == (2, 512, "t", (), ())


def test_bad_json_names_the_field():
    with pytest.raises(errors.SpecError) as caught:
        codec.create_params(request({"name": "x", "class_json": "{", "image_json": "", "networks_json": "",
                                     "disks_json": "", "placement_json": ""}))
    assert caught.value.option == "class_json"


OBSERVED = ObservedVM(id="vm-1", name="web-1", power_state="On", cpu=2, memory_mib=1024,
                      disks=(ObservedDisk("root", 10), ObservedDisk("data", 5)),
                      nics=(ObservedNIC("lan", mac_address="52:54:00:00:00:01", ip_addresses=("192.0.2.9",)),))


def test_reconfiguration_against_the_vm():
    desired = codec.reconfigure_document(Reconfiguration(
        cpu=4, disk_sizes_gib={"data": 8}, add_disks=(DiskSpec("logs", 2),), add_networks=(NetworkSpec("wan"),),
        networks=(NetworkSpec("lan"), NetworkSpec("wan")), tags=("b", "a")))
    change = codec.reconfiguration(json.loads(codec.dumps(desired)), OBSERVED)
    assert (change.cpu, change.memory_mib, change.disk_sizes_gib, change.tags, change.live) == (
        4, None, {"data": 8}, ("a", "b"), True)
    assert [d.name for d in change.add_disks] == ["logs"] and [n.name for n in change.add_networks] == ["wan"]
    assert not change.change_networks and not change.remove_networks
    assert not codec.reconfiguration({"Class": {"CPU": 2, "MemoryMiB": 1024}}, OBSERVED)


NIC_VM = ObservedVM(id="vm-1", name="web-1", power_state="Off", nics=(
    ObservedNIC("lan", mac_address="52:54:00:00:00:01", network="default", static_ip=""),
    ObservedNIC("backup", mac_address="52:54:00:00:00:02", bridge="br0")))


@pytest.mark.parametrize("networks, added, changed, removed", [
    (None, [], [], []),
    ([], [], [], ["lan", "backup"]),
    ([{"Name": "lan", "NetworkName": "default"}, {"Name": "backup", "Bridge": "br0"}], [], [], []),
    ([{"Name": "lan", "NetworkName": "other", "MacAddress": "52:54:00:00:00:0A", "StaticIP": "192.0.2.7/25"}],
     [], [("lan", ("network", "mac_address", "ip_address"))], ["backup"]),
    ([{"name": "backup", "bridge": "br0"}, {"name": "wan", "networkName": "default"}], ["wan"], [], ["lan"]),
])
def test_the_runtime_reads_the_whole_nic_list_by_name(networks, added, changed, removed):
    """Upstream's manager sends every NIC in desired_json, as our client does: the runtime adds, changes and removes
    NICs to match it, and leaves them alone when the list is null."""
    change = codec.reconfiguration({"Networks": networks}, NIC_VM)
    assert [n.name for n in change.add_networks] == added
    assert [(c.network.name, c.fields) for c in change.change_networks] == changed
    assert list(change.remove_networks) == removed
    if changed:
        assert (change.change_networks[0].network.mac_address, change.change_networks[0].network.prefix) == (
            "52:54:00:00:00:0a", 25)


def test_our_client_sends_the_whole_nic_list_or_none():
    document = codec.reconfigure_document(Reconfiguration(remove_networks=("backup",), networks=(NetworkSpec("lan"),)))
    assert [n["Name"] for n in document["Networks"]] == ["lan"]
    assert codec.reconfigure_document(Reconfiguration(cpu=2))["Networks"] is None
    with pytest.raises(errors.ProviderError):
        codec.reconfigure_document(Reconfiguration(add_networks=(NetworkSpec("wan"),)))


def test_bad_nic_lists_name_the_option():
    with pytest.raises(errors.SpecError) as caught:
        codec.reconfiguration({"Networks": [{"Name": "lan", "MacAddress": "nope"}]}, NIC_VM)
    assert caught.value.option == "networks[0].mac_address"
    with pytest.raises(errors.SpecError) as caught:
        codec.reconfiguration({"Networks": {"Name": "lan"}}, NIC_VM)
    assert caught.value.option == "desired_json.Networks"


def test_nic_changes_and_secure_boot_travel_as_trailing_metadata():
    response = SimpleNamespace(**{name: False if name.startswith("supports") else []
                                  for name in Capabilities.wire_fields()})
    wanted = {"remove_network": "live", "set_ip_address": "offline"}
    sent = Capabilities(nic_changes=wanted, supports_secure_boot=True)
    received = codec.capabilities_from(response, dict(codec.capability_trailers(sent)))
    assert received.nic_changes == wanted and received.supports_secure_boot
    upstream = codec.capabilities_from(response)  # an upstream runtime: no NIC changes in place, no secure boot
    assert upstream.nic_changes == {} and not upstream.supports_secure_boot
    assert not {"nic_changes", "supports_secure_boot"} & set(sent.to_dict())


def test_observed_vm_round_trip():
    document = json.loads(codec.dumps(codec.observed_document(OBSERVED)))
    assert codec.observed_from_document(document) == OBSERVED
    vm = ObservedVM(**dict(vars(NIC_VM), placement=Placement(datastore="ds1", host="h1"), nics=(
        ObservedNIC("lan", static_ip="192.0.2.7/24", gateway="192.0.2.1", dns=("192.0.2.53",)),)))
    assert codec.observed_from_document(json.loads(codec.dumps(codec.observed_document(vm)))) == vm


@pytest.mark.parametrize("value, state", [("On", "On"), ("running", "On"), ("poweredOn", "On"), ("Off", "Off"),
                                          ("paused", "Off"), ("", "Off")])
def test_power_state_is_on_or_off(value, state):
    assert codec.power_state(value) == state


def test_secure_boot_travels_in_the_class_security_profile():
    secure = parse_vm({"name": "web", "firmware": "uefi", "secure_boot": True})
    document = codec.class_document(secure)
    assert document["SecurityProfile"]["SecureBoot"] is True and len(document["SecurityProfile"]) == 7
    assert codec.class_document(parse_vm({"name": "web"}))["SecurityProfile"] is None
    request = SimpleNamespace(**dict(codec.create_fields(secure), disks_json="null"))
    assert parse_vm(codec.create_params(request)).secure_boot is True
    upstream = dict(codec.create_fields(secure), class_json=codec.dumps(dict(document, Firmware="")))
    params = codec.create_params(SimpleNamespace(**upstream))
    assert (params["firmware"], params["secure_boot"]) == ("uefi", True)  # upstream: secure boot means EFI


@pytest.mark.parametrize("backing_file, metadata, chain", [
    ("", {}, ()),
    ("/a", {}, ("/a",)),
    ("/a", codec.backing_chain_metadata(("/a", "/b c")), ("/a", "/b c")),
    ("/a", {"backing_chain": "not json"}, ("/a",)),
    ("/a", {"backing_chain": "[1]"}, ("/a",)),
])
def test_a_backing_chain_rides_in_the_disk_metadata(backing_file, metadata, chain):
    assert codec.backing_chain(backing_file, metadata) == chain
