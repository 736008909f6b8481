# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VM's vSphere properties as an :class:`ObservedVM`, and vSphere faults as the collection's errors.

Pure: no pyVmomi import (objects are told apart by their vmodl type names), no
calls.  The collection keeps what vSphere has no field for (disk and NIC names,
tags, the hot-plug ceiling) in ``config.extraConfig`` under the ``virtrigaud.``
prefix.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, cast

from ... import errors
from ...spec import Placement
from ..base import ConsoleAccess, ObservedDisk, ObservedNIC, ObservedVM, usable_ip

EXTRA_PREFIX = "virtrigaud."
VM_PROPERTIES = (
    "name", "config.instanceUuid", "config.template", "runtime.powerState", "config.hardware.numCPU",
    "config.hardware.memoryMB", "config.firmware", "config.hardware.device", "config.extraConfig",
    "config.cpuHotAddEnabled", "config.memoryHotAddEnabled", "guest.net", "config.files.vmPathName",
    "config.bootOptions", "runtime.host",
)
# What the inventory reads: no devices (their XML is most of a full listing), so disks are left out and NICs
# come from the guest's own report (VMware Tools).
SUMMARY_PROPERTIES = (
    "name", "config.template", "runtime.powerState", "config.hardware.numCPU", "config.hardware.memoryMB",
    "config.firmware", "config.extraConfig", "guest.net",
)
# What list_states reads: no devices either; addresses are those the guest reports for its virtual NICs.
STATE_PROPERTIES = ("name", "config.template", "runtime.powerState", "config.extraConfig", "guest.net", "runtime.host")
_DEVICE = "vim.vm.device."
_NIC_MODELS = {"VirtualVmxnet3": "vmxnet3", "VirtualE1000": "e1000", "VirtualE1000e": "e1000e",
               "VirtualVmxnet2": "vmxnet2", "VirtualPCNet32": "pcnet32"}


def type_names(value: Any) -> list[str]:
    """The vmodl type names of a pyVmomi object and its bases, most derived first (``vim.vm.device.VirtualDisk``)."""
    return [cls.__name__ for cls in type(value).__mro__]


def _is(value: Any, type_name: str) -> bool:
    return type_name in type_names(value)


def extra_config(props: Mapping[str, Any]) -> dict[str, str]:
    return {option.key: str(option.value) for option in props.get("config.extraConfig") or ()}


def disk_names(devices: list[Any], extra: Mapping[str, str]) -> dict[int, str]:
    """Device key → the spec's disk name; an unnamed first disk is ``root``."""
    named = {int(value): key[len(EXTRA_PREFIX + "disk."):] for key, value in extra.items()
             if key.startswith(EXTRA_PREFIX + "disk.") and value.isdigit()}
    disks = [d for d in devices if _is(d, _DEVICE + "VirtualDisk")]
    if disks and "root" not in named.values() and disks[0].key not in named:
        named[disks[0].key] = "root"
    return {d.key: named.get(d.key, d.deviceInfo.label if d.deviceInfo else str(d.key)) for d in disks}


def nic_names(devices: list[Any], extra: Mapping[str, str]) -> dict[int, str]:
    named = {int(value): key[len(EXTRA_PREFIX + "nic."):] for key, value in extra.items()
             if key.startswith(EXTRA_PREFIX + "nic.") and value.isdigit()}
    nics = [d for d in devices if _is(d, _DEVICE + "VirtualEthernetCard")]
    return {d.key: named.get(d.key, "nic%d" % index) for index, d in enumerate(nics)}


def portgroup_key(card: Any) -> Optional[str]:
    """The distributed port group a NIC is on, by key; None for a NIC on a standard network."""
    backing = card.backing
    if _is(backing, _DEVICE + "VirtualEthernetCard.DistributedVirtualPortBackingInfo"):
        return cast(Optional[str], backing.port.portgroupKey)
    return None


def _network_name(card: Any, portgroups: Mapping[str, str]) -> Optional[str]:
    backing = card.backing
    if _is(backing, _DEVICE + "VirtualEthernetCard.NetworkBackingInfo"):
        return cast(Optional[str], backing.deviceName)
    key = portgroup_key(card)
    return portgroups.get(key, key) if key else None


def datastore_of(path: Optional[str]) -> Optional[str]:
    """The datastore of a ``[datastore] folder/file.vmx`` path."""
    if not path or not path.startswith("[") or "]" not in path:
        return None
    return path[1:path.index("]")] or None


def web_address(host: str, port: int) -> str:
    """The vCenter's web address, as a browser reaches it."""
    shown = "[%s]" % host if ":" in host else host
    return "https://%s" % shown if port == 443 else "https://%s:%d" % (shown, port)


