# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider layer's values ↔ provider.v1 payloads.  Pure: no I/O, no grpc.

Encoders write the PascalCase JSON upstream's manager and providers use (Go
field names, every key present, ``null`` for nothing).  Decoders read keys
case-insensitively, as Go does, and accept ``null`` for any list.  The
collection's own runtime adds the whole observed VM under ``virtrigaud`` in
``provider_raw_json``; upstream runtimes do not, and the client then falls
back to ListVMs.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from ...errors import SpecError
from ...spec import DiskSpec, NetworkSpec, VMSpec
from ..base import Capabilities, ObservedDisk, ObservedNIC, ObservedVM, Reconfiguration, Snapshot

RAW_KEY = "virtrigaud"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def loads(text: Any, option: str) -> Any:
    """A JSON document from a *_json field; empty means null."""
    if text in (None, "", b""):
        return None
    try:
        return json.loads(text)
    except ValueError as err:
        raise SpecError("is not JSON: %s" % err, option=option) from None


def field(data: Optional[Mapping[str, Any]], name: str, default: Any = None) -> Any:
    """``data[name]`` matched case-insensitively, as Go's encoding/json matches keys."""
    if not isinstance(data, Mapping):
        return default
    if name in data:
        return data[name] if data[name] is not None else default
    lowered = name.lower()
    for key, value in data.items():
        if str(key).lower() == lowered:
            return value if value is not None else default
    return default


# spec → CreateRequest

def class_document(spec: VMSpec) -> dict[str, Any]:
    document: dict[str, Any] = {
        "CPU": spec.cpu or 0,
        "MemoryMiB": spec.memory_mib or 0,
        "Firmware": {"uefi": "UEFI", "bios": "BIOS"}.get(spec.firmware or "", ""),
        "DiskDefaults": {"Type": spec.disk_type, "SizeGiB": spec.root_disk_gib or 0},
        "GuestToolsPolicy": "",
        "ExtraConfig": None,
        "PerformanceProfile": None,
        "SecurityProfile": None,
        "ResourceLimits": None,
    }
    if spec.cloud_init.network_config:
        # Not an upstream field (Go decoders ignore unknown keys): cloud-init's network config has no slot.
        document["NetworkConfig"] = spec.cloud_init.network_config
    return document


def network_document(network: NetworkSpec) -> dict[str, Any]:
    return {
        "Name": network.name, "Portgroup": "", "NetworkName": network.network or "", "Bridge": network.bridge or "",
        "VLAN": 0, "Model": network.model or "", "MacAddress": network.mac_address or "", "IPPolicy": "",
        "StaticIP": network.ip_address or "", "Prefix": network.prefix or 0, "Gateway": network.gateway or "",
        "DNS": ",".join(network.dns), "PCISlotNumber": None,
    }


def disk_document(disk: DiskSpec) -> dict[str, Any]:
    return {"SizeGiB": disk.size_gib, "Type": disk.type, "Name": disk.name}


def create_fields(spec: VMSpec) -> dict[str, Any]:
    """The CreateRequest fields for ``spec``."""
    place = spec.placement
    placement = {"Datastore": place.datastore or "", "StoragePod": "", "Cluster": place.cluster or "",
                 "Folder": place.folder or "", "Host": place.host or "", "ResourcePool": place.resource_pool or ""}
    image = {"TemplateName": spec.image, "Path": "", "URL": "", "Format": "template", "Checksum": "",
             "ChecksumType": "sha256"} if spec.image else None
    return {
        "name": spec.name,
        "class_json": dumps(class_document(spec)),
        "image_json": dumps(image) if image else "",
        "networks_json": dumps([network_document(n) for n in spec.networks] or None),
        "disks_json": dumps([disk_document(d) for d in spec.disks] or None),
        "placement_json": dumps(placement) if any(vars(place).values()) else "",
        "tags": list(spec.tags or ()),
        "user_data": (spec.cloud_init.user_data or "").encode("utf-8"),
        "meta_data": (spec.cloud_init.meta_data or "").encode("utf-8"),
    }


# CreateRequest → module-shaped parameters (for spec.parse_vm)

