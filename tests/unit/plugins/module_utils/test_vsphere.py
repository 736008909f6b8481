# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vSphere backend's pure parts: endpoints, fault mapping, and reading VM properties."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import client
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import translate as vs

vim = pytest.importorskip("pyVmomi").vim


@pytest.mark.parametrize("uri, port, expected", [
    ("vc.example.com", None, ("vc.example.com", 443)),
    ("vc.example.com", 8443, ("vc.example.com", 8443)),
    ("https://vc.example.com/sdk", None, ("vc.example.com", 443)),
    ("https://vc.example.com:9443/sdk", 8443, ("vc.example.com", 9443)),
])
def test_endpoints(uri, port, expected):
    options = {"port": port} if port else {}
    assert client.endpoint(ProviderConfig(type="vsphere", uri=uri, options=options)) == expected


def test_a_host_is_required():
    with pytest.raises(errors.SpecError) as caught:
        client.endpoint(ProviderConfig(type="vsphere"))
    assert caught.value.option == "hostname"


@pytest.mark.parametrize("fault, cls", [
    (vim.fault.InvalidPowerState(msg="off"), errors.PreconditionError),
    (vim.fault.ToolsUnavailable(msg="no tools"), errors.PreconditionError),
    (vim.fault.DuplicateName(msg="taken"), errors.AlreadyExistsError),
    (vim.fault.NoPermission(msg="denied"), errors.PermissionDeniedError),
    (vim.fault.FileNotFound(msg="gone"), errors.NotFoundError),
    (vim.fault.InvalidDeviceOperation(msg="no"), errors.ProviderError),
])
def test_faults_map_to_the_taxonomy(fault, cls):
    err = vs.translate(fault, "reconfigure")
    assert err.error_code == cls.error_code
    assert err.operation == "reconfigure"
    assert err.details["vsphere_fault"]


def disk(key, unit, gib):
    return vim.vm.device.VirtualDisk(key=key, unitNumber=unit, controllerKey=1000, capacityInKB=gib * 1024 * 1024,
                                     deviceInfo=vim.Description(label="Hard disk %d" % (unit + 1), summary=""))


def test_disks_are_named_from_extra_config_and_the_first_is_root():
    devices = [disk(2000, 0, 20), disk(2001, 1, 5), disk(2002, 2, 1)]
    extra = {"virtrigaud.disk.data": "2001"}
    assert vs.disk_names(devices, extra) == {2000: "root", 2001: "data", 2002: "Hard disk 3"}


def test_observed_vm_reads_hardware_ips_tags_and_ceilings():
    card = vim.vm.device.VirtualVmxnet3(key=4000, macAddress="00:50:56:AA:BB:CC")
    card.backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName="VM Network")
    guest_nic = vim.vm.GuestInfo.NicInfo(macAddress="00:50:56:aa:bb:cc", ipAddress=["10.1.2.3", "fe80::1"])
    props = {
        "name": "web", "runtime.powerState": "poweredOn", "config.hardware.numCPU": 2,
        "config.hardware.memoryMB": 2048, "config.firmware": "efi", "config.cpuHotAddEnabled": True,
        "config.memoryHotAddEnabled": False, "config.hardware.device": [disk(2000, 0, 20), card],
        "config.extraConfig": [vim.option.OptionValue(key="virtrigaud.maxCpu", value="8"),
                               vim.option.OptionValue(key="virtrigaud.tags", value="b,a"),
                               vim.option.OptionValue(key="virtrigaud.nic.lan", value="4000")],
        "guest.net": [guest_nic],
    }
    vm = vs.observed(vim.VirtualMachine("vm-42"), props)
    assert (vm.id, vm.power_state, vm.cpu, vm.memory_mib, vm.firmware) == ("vm-42", "On", 2, 2048, "uefi")
    assert (vm.max_cpu, vm.max_memory_mib) == (8, 2048)
    assert vm.disks[0].name == "root" and vm.disks[0].size_gib == 20
    assert vm.nics[0].name == "lan" and vm.nics[0].model == "vmxnet3" and vm.nics[0].network == "VM Network"
    assert vm.ip_addresses == ("10.1.2.3",)
    assert vm.tags == ("a", "b")


def test_observed_vm_names_distributed_port_groups_and_its_datastore():
    card = vim.vm.device.VirtualVmxnet3(key=4000, macAddress="00:50:56:AA:BB:CD")
    card.backing = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
        port=vim.dvs.PortConnection(portgroupKey="dvportgroup-11", switchUuid="u"))
    props = {"name": "web", "runtime.powerState": "poweredOff", "config.hardware.device": [card],
             "config.extraConfig": [vim.option.OptionValue(key="virtrigaud.nic.lan", value="4000")],
             "config.files.vmPathName": "[LocalDS_0] web/web.vmx"}
    vm = vs.observed(vim.VirtualMachine("vm-43"), props, {"dvportgroup-11": "DC0_DVPG0"})
    assert (vm.nics[0].name, vm.nics[0].network, vm.nics[0].static_ip) == ("lan", "DC0_DVPG0", None)
    assert vm.placement.datastore == "LocalDS_0"
    assert vs.observed(vim.VirtualMachine("vm-43"), props).nics[0].network == "dvportgroup-11"
    assert vs.datastore_of("no brackets") is None
