# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device specs of a vSphere VM: disks, NICs and their network backings, the SCSI controller, extraConfig options.

Pure building of pyVmomi objects, except the backing of a NIC, which looks up
distributed port groups by name through the session's ``content``.
"""

from __future__ import annotations

import base64
from typing import Any

from ...errors import ConflictError, NotFoundError, UnsupportedError
from ...spec import GIB, DiskSpec, NetworkSpec, VMSpec
from ..base import NicChange, Reconfiguration
from . import client
from . import translate as vs
from .translate import EXTRA_PREFIX

try:
    from pyVmomi import vim
except ImportError:  # pragma: no cover - client.connect reports it
    vim = None  # type: ignore[assignment]  # unused without pyVmomi

NIC_CLASSES = {"vmxnet3": "VirtualVmxnet3", "e1000": "VirtualE1000", "e1000e": "VirtualE1000e",
               "virtio": "VirtualVmxnet3", "rtl8139": "VirtualE1000"}


def option(key: str, value: Any) -> Any:
    return vim.option.OptionValue(key=key, value=str(value))


def nic_key(by_name: dict[str, int], name: str) -> int:
    if name not in by_name:
        raise NotFoundError("the VM has no NIC named '%s'" % name)
    return by_name[name]


def cloud_init(spec: VMSpec) -> list[Any]:
    """cloud-init's VMware datasource reads these guestinfo keys."""
    pairs = (("userdata", spec.cloud_init.user_data), ("metadata", spec.cloud_init.meta_data),
             ("networkconfig", spec.cloud_init.network_config))
    extra = []
    for key, text in pairs:
        if text:
            extra.append(option("guestinfo.%s" % key, base64.b64encode(text.encode("utf-8")).decode("ascii")))
            extra.append(option("guestinfo.%s.encoding" % key, "base64"))
    return extra


def scsi_controller() -> Any:
    controller = vim.vm.device.ParaVirtualSCSIController(key=1000, busNumber=0, sharedBus="noSharing")
    return vim.vm.device.VirtualDeviceSpec(operation="add", device=controller)


def new_disk(devices: list[Any], disk: DiskSpec, key: int) -> Any:
    controller = next((d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController)), None)
    controller_key = controller.key if controller is not None else 1000
    used = {d.unitNumber for d in devices if getattr(d, "controllerKey", None) == controller_key}
    unit = next(u for u in range(16) if u != 7 and u not in used)
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
        diskMode="persistent", thinProvisioned=disk.type == "thin", eagerlyScrub=disk.type == "eagerzeroedthick")
    device = vim.vm.device.VirtualDisk(key=key, controllerKey=controller_key, unitNumber=unit,
                                       capacityInKB=disk.size_gib * 1024 * 1024, backing=backing)
    return vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=device)


def grow(disk: Any, size_gib: int) -> Any:
    disk.capacityInKB = size_gib * 1024 * 1024
    disk.capacityInBytes = size_gib * GIB
    return vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk)


def backing(content: Any, name: str) -> Any:
    """How a NIC attaches to the network of this name: a standard one by name (every datacenter may have its
    own "VM Network"), a distributed port group through a port of its switch."""
    groups = [(obj, props) for obj, props in client.collect(
        content, vim.dvs.DistributedVirtualPortgroup, ("name", "key", "config.distributedVirtualSwitch"))
        if props.get("name") == name]
    if not groups:
        return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=name)
    if len(groups) > 1:
        ids = ", ".join(obj._moId for obj, dummy in groups)  # pylint: disable=protected-access
        raise ConflictError("%d distributed port groups are named '%s': %s" % (len(groups), name, ids),
                            option="networks")
    props = groups[0][1]
    port = vim.dvs.PortConnection(portgroupKey=props["key"],
                                  switchUuid=props["config.distributedVirtualSwitch"].uuid)
    return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)


def new_nic(content: Any, network: NetworkSpec, default_network: Any, key: int) -> Any:
    card = getattr(vim.vm.device, NIC_CLASSES.get(network.model or "vmxnet3", "VirtualVmxnet3"))(key=key)
    card.backing = backing(content, network.network or default_network or "VM Network")
    card.connectable = vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True,
                                                               connected=True)
    if network.mac_address:
        card.addressType, card.macAddress = "manual", network.mac_address
    else:
        card.addressType = "generated"
    return vim.vm.device.VirtualDeviceSpec(operation="add", device=card)


def change_nics(content: Any, devices: list[Any], extra: dict[str, str], change: Reconfiguration,
                config: Any) -> None:
    """Device edits and removals for NICs changed in place or removed, found by name; a removed NIC's name goes."""
    by_name = {name: key for key, name in vs.nic_names(devices, extra).items()}
    cards = {d.key: d for d in devices}
    for name in change.remove_networks:
        config.deviceChange.append(vim.vm.device.VirtualDeviceSpec(operation="remove",
                                                                   device=cards[nic_key(by_name, name)]))
        config.extraConfig.append(option(EXTRA_PREFIX + "nic." + name, ""))
    for nic_change in change.change_networks:
        card = cards[nic_key(by_name, nic_change.network.name)]
        edit_nic(content, card, nic_change)
        config.deviceChange.append(vim.vm.device.VirtualDeviceSpec(operation="edit", device=card))


def edit_nic(content: Any, card: Any, change: NicChange) -> None:
    wanted = change.network
    if "ip_address" in change.fields:
        raise UnsupportedError("vSphere keeps no static address for the guest; give it through "
                               "cloud_init.network_config", option="networks")
    if "network" in change.fields:
        card.backing = backing(content, wanted.network or wanted.bridge or "VM Network")
    if "mac_address" in change.fields:
        card.addressType, card.macAddress = "manual", wanted.mac_address