def console_url(web: str, vm_id: str, instance_uuid: Optional[str]) -> Optional[str]:
    """The VM's page in the vSphere Client, where its console opens; the same address VirtRigaud's provider gives."""
    if not web or not instance_uuid:
        return None
    return "%s/ui/#?extensionId=vsphere.core.vm.summary&objectId=urn:vmomi:VirtualMachine:%s:%s" % (
        web, vm_id, instance_uuid)


def webmks_access(ticket: Any, web: str, vm_id: str, instance_uuid: Optional[str], vcenter_host: str) -> ConsoleAccess:
    """A VirtualMachineTicket of type webmks as console access: the ticket is the secret, and the WebSocket URL
    a WebMKS client opens embeds it."""
    host = getattr(ticket, "host", None) or vcenter_host
    port = int(getattr(ticket, "port", None) or 443)
    shown = "[%s]" % host if ":" in host else host
    return ConsoleAccess(
        type="webmks", url=console_url(web, vm_id, instance_uuid) or web, host=host, port=port,
        password=ticket.ticket, websocket_url="wss://%s:%d/ticket/%s" % (shown, port, ticket.ticket),
    )


def observed(vm: Any, props: Mapping[str, Any], portgroups: Optional[Mapping[str, str]] = None,
             web: str = "", hosts: Optional[Mapping[str, str]] = None) -> ObservedVM:
    """The VM from VM_PROPERTIES; ``portgroups`` names distributed port groups by key, ``web`` is the vCenter's
    web address, ``hosts`` names hosts by id."""
    devices = list(props.get("config.hardware.device") or ())
    extra = extra_config(props)
    disks = disk_names(devices, extra)
    nics = nic_names(devices, extra)
    running = props.get("runtime.powerState") == "poweredOn"
    addresses: dict[str, tuple[str, ...]] = {}
    for guest_nic in props.get("guest.net") or ():
        if guest_nic.macAddress:
            addresses[guest_nic.macAddress.lower()] = tuple(a for a in guest_nic.ipAddress or () if usable_ip(a))
    cpu = props.get("config.hardware.numCPU")
    memory = props.get("config.hardware.memoryMB")
    tags = extra.get(EXTRA_PREFIX + "tags", "")
    return ObservedVM(
        id=vm._moId,  # pylint: disable=protected-access  # the MoRef id is what upstream uses as the VM id
        name=props.get("name", ""),
        power_state="On" if running else "Off",
        cpu=cpu,
        memory_mib=memory,
        firmware="uefi" if props.get("config.firmware") == "efi" else "bios",
        secure_boot=secure_boot_of(props),
        max_cpu=int(extra.get(EXTRA_PREFIX + "maxCpu", 0)) if props.get("config.cpuHotAddEnabled") else cpu,
        max_memory_mib=(int(extra.get(EXTRA_PREFIX + "maxMemoryMiB", 0))
                        if props.get("config.memoryHotAddEnabled") else memory),
        disks=tuple(
            ObservedDisk(name=disks[d.key], size_gib=-(-int(d.capacityInKB) // (1024 * 1024)), format="vmdk",
                         path=getattr(d.backing, "fileName", None), device=str(d.key))
            for d in devices if d.key in disks
        ),
        nics=tuple(
            ObservedNIC(name=nics[d.key], mac_address=(d.macAddress or "").lower() or None,
                        network=_network_name(d, portgroups or {}),
                        model=_NIC_MODELS.get(type(d).__name__.rsplit(".", 1)[-1]),
                        ip_addresses=addresses.get((d.macAddress or "").lower(), ()) if running else ())
            for d in devices if d.key in nics
        ),
        tags=tuple(sorted(t for t in tags.split(",") if t)),
        placement=Placement(datastore=datastore_of(props.get("config.files.vmPathName")),
                            host=(hosts or {}).get(_moid(props.get("runtime.host")) or "")),
        console_url=console_url(web, vm._moId, props.get("config.instanceUuid")),  # pylint: disable=protected-access
        raw={"instance_uuid": props.get("config.instanceUuid")},
    )


def _moid(obj: Any) -> Optional[str]:
    return getattr(obj, "_moId", None) if obj is not None else None


def host_names(hosts: Any) -> dict[str, str]:
    """Host names by id, from (HostSystem, {name}) pairs."""
    return {_moid(obj) or "": props.get("name", "") for obj, props in hosts}


def clusters_of(names: Mapping[str, str], clusters: Any) -> dict[str, str]:
    """The cluster of each host by host name, from host names by id and (ClusterComputeResource, {name, host})
    pairs."""
    return {names.get(_moid(member) or "", ""): props.get("name", "")
            for dummy, props in clusters for member in props.get("host") or ()}


def secure_boot_of(props: Mapping[str, Any]) -> bool:
    boot = props.get("config.bootOptions")
    return props.get("config.firmware") == "efi" and bool(getattr(boot, "efiSecureBootEnabled", False))


def observed_summary(vm: Any, props: Mapping[str, Any]) -> ObservedVM:
    """An ObservedVM from SUMMARY_PROPERTIES: NICs as the guest reports them, no disks."""
    extra = extra_config(props)
    running = props.get("runtime.powerState") == "poweredOn"
    names = {int(value): key[len(EXTRA_PREFIX + "nic."):] for key, value in extra.items()
             if key.startswith(EXTRA_PREFIX + "nic.") and value.isdigit()}
    nics = tuple(
        ObservedNIC(name=names.get(guest_nic.deviceConfigId, guest_nic.network or "nic%d" % index),
                    mac_address=(guest_nic.macAddress or "").lower() or None, network=guest_nic.network,
                    ip_addresses=tuple(a for a in guest_nic.ipAddress or () if usable_ip(a)) if running else ())
        for index, guest_nic in enumerate(props.get("guest.net") or ())
    )
    return ObservedVM(
        id=vm._moId,  # pylint: disable=protected-access  # the MoRef id is what upstream uses as the VM id
        name=props.get("name", ""),
        power_state="On" if running else "Off",
        cpu=props.get("config.hardware.numCPU"),
        memory_mib=props.get("config.hardware.memoryMB"),
        firmware="uefi" if props.get("config.firmware") == "efi" else "bios",
        nics=nics,
        tags=tuple(sorted(t for t in extra.get(EXTRA_PREFIX + "tags", "").split(",") if t)),
    )


def observed_state(vm: Any, props: Mapping[str, Any], hosts: Mapping[str, str]) -> ObservedVM:
    """An ObservedVM from STATE_PROPERTIES: id, name, tags, power state, host, and NICs with the addresses the
    guest reports for each virtual NIC, in device order, as :func:`observed` matches them to the devices; NICs
    of the guest's own (a bridge inside it, no ``deviceConfigId``) are left out there and here."""
    extra = extra_config(props)
    running = props.get("runtime.powerState") == "poweredOn"
    names = {int(value): key[len(EXTRA_PREFIX + "nic."):] for key, value in extra.items()
             if key.startswith(EXTRA_PREFIX + "nic.") and value.isdigit()}
    virtual = sorted((nic for nic in props.get("guest.net") or () if _device_key(nic) >= 0 and nic.macAddress),
                     key=_device_key)
    return ObservedVM(
        id=vm._moId,  # pylint: disable=protected-access  # the MoRef id is what upstream uses as the VM id
        name=props.get("name", ""),
        power_state="On" if running else "Off",
        nics=tuple(ObservedNIC(name=names.get(nic.deviceConfigId, "nic%d" % nic.deviceConfigId),
                               mac_address=nic.macAddress.lower(), network=nic.network,
                               ip_addresses=tuple(a for a in nic.ipAddress or () if usable_ip(a)) if running else ())
                   for nic in virtual),
        tags=tuple(sorted(t for t in extra.get(EXTRA_PREFIX + "tags", "").split(",") if t)),
        placement=Placement(host=hosts.get(_moid(props.get("runtime.host")) or "")),
    )


def _device_key(guest_nic: Any) -> int:
    key = getattr(guest_nic, "deviceConfigId", None)
    return -1 if key is None else int(key)


# errors

_FAULTS: tuple[tuple[str, type[errors.VirtrigaudError]], ...] = (
    ("ManagedObjectNotFound", errors.NotFoundError),
    ("NotFound", errors.NotFoundError),
    ("FileNotFound", errors.NotFoundError),
    ("DuplicateName", errors.AlreadyExistsError),
    ("InvalidPowerState", errors.PreconditionError),
    ("InvalidState", errors.PreconditionError),
    ("ToolsUnavailable", errors.PreconditionError),
    ("NoPermission", errors.PermissionDeniedError),
    ("NotAuthenticated", errors.AuthenticationError),
    ("NotSupported", errors.UnsupportedError),
    # A server without the method: vcsim answers AcquireTicket so.
    ("MethodNotFound", errors.UnsupportedError),
    ("InvalidArgument", errors.SpecError),
    ("InvalidRequest", errors.SpecError),
    ("HostCommunication", errors.UnavailableError),
    ("Timedout", errors.DeadlineExceededError),
)


def translate(fault: Any, operation: Optional[str] = None) -> errors.VirtrigaudError:
    """A vmodl fault as the collection's error, by the fault's class name."""
    names = [name.rsplit(".", 1)[-1] for name in type_names(fault)]
    message = getattr(fault, "msg", None) or str(fault)
    for name, cls in _FAULTS:
        if name in names:
            return cls(message, operation=operation, details={"vsphere_fault": names[0]})
    return errors.ProviderError(message, operation=operation, details={"vsphere_fault": names[0]})