def create_params(request: Any) -> dict[str, Any]:
    """What upstream's manager (or our client) sent, as the parameters ``parse_vm`` takes."""
    vm_class = loads(request.class_json, "class_json") or {}
    image = loads(request.image_json, "image_json")
    defaults = field(vm_class, "DiskDefaults") or {}
    params: dict[str, Any] = {
        "name": request.name,
        "cpu": field(vm_class, "CPU") or None,
        "memory": field(vm_class, "MemoryMiB") or None,
        "firmware": (field(vm_class, "Firmware") or "").lower() or None,
        "image": (field(image, "TemplateName") or field(image, "Path") or None) if image else None,
        "disk_defaults": {"size": field(defaults, "SizeGiB") or None, "type": _disk_type(field(defaults, "Type"))},
        "disks": [_disk_params(d) for d in loads(request.disks_json, "disks_json") or ()],
        "networks": [_network_params(n) for n in loads(request.networks_json, "networks_json") or ()],
        "placement": _placement_params(loads(request.placement_json, "placement_json")),
        "cloud_init": {
            "user_data": request.user_data.decode("utf-8") or None,
            "meta_data": request.meta_data.decode("utf-8") or None,
            "network_config": field(vm_class, "NetworkConfig") or None,
        },
        "tags": list(request.tags) or None,
    }
    return params


def _disk_type(value: Any) -> Optional[str]:
    text = str(value or "").lower().replace("-", "").replace("_", "")
    return {"eagerzeroed": "eagerzeroedthick"}.get(text, text) or None


