# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A vitistack ``Machine`` as the collection's VM spec (pure: no I/O).

A Machine's VM is named after the Machine and carries three kinds of tag: ``vitistack.<namespace>`` says it was
made for a Machine of that namespace, ``machine-rev.<digest>`` which version of the Machine's spec it was made or
last updated from (so one bulk listing tells which VMs are current), and one ``<key>.<value>`` per Machine tag.
Whatever the Machine asks that cannot be expressed raises :class:`MachineRefused`, naming the Machine's field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..errors import MissingDependency, SpecError
from ..spec import VMSpec, parse_vm

try:
    import yaml
except ImportError as err:  # PyYAML comes with the kubernetes client, which the Machines need anyway
    yaml = None
    YAML_ERROR: Optional[ImportError] = err
else:
    YAML_ERROR = None

FINALIZER = "virtrigaud.core/machine-vm"
NAMESPACE_TAG = "vitistack."
REVISION_TAG = "machine-rev."
# Finalizers the API server itself uses for garbage collection; they mean no other controller.
_SYSTEM_FINALIZERS = ("orphan", "foregroundDeletion", "kubernetes")
MIB = 1024 * 1024


class MachineRefused(SpecError):
    """A Machine asks for something the collection or the backend cannot do; its status says why (``reason``)."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message, option="spec." + field if field else None)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Ref:
    """Where a Machine lives; also the key of its VM, whose name is the Machine's."""

    namespace: str
    name: str

    @property
    def key(self) -> str:
        return "%s/%s" % (self.namespace, self.name)


def ref_of(machine: Mapping[str, Any]) -> Ref:
    metadata = machine["metadata"]
    return Ref(metadata.get("namespace") or "default", metadata["name"])


def provider_type_of(machine: Mapping[str, Any]) -> str:
    """The provider type a Machine asks for: ``spec.provider``, else ``spec.providerConfig.name``."""
    spec = machine.get("spec") or {}
    return str(spec.get("provider") or (spec.get("providerConfig") or {}).get("name") or "")


def other_controller(machine: Mapping[str, Any]) -> Optional[str]:
    """Why another controller owns this Machine, or None.

    A controller marks the Machines it acts on with its own finalizer (vitistack's kubevirt-operator does), so any
    finalizer but the API server's and ours means someone else creates and removes this Machine's VM. An owner
    reference with ``controller: true`` means a higher-level controller manages the Machine itself.
    """
    metadata = machine.get("metadata") or {}
    foreign = [f for f in metadata.get("finalizers") or () if f != FINALIZER and f not in _SYSTEM_FINALIZERS]
    if foreign:
        return "finalizer %s" % ", ".join(sorted(foreign))
    for owner in metadata.get("ownerReferences") or ():
        if owner.get("controller"):
            return "controller %s/%s" % (owner.get("kind"), owner.get("name"))
    return None


def _count(value: Any, field: str) -> int:
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise MachineRefused("InvalidSpec", field, "%s is %r; give a whole number of 1 or more" % (field, value))
    return value


def _class_size(name: str, classes: Mapping[str, Mapping[str, Any]]) -> tuple[int, int]:
    """CPUs and memory (MiB) of a MachineClass."""
    found = classes.get(name)
    if found is None:
        raise MachineRefused("MachineClassNotFound", "machineClass", "MachineClass '%s' does not exist" % name)
    spec = found.get("spec") or {}
    if spec.get("enabled") is False:
        raise MachineRefused("MachineClassDisabled", "machineClass", "MachineClass '%s' is disabled" % name)
    cpu = spec.get("cpu") or {}
    cpus = _count(cpu.get("cores"), "cores") * _count(cpu.get("sockets"), "sockets")
    cpus *= _count(cpu.get("threads"), "threads")
    quantity = (spec.get("memory") or {}).get("quantity")
    try:
        memory = parse_vm({"name": "x", "memory": quantity}).memory_mib
    except SpecError as err:
        raise MachineRefused("InvalidMachineClass", "machineClass",
                             "MachineClass '%s' has memory %r: %s" % (name, quantity, err.msg)) from None
    return cpus, int(memory or 0)


