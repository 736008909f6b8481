# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider layer's values ↔ provider.v1 payloads, and gRPC statuses as the collection's errors.  Pure: no
I/O, no grpc.

Encoders write the PascalCase JSON upstream's manager and providers use (Go
field names, every key present, ``null`` for nothing).  Decoders read keys
case-insensitively, as Go does, and accept ``null`` for any list; a value of
the wrong JSON kind is refused by field, and every value is checked by
``parse_vm`` as a module's options are, before it can reach a backend.  The
collection's own runtime adds the whole observed VM under ``virtrigaud`` in
``provider_raw_json``; upstream runtimes do not, and the client then falls
back to ListVMs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Optional, cast

from ... import errors
from ...errors import ProviderError, SpecError
from ...spec import DiskSpec, NetworkSpec, Placement, VMSpec, parse_vm
from ..base import Capabilities, ObservedDisk, ObservedNIC, ObservedVM, Reconfiguration, Snapshot
from ..nics import NicDiff, diff_nics

RAW_KEY = "virtrigaud"
# Trailing metadata of the collection's runtime on GetCapabilities: Capabilities.nic_changes, "kind=mode,...".
NIC_CHANGES_KEY = "virtrigaud-nic-changes"
SECURE_BOOT_KEY = "virtrigaud-secure-boot"
ROOT_DISK = "root"
_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


# Built once: json.dumps with separators builds a new encoder on every call, and Describe calls it on every RPC.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def dumps(value: Any) -> str:
    return _COMPACT.encode(value)


def loads(text: Any, option: str) -> Any:
    """A JSON document from a *_json field; empty means null."""
    if text in (None, "", b""):
        return None
    try:
        return json.loads(text)
    except ValueError as err:
        raise SpecError("is not JSON: %s" % err, option=option) from None
    except RecursionError:
        raise SpecError("is nested too deeply to be a VirtRigaud document", option=option) from None


def _object(value: Any, option: str) -> Mapping[str, Any]:
    """A JSON object, or nothing for null."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError("expected a JSON object, got %s" % _KINDS.get(type(value), "something else"), option=option)
    return value


def _objects(value: Any, option: str) -> list[Mapping[str, Any]]:
    """A JSON array of objects, or nothing for null."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError("expected a JSON array, got %s" % _KINDS.get(type(value), "something else"), option=option)
    return [_object(item, "%s[%d]" % (option, index)) for index, item in enumerate(value)]


def _lower(value: Any) -> Any:
    """A string lower-cased; anything else as it is, for parse_vm to refuse by name."""
    return value.lower() if isinstance(value, str) else value


def _text(data: bytes, option: str) -> Optional[str]:
    try:
        return data.decode("utf-8") or None
    except UnicodeDecodeError:
        raise SpecError("is not UTF-8 text", option=option) from None


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
        "SecurityProfile": None if spec.secure_boot is None else _security_profile(spec.secure_boot),
        "ResourceLimits": None,
    }
    if spec.cloud_init.network_config:
        # Not an upstream field (Go decoders ignore unknown keys): cloud-init's network config has no slot.
        document["NetworkConfig"] = spec.cloud_init.network_config
    return document


