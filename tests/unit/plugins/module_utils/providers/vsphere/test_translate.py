# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a vSphere VM's properties into an observed VM."""

from __future__ import annotations

import pytest

vim = pytest.importorskip("pyVmomi").vim


def disk(key, unit, gib):
    return vim.vm.device.VirtualDisk(key=key, unitNumber=unit, controllerKey=1000, capacityInKB=gib * 1024 * 1024,
                                     deviceInfo=vim.Description(label="Hard disk %d" % (unit + 1), summary=""))


def test_disks_are_named_from_extra_config_and_the_first_is_root():
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import translate as inventory

    devices = [disk(2000, 0, 20), disk(2001, 1, 5), disk(2002, 2, 1)]
    extra = {"virtrigaud.disk.data": "2001"}
    assert inventory.disk_names(devices, extra) == {2000: "root", 2001: "data", 2002: "Hard disk 3"}


def test_observed_vm_reads_hardware_ips_tags_and_ceilings():
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import translate as inventory

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
    vm = inventory.observed(vim.VirtualMachine("vm-42"), props)
    assert (vm.id, vm.power_state, vm.cpu, vm.memory_mib, vm.firmware) == ("vm-42", "On", 2, 2048, "uefi")
    assert (vm.max_cpu, vm.max_memory_mib) == (8, 2048)
    assert vm.disks[0].name == "root" and vm.disks[0].size_gib == 20
    assert vm.nics[0].name == "lan" and vm.nics[0].model == "vmxnet3" and vm.nics[0].network == "VM Network"
    assert vm.ip_addresses == ("10.1.2.3",)
    assert vm.tags == ("a", "b")


def test_observed_vm_names_distributed_port_groups_and_its_datastore():
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import translate as inventory

    card = vim.vm.device.VirtualVmxnet3(key=4000, macAddress="00:50:56:AA:BB:CD")
    card.backing = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
        port=vim.dvs.PortConnection(portgroupKey="dvportgroup-11", switchUuid="u"))
    props = {"name": "web", "runtime.powerState": "poweredOff", "config.hardware.device": [card],
             "config.extraConfig": [vim.option.OptionValue(key="virtrigaud.nic.lan", value="4000")],
             "config.files.vmPathName": "[LocalDS_0] web/web.vmx"}
    vm = inventory.observed(vim.VirtualMachine("vm-43"), props, {"dvportgroup-11": "DC0_DVPG0"})
    assert (vm.nics[0].name, vm.nics[0].network, vm.nics[0].static_ip) == ("lan", "DC0_DVPG0", None)
    assert vm.placement.datastore == "LocalDS_0"
    assert inventory.observed(vim.VirtualMachine("vm-43"), props).nics[0].network == "dvportgroup-11"
    assert inventory.datastore_of("no brackets") is None


def test_observed_vm_names_its_host_and_hosts_know_their_cluster():
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import translate as inventory

    hosts = [(vim.HostSystem("host-1"), {"name": "DC0_C0_H0"}), (vim.HostSystem("host-2"), {"name": "DC0_H0"})]
    clusters = [(vim.ClusterComputeResource("domain-c1"), {"name": "DC0_C0", "host": [vim.HostSystem("host-1")]})]
    names = inventory.host_names(hosts)
    cluster_of = inventory.clusters_of(names, clusters)
    assert names == {"host-1": "DC0_C0_H0", "host-2": "DC0_H0"} and cluster_of == {"DC0_C0_H0": "DC0_C0"}
    props = {"name": "web", "runtime.powerState": "poweredOff", "runtime.host": vim.HostSystem("host-2")}
    assert inventory.observed(vim.VirtualMachine("vm-44"), props, hosts=names).placement.host == "DC0_H0"
    assert inventory.observed(vim.VirtualMachine("vm-44"), props).placement.host is None


def test_a_webmks_ticket_becomes_console_access_and_the_page_url_holds_no_secret():
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import translate as inventory

    web = inventory.web_address("vc.example", 443)
    page = inventory.console_url(web, "vm-42", "5003-aa")
    assert page == ("https://vc.example/ui/#?extensionId=vsphere.core.vm.summary"
                    "&objectId=urn:vmomi:VirtualMachine:vm-42:5003-aa")
    ticket = vim.VirtualMachineTicket(ticket="t-123", cfgFile="[ds] vm/vm.vmx", host="esx1.example", port=443)
    access = inventory.webmks_access(ticket, web, "vm-42", "5003-aa", "vc.example")
    assert (access.type, access.url, access.host, access.port, access.password) == (
        "webmks", page, "esx1.example", 443, "t-123")
    assert access.websocket_url == "wss://esx1.example:443/ticket/t-123"
    assert inventory.console_url(web, "vm-42", None) is None


def test_the_state_listing_reports_a_member_as_the_full_listing_does_without_its_devices():
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import translate as inventory

    cards = [vim.vm.device.VirtualVmxnet3(key=key, macAddress=mac)
             for key, mac in ((4000, "00:50:56:AA:00:01"), (4001, "00:50:56:AA:00:02"))]
    guest = [vim.vm.GuestInfo.NicInfo(macAddress="00:50:56:aa:00:02", deviceConfigId=4001, ipAddress=["10.0.0.2"]),
             vim.vm.GuestInfo.NicInfo(macAddress="02:42:ac:11:00:01", deviceConfigId=-1, ipAddress=["172.17.0.1"]),
             vim.vm.GuestInfo.NicInfo(macAddress="00:50:56:aa:00:01", deviceConfigId=4000,
                                      ipAddress=["10.0.0.1", "fe80::1"])]
    hosts = {"host-2": "DC0_H0"}
    props = {"name": "web-0", "runtime.powerState": "poweredOn", "runtime.host": vim.HostSystem("host-2"),
             "config.extraConfig": [vim.option.OptionValue(key="virtrigaud.tags", value="vmset.web,vmset-rev.1a")],
             "guest.net": guest}
    full = inventory.observed(vim.VirtualMachine("vm-7"), dict(props, **{"config.hardware.device": cards}),
                              hosts=hosts)
    state = inventory.observed_state(vim.VirtualMachine("vm-7"), props, hosts)
    assert set(inventory.STATE_PROPERTIES) < set(inventory.VM_PROPERTIES)
    assert "config.hardware.device" not in inventory.STATE_PROPERTIES
    for vm in (full, state):
        assert (vm.id, vm.name, vm.power_state, vm.placement.host) == ("vm-7", "web-0", "On", "DC0_H0")
        assert vm.tags == ("vmset-rev.1a", "vmset.web")
        assert vm.ip_addresses == ("10.0.0.1", "10.0.0.2")
    stopped = inventory.observed_state(vim.VirtualMachine("vm-7"), dict(props, **{"runtime.powerState": "poweredOff"}),
                                       hosts)
    assert stopped.power_state == "Off" and stopped.ip_addresses == ()