def _disk_params(disk: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": field(disk, "Name"), "size": field(disk, "SizeGiB"), "type": _disk_type(field(disk, "Type"))}


def _network_params(network: Mapping[str, Any]) -> dict[str, Any]:
    name = field(network, "NetworkName") or field(network, "Portgroup") or None
    static = str(field(network, "StaticIP") or "")
    address, dummy, prefix = static.partition("/")
    dns = field(network, "DNS") or ()
    return {
        "name": field(network, "Name"),
        "network": name,
        "bridge": None if name else field(network, "Bridge") or None,
        "model": (field(network, "Model") or "").lower() or None,
        "mac_address": field(network, "MacAddress") or None,
        "ip_address": address or None,
        "prefix": field(network, "Prefix") or (int(prefix) if prefix.isdigit() else None),
        "gateway": field(network, "Gateway") or None,
        "dns": [d.strip() for d in dns.split(",") if d.strip()] if isinstance(dns, str) else list(dns),
    }


def _placement_params(placement: Any) -> Optional[dict[str, Any]]:
    if not isinstance(placement, Mapping):
        return None
    found = {"datastore": field(placement, "Datastore") or field(placement, "StoragePod"),
             "cluster": field(placement, "Cluster"), "host": field(placement, "Host"),
             "folder": field(placement, "Folder"), "resource_pool": field(placement, "ResourcePool")}
    return {k: v for k, v in found.items() if v} or None


# Reconfigure

def reconfigure_document(change: Reconfiguration) -> dict[str, Any]:
    disks = [{"SizeGiB": size, "Type": "", "Name": name} for name, size in sorted(change.disk_sizes_gib.items())]
    disks += [disk_document(d) for d in change.add_disks]
    return {
        "Class": {"CPU": change.cpu or 0, "MemoryMiB": change.memory_mib or 0},
        "Disks": disks or None,
        "Networks": [network_document(n) for n in change.add_networks] or None,
        "Tags": list(change.tags) if change.tags is not None else None,
    }


def reconfiguration(desired: Mapping[str, Any], observed: ObservedVM) -> Reconfiguration:
    """desired_json against the VM as it is: disks it has grow, others are added; NICs it lacks are added."""
    vm_class = field(desired, "Class") or {}
    sizes: dict[str, int] = {}
    added_disks = []
    for disk in field(desired, "Disks") or ():
        name, size = field(disk, "Name"), int(field(disk, "SizeGiB") or 0)
        current = observed.disk(name)
        if current is not None and size > current.size_gib:
            sizes[name] = size
        elif current is None and size:
            added_disks.append(DiskSpec(name=name, size_gib=size, type=_disk_type(field(disk, "Type")) or "thin"))
    names = {nic.name for nic in observed.nics}
    added_networks = [NetworkSpec(**{k: v for k, v in _network_params(n).items() if k != "dns" and v is not None})
                      for n in field(desired, "Networks") or () if field(n, "Name") not in names]
    tags = field(desired, "Tags")
    cpu, memory = int(field(vm_class, "CPU") or 0), int(field(vm_class, "MemoryMiB") or 0)
    return Reconfiguration(
        cpu=cpu if cpu and cpu != observed.cpu else None,
        memory_mib=memory if memory and memory != observed.memory_mib else None,
        disk_sizes_gib=sizes,
        add_disks=tuple(added_disks),
        add_networks=tuple(added_networks),
        tags=tuple(sorted(tags)) if tags is not None else None,
        live=observed.power_state == "On",
    )


# observed VMs

def observed_document(vm: ObservedVM, snapshots: Optional[list[Snapshot]] = None) -> dict[str, Any]:
    document = dict(vm.to_dict(), max_cpu=vm.max_cpu, max_memory_mib=vm.max_memory_mib)
    if snapshots is not None:
        document["snapshots"] = [s.to_dict() for s in snapshots]
    return document


def observed_from_document(document: Mapping[str, Any]) -> ObservedVM:
    return ObservedVM(
        id=document["id"], name=document["name"], power_state=document["power_state"],
        cpu=document.get("cpu"), memory_mib=document.get("memory_mib"), firmware=document.get("firmware"),
        max_cpu=document.get("max_cpu"), max_memory_mib=document.get("max_memory_mib"),
        disks=tuple(ObservedDisk(**d) for d in document.get("disks") or ()),
        nics=tuple(ObservedNIC(**dict(n, ip_addresses=tuple(n.get("ip_addresses") or ())))
                   for n in document.get("nics") or ()),
        tags=tuple(document.get("tags") or ()), console_url=document.get("console_url"),
        details=dict(document.get("details") or {}),
    )


def snapshots_from_document(document: Mapping[str, Any]) -> list[Snapshot]:
    return [Snapshot(**s) for s in document.get("snapshots") or ()]


def power_state(value: Any) -> str:
    """Exactly On or Off, as upstream's manager accepts; anything running is On."""
    return "On" if str(value) in ("On", "on", "running", "poweredOn", "True", "true") else "Off"


def vm_info_fields(vm: ObservedVM) -> dict[str, Any]:
    """A VMInfo for ListVMs: the upstream fields, plus the whole VM under provider_raw['virtrigaud']."""
    return {
        "id": vm.id, "name": vm.name, "power_state": power_state(vm.power_state), "ips": list(vm.ip_addresses),
        "cpu": vm.cpu or 0, "memory_mib": vm.memory_mib or 0,
        "disks": [{"id": d.name, "path": d.path or "", "size_gib": d.size_gib, "format": d.format or ""}
                  for d in vm.disks],
        "networks": [{"name": n.name, "mac": n.mac_address or "", "ip_address": next(iter(n.ip_addresses), "")}
                     for n in vm.nics],
        "provider_raw": {RAW_KEY: dumps(observed_document(vm))},
    }


def observed_from_vm_info(info: Any) -> ObservedVM:
    """A VMInfo as an ObservedVM: whole when our runtime sent it, else from the upstream fields."""
    raw = dict(info.provider_raw)
    if RAW_KEY in raw:
        return observed_from_document(json.loads(raw[RAW_KEY]))
    return ObservedVM(
        id=info.id, name=info.name, power_state=power_state(info.power_state), cpu=info.cpu or None,
        memory_mib=info.memory_mib or None,
        disks=tuple(ObservedDisk(name=d.id, size_gib=d.size_gib, format=d.format or None, path=d.path or None)
                    for d in info.disks),
        nics=tuple(ObservedNIC(name=n.name, mac_address=n.mac or None,
                               ip_addresses=(n.ip_address,) if n.ip_address else ()) for n in info.networks),
        raw=raw,
    )


def capabilities_from(response: Any) -> Capabilities:
    values = {}
    for name in Capabilities.__dataclass_fields__:
        value = getattr(response, name)
        values[name] = tuple(value) if not isinstance(value, bool) else value
    return Capabilities(**values)