def _security_profile(secure_boot: bool) -> dict[str, Any]:
    return {"SecureBoot": secure_boot, "TPMEnabled": False, "TPMVersion": "", "VTDEnabled": False,
            "EncryptionEnabled": False, "KeyProvider": "", "RequireEncryption": False}


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
    vm_class = _object(loads(request.class_json, "class_json"), "class_json")
    image = _object(loads(request.image_json, "image_json"), "image_json")
    defaults = _object(field(vm_class, "DiskDefaults"), "class_json.DiskDefaults")
    security = _object(field(vm_class, "SecurityProfile"), "class_json.SecurityProfile")
    params: dict[str, Any] = {
        "name": request.name,
        "cpu": field(vm_class, "CPU") or None,
        "memory": field(vm_class, "MemoryMiB") or None,
        # Upstream's providers give a class with secure boot EFI firmware when it names none.
        "firmware": _lower(field(vm_class, "Firmware")) or ("uefi" if field(security, "SecureBoot") is True else None),
        "secure_boot": field(security, "SecureBoot"),
        "image": field(image, "TemplateName") or field(image, "Path") or None,
        "disk_defaults": {"size": field(defaults, "SizeGiB") or None, "type": _disk_type(field(defaults, "Type"))},
        "disks": [_disk_params(d) for d in _objects(loads(request.disks_json, "disks_json"), "disks_json")],
        "networks": [_network_params(n)
                     for n in _objects(loads(request.networks_json, "networks_json"), "networks_json")],
        "placement": _placement_params(_object(loads(request.placement_json, "placement_json"), "placement_json")),
        "cloud_init": {
            "user_data": _text(request.user_data, "cloud_init.user_data"),
            "meta_data": _text(request.meta_data, "cloud_init.meta_data"),
            "network_config": field(vm_class, "NetworkConfig") or None,
        },
        "tags": list(request.tags) or None,
    }
    return params


def _disk_type(value: Any) -> Any:
    if not isinstance(value, (str, type(None))):
        return value
    text = (value or "").lower().replace("-", "").replace("_", "")
    return {"eagerzeroed": "eagerzeroedthick"}.get(text, text) or None