def _size(spec: Mapping[str, Any], classes: Mapping[str, Mapping[str, Any]]) -> tuple[int, int]:
    """CPUs and memory in MiB: from the MachineClass, with ``cpu`` and ``memory`` winning where given."""
    if spec.get("instanceType"):
        raise MachineRefused("InstanceTypeUnsupported", "instanceType",
                             "instanceType is a cloud's size name; give machineClass, or cpu and memory")
    cpus: Optional[int] = None
    memory: Optional[int] = None
    if spec.get("machineClass"):
        cpus, memory = _class_size(str(spec["machineClass"]), classes)
    cpu = spec.get("cpu")
    if cpu:
        cpus = (_count(cpu.get("cores"), "cpu.cores") * _count(cpu.get("sockets"), "cpu.sockets")
                * _count(cpu.get("threadsPerCore"), "cpu.threadsPerCore"))
    if spec.get("memory") is not None:
        given = spec["memory"]
        if not isinstance(given, int) or given < MIB:
            raise MachineRefused("InvalidSpec", "memory", "memory is %r bytes; give at least 1 MiB" % (given,))
        memory = -(-given // MIB)
    if cpus is None or memory is None:
        raise MachineRefused("InvalidSpec", "machineClass" if cpus is None else "memory",
                             "give machineClass, or both cpu and memory")
    return cpus, memory


def _disks(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The boot disk as the root disk (its image from os.imageID), the others as data disks."""
    disks = list(spec.get("disks") or ())
    boot_index = next((i for i, disk in enumerate(disks) if disk.get("boot")), 0 if disks else None)
    image = (spec.get("os") or {}).get("imageID")
    if not image:
        raise MachineRefused("ImageRequired", "os.imageID", "os.imageID names the image the boot disk comes from")
    options: dict[str, Any] = {"image": str(image), "disks": []}
    for index, disk in enumerate(disks):
        size = disk.get("sizeGB")
        if index == boot_index:
            if size:
                options["disk_defaults"] = {"size": "%dGi" % size}
            continue
        if not size:
            raise MachineRefused("InvalidSpec", "disks[%d].sizeGB" % index, "a data disk needs sizeGB")
        data = {"name": disk.get("name") or "disk%d" % index, "size": "%dGi" % size}
        if disk.get("type"):
            data["type"] = disk["type"]
        options["disks"].append(data)
    return options


def _networks(spec: Mapping[str, Any], default_network: Optional[str]) -> list[dict[str, Any]]:
    """One NIC per interface, on its subnet, else the Machine's subnet or VPC, else the task's default network."""
    network = spec.get("network") or {}
    fallback = network.get("subnet") or network.get("vpc") or default_network
    interfaces = list(network.get("interfaces") or ()) or [{"name": "eth0", "primary": True}]
    nics = []
    for index, interface in enumerate(interfaces):
        nic: dict[str, Any] = {"name": interface.get("name") or "nic%d" % index}
        where = interface.get("subnet") or fallback
        if where:
            nic["network"] = where
        if network.get("privateIP") and (interface.get("primary") or len(interfaces) == 1):
            nic["ip_address"] = network["privateIP"]
        nics.append(nic)
    return nics


def _text(value: Optional[str], encoded: Optional[str], field: str) -> Optional[str]:
    if value:
        return value
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise MachineRefused("InvalidSpec", field, "%s is not base64 of UTF-8 text" % field) from None


def _cloud_init(spec: Mapping[str, Any], referenced: Mapping[str, str]) -> dict[str, Any]:
    """User data from cloudInit (inline, base64 or a referenced Secret or ConfigMap) or userData, with sshKeys."""
    cloud = spec.get("cloudInit") or {}
    if cloud.get("type") == "configDrive":
        raise MachineRefused("CloudInitUnsupported", "cloudInit.type",
                             "cloudInit.type configDrive is not offered; the collection gives cloud-init data as "
                             "NoCloud (a seed disk, PVE's cicustom, KubeVirt's cloudInitNoCloud)")
    user_data = (_text(cloud.get("userData"), cloud.get("userDataBase64"), "cloudInit.userDataBase64")
                 or referenced.get("cloudInit.userData") or spec.get("userData"))
    network_data = (_text(cloud.get("networkData"), cloud.get("networkDataBase64"), "cloudInit.networkDataBase64")
                    or referenced.get("cloudInit.networkData"))
    keys = [str(key) for key in spec.get("sshKeys") or ()]
    if keys:
        user_data = _with_keys(user_data, keys)
    options = {key: value for key, value in (("user_data", user_data), ("network_config", network_data)) if value}
    return {"cloud_init": options} if options else {}


def _with_keys(user_data: Optional[str], keys: list[str]) -> str:
    """#cloud-config user data with the Machine's sshKeys added to ssh_authorized_keys."""
    if yaml is None:
        raise MissingDependency("PyYAML", "for the sshKeys of Machines", YAML_ERROR)
    if not user_data:
        document: dict[str, Any] = {}
    else:
        if not user_data.lstrip().startswith("#cloud-config"):
            raise MachineRefused("InvalidSpec", "sshKeys",
                                 "sshKeys go into #cloud-config user data; this Machine's user data is another kind")
        try:
            document = yaml.safe_load(user_data) or {}
        except yaml.YAMLError:
            raise MachineRefused("InvalidSpec", "userData", "the #cloud-config user data is not YAML") from None
        if not isinstance(document, dict):
            raise MachineRefused("InvalidSpec", "userData", "the #cloud-config user data is not a mapping")
    present = list(document.get("ssh_authorized_keys") or ())
    document["ssh_authorized_keys"] = present + [key for key in keys if key not in present]
    dumped: str = yaml.safe_dump(document, default_flow_style=False, sort_keys=True)
    return "#cloud-config\n" + dumped


def references(machine: Mapping[str, Any]) -> dict[str, tuple[str, str, str]]:
    """The Secrets and ConfigMaps a Machine's cloudInit names: field → (kind, name, key)."""
    cloud = (machine.get("spec") or {}).get("cloudInit") or {}
    found = {}
    for part in ("userData", "networkData"):
        for suffix, kind in (("SecretRef", "Secret"), ("ConfigMapRef", "ConfigMap")):
            ref = cloud.get(part + suffix)
            if ref:
                found["cloudInit." + part] = (kind, str(ref["name"]), str(ref.get("key") or part))
    return found


def machine_spec(machine: Mapping[str, Any], classes: Mapping[str, Mapping[str, Any]],
                 referenced: Mapping[str, str], default_network: Optional[str], power_state: str) -> VMSpec:
    """The VM a Machine describes, tagged with its namespace and the digest of what made it.

    Raises:
        MachineRefused: the Machine asks for something that has no VM-spec counterpart, naming its field.
    """
    ref = ref_of(machine)
    spec = machine.get("spec") or {}
    cpus, memory = _size(spec, classes)
    options: dict[str, Any] = {"name": ref.name, "cpu": cpus, "memory": "%dMi" % memory,
                               "networks": _networks(spec, default_network)}
    options.update(_disks(spec))
    options.update(_cloud_init(spec, referenced))
    tags = ["%s.%s" % (key, value) for key, value in sorted((spec.get("tags") or {}).items())]
    try:
        desired = parse_vm(dict(options, tags=tags + [NAMESPACE_TAG + ref.namespace]), power_state)
    except SpecError as err:
        raise MachineRefused("InvalidSpec", field_of(err.option), err.msg) from None
    digest = hashlib.sha256(json.dumps(desired.view(), sort_keys=True, default=str).encode("utf-8")).hexdigest()[:10]
    return parse_vm(dict(options, tags=sorted(set(desired.tags or ()) | {REVISION_TAG + digest})), power_state)


# The VM spec's options, as the Machine's fields they come from.
_FIELDS = {"cpu": "cpu", "memory": "memory", "image": "os.imageID", "disk_defaults": "disks", "disks": "disks",
           "networks": "network.interfaces", "cloud_init": "cloudInit", "tags": "tags", "name": "metadata.name"}


def field_of(option: Optional[str]) -> str:
    """The Machine field behind a VM-spec option, as named in a refusal."""
    head = (option or "").split(".")[0].split("[")[0]
    return _FIELDS.get(head, option or "")


def revision_of(tags: Any) -> Optional[str]:
    return next((tag for tag in tags or () if tag.startswith(REVISION_TAG)), None)


def made_for(tags: Any, ref: Ref) -> bool:
    """Whether a VM's tags say it was made for a Machine in ``ref``'s namespace."""
    return NAMESPACE_TAG + ref.namespace in (tags or ())