def _disk_params(disk: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": field(disk, "Name"), "size": field(disk, "SizeGiB"), "type": _disk_type(field(disk, "Type"))}


def _network_params(network: Mapping[str, Any]) -> dict[str, Any]:
    name = field(network, "NetworkName") or field(network, "Portgroup") or None
    static = field(network, "StaticIP") or ""
    address, dummy, prefix = static.partition("/") if isinstance(static, str) else (static, "", "")
    dns = field(network, "DNS") or ()
    return {
        "name": field(network, "Name"),
        "network": name,
        "bridge": None if name else field(network, "Bridge") or None,
        "model": _lower(field(network, "Model")) or None,
        "mac_address": field(network, "MacAddress") or None,
        "ip_address": address or None,
        "prefix": field(network, "Prefix") or prefix or None,
        "gateway": field(network, "Gateway") or None,
        "dns": [d.strip() for d in dns.split(",") if d.strip()] if isinstance(dns, str) else dns,
    }


def _placement_params(placement: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    found = {"datastore": field(placement, "Datastore") or field(placement, "StoragePod"),
             "cluster": field(placement, "Cluster"), "host": field(placement, "Host"),
             "folder": field(placement, "Folder"), "resource_pool": field(placement, "ResourcePool")}
    return {k: v for k, v in found.items() if v} or None


# Reconfigure

def reconfigure_document(change: Reconfiguration) -> dict[str, Any]:
    """desired_json: like upstream's manager, the whole NIC list when NICs change (null leaves them alone)."""
    disks = [{"SizeGiB": size, "Type": "", "Name": name} for name, size in sorted(change.disk_sizes_gib.items())]
    disks += [disk_document(d) for d in change.add_disks]
    networks = change.networks
    if networks is None and (change.add_networks or change.change_networks or change.remove_networks):
        # A partial list would read as "remove every other NIC" on the other side.
        raise ProviderError("NIC changes go over the wire as the whole desired NIC list, which is missing")
    return {
        "Class": {"CPU": change.cpu or 0, "MemoryMiB": change.memory_mib or 0},
        "Disks": disks or None,
        "Networks": [network_document(n) for n in networks] if networks is not None else None,
        "Tags": list(change.tags) if change.tags is not None else None,
    }


def reconfiguration(desired: Any, observed: ObservedVM) -> Reconfiguration:
    """desired_json against the VM as it is: disks it has grow, others are added; NICs are added, changed in place
    and removed to match the list, by name (a null or absent list changes no NIC).

    The document is checked as a create's would be (sizes, names, addresses, tags), so a foreign client's
    ``{"Disks": [{"Name": "../x", "SizeGiB": -5}]}`` is refused by name instead of reaching the backend.
    """
    document = _object(desired, "desired_json")
    vm_class = _object(field(document, "Class"), "desired_json.Class")
    disks = _objects(field(document, "Disks"), "desired_json.Disks")
    listed = field(document, "Networks")
    root = [disk for disk in disks if field(disk, "Name") == ROOT_DISK]
    spec = parse_vm({
        "name": "vm",  # not part of the change; the VM's own name need not follow this collection's rules
        "cpu": field(vm_class, "CPU") or None,
        "memory": field(vm_class, "MemoryMiB") or None,
        "disk_defaults": {"size": field(root[-1], "SizeGiB") or None} if root else None,
        "disks": [_disk_params(disk) for disk in disks if field(disk, "Name") != ROOT_DISK],
        "networks": [_network_params(n) for n in _objects(listed, "desired_json.Networks")],
        "tags": field(document, "Tags"),
    })
    wanted = [(ROOT_DISK, spec.root_disk_gib)] if spec.root_disk_gib else []
    sizes = {name: size for name, size in wanted + [(d.name, d.size_gib) for d in spec.disks]
             if observed.disk(name) is not None and size > cast(ObservedDisk, observed.disk(name)).size_gib}
    nics = diff_nics(spec.networks, observed.nics) if listed is not None else NicDiff()
    return Reconfiguration(
        cpu=spec.cpu if spec.cpu and spec.cpu != observed.cpu else None,
        memory_mib=spec.memory_mib if spec.memory_mib and spec.memory_mib != observed.memory_mib else None,
        disk_sizes_gib=sizes,
        add_disks=tuple(disk for disk in spec.disks if observed.disk(disk.name) is None),
        add_networks=nics.added,
        change_networks=nics.changed,
        remove_networks=nics.removed,
        tags=spec.tags,
        live=observed.power_state == "On",
    )


def clone_overrides(class_json: str) -> Reconfiguration:
    """The CPU and memory a Clone request's class_json asks of the new VM, checked as a create's would be."""
    vm_class = _object(loads(class_json, "class_json"), "class_json")
    spec = parse_vm({"name": "vm", "cpu": field(vm_class, "CPU") or None,
                     "memory": field(vm_class, "MemoryMiB") or field(vm_class, "Memory") or None})
    return Reconfiguration(cpu=spec.cpu, memory_mib=spec.memory_mib)


# observed VMs

def observed_document(vm: ObservedVM, snapshots: Optional[list[Snapshot]] = None) -> dict[str, Any]:
    document = dict(vm.to_dict(), max_cpu=vm.max_cpu, max_memory_mib=vm.max_memory_mib)
    if snapshots is not None:
        document["snapshots"] = [s.to_dict() for s in snapshots]
    return document


def _known(cls: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a dataclass takes: a newer runtime may send more."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def observed_from_document(document: Mapping[str, Any]) -> ObservedVM:
    return ObservedVM(
        id=document["id"], name=document["name"], power_state=document["power_state"],
        cpu=document.get("cpu"), memory_mib=document.get("memory_mib"), firmware=document.get("firmware"),
        secure_boot=document.get("secure_boot"), max_cpu=document.get("max_cpu"),
        max_memory_mib=document.get("max_memory_mib"),
        disks=tuple(ObservedDisk(**d) for d in document.get("disks") or ()),
        nics=tuple(ObservedNIC(**_known(ObservedNIC, dict(n, ip_addresses=tuple(n.get("ip_addresses") or ()),
                                                          dns=tuple(n.get("dns") or ()))))
                   for n in document.get("nics") or ()),
        tags=tuple(document.get("tags") or ()), console_url=document.get("console_url"),
        placement=Placement(**_known(Placement, document.get("placement") or {})),
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


def capabilities_from(response: Any, trailing: Optional[Mapping[str, str]] = None) -> Capabilities:
    """A GetCapabilitiesResponse, with the NIC changes our runtime adds in its trailing metadata."""
    values: dict[str, Any] = {}
    for name in Capabilities.wire_fields():
        value = getattr(response, name)
        values[name] = tuple(value) if not isinstance(value, bool) else value
    trailing = trailing or {}
    return Capabilities(nic_changes=nic_changes_from(trailing.get(NIC_CHANGES_KEY, "")),
                        supports_secure_boot=trailing.get(SECURE_BOOT_KEY) == "true", **values)


def capability_trailers(capabilities: Capabilities) -> tuple[tuple[str, str], ...]:
    """What our runtime adds to GetCapabilitiesResponse, as trailing metadata: upstream's has no field for it."""
    return ((NIC_CHANGES_KEY, ",".join("%s=%s" % pair for pair in sorted(capabilities.nic_changes.items()))),
            (SECURE_BOOT_KEY, "true" if capabilities.supports_secure_boot else "false"))


def nic_changes_from(text: str) -> dict[str, str]:
    pairs = (part.partition("=") for part in text.split(",") if part)
    return {kind: mode for kind, dummy, mode in pairs if mode in ("live", "offline")}


# errors

RETRIED = ("UNAVAILABLE", "DEADLINE_EXCEEDED")
_ERRORS = {cls.error_code: cls for cls in (
    errors.SpecError, errors.NotFoundError, errors.AlreadyExistsError, errors.PreconditionError, errors.ConflictError,
    errors.UnsupportedError, errors.PermissionDeniedError, errors.AuthenticationError, errors.UnavailableError,
    errors.DeadlineExceededError, errors.ProviderError)}
_BY_CODE = {
    "INVALID_ARGUMENT": errors.SpecError, "NOT_FOUND": errors.NotFoundError,
    "ALREADY_EXISTS": errors.AlreadyExistsError,
    "FAILED_PRECONDITION": errors.PreconditionError, "ABORTED": errors.ConflictError,
    "UNIMPLEMENTED": errors.UnsupportedError, "PERMISSION_DENIED": errors.PermissionDeniedError,
    "UNAUTHENTICATED": errors.AuthenticationError, "UNAVAILABLE": errors.UnavailableError,
    "DEADLINE_EXCEEDED": errors.DeadlineExceededError, "RESOURCE_EXHAUSTED": errors.UnavailableError,
}


def status_error(code: str, detail: Optional[str], trailing: Mapping[str, str], method: str, target: str,
                 correlation_id: str) -> errors.VirtrigaudError:
    """A failed RPC as the collection's error: the class and message the runtime put in its trailing metadata,
    else the gRPC status ``code``'s."""
    cls = _ERRORS.get(trailing.get("virtrigaud-error-code", "")) or _BY_CODE.get(code, errors.ProviderError)
    message = trailing.get("virtrigaud-msg") or detail or code
    if code == "UNAVAILABLE" and "virtrigaud-msg" not in trailing:
        message = "cannot reach the provider runtime at %s: %s" % (target, detail)
    failure = cls(message, option=trailing.get("virtrigaud-option") or None,
                  vm=trailing.get("virtrigaud-vm") or None,
                  details={"grpc_code": code, "rpc": method, "correlation_id": correlation_id})
    failure.retryable = code in RETRIED
    return failure


# GetDiskInfo carries one backing file; the whole chain rides in its metadata, as a JSON list.
BACKING_CHAIN = "backing_chain"


def backing_chain_metadata(chain: tuple[str, ...]) -> dict[str, str]:
    return {BACKING_CHAIN: json.dumps(list(chain))} if chain else {}


def backing_chain(backing_file: str, metadata: dict[str, str]) -> tuple[str, ...]:
    """The chain from GetDiskInfo's metadata, else the one backing file upstream's runtimes report."""
    try:
        chain = json.loads(metadata.get(BACKING_CHAIN) or "[]")
    except ValueError:
        chain = []
    if isinstance(chain, list) and chain and all(isinstance(path, str) for path in chain):
        return tuple(chain)
    return (backing_file,) if backing_file else ()
