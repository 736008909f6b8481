# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The routes the fake PVE serves, the parameters each accepts, and PVE's parameter checks.

Every declaration here must exist in the official API schema with the same
type and format; ``conformance.py`` checks that.  Validation failures carry
PVE's own per-parameter messages and become HTTP 400 with an ``errors`` object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional


@dataclass(frozen=True)
class Param:
    type: str
    format: Any = None
    optional: bool = True
    enum: tuple[str, ...] = ()
    minimum: Optional[int] = None
    maximum: Optional[int] = None
    max_length: Optional[int] = None
    pattern: Optional[str] = None


@dataclass(frozen=True)
class SubKey:
    """One ``key=value`` part of a property string."""

    type: str
    default_key: bool = False
    enum: tuple[str, ...] = ()


class ParamError(Exception):
    """400 Parameter verification failed, with one message per parameter."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("Parameter verification failed.")
        self.errors = dict(errors)


VMID = Param("integer", "pve-vmid", optional=False, minimum=100, maximum=999999999)
NODE = Param("string", "pve-node", optional=False)
BOOL = Param("boolean")
SNAPNAME = Param("string", "pve-configid", optional=False, max_length=40)
UPID = Param("string", optional=False)
STORAGE = Param("string", "pve-storage-id", optional=False)
DISK_KEYS = tuple("scsi%d" % n for n in range(31)) + tuple("virtio%d" % n for n in range(16)) + tuple(
    "sata%d" % n for n in range(6)) + tuple("ide%d" % n for n in range(4))
RESIZABLE = tuple("ide%d" % n for n in range(4)) + tuple("scsi%d" % n for n in range(31)) + tuple(
    "virtio%d" % n for n in range(16)) + tuple("sata%d" % n for n in range(6)) + ("efidisk0", "tpmstate0")

DRIVE = {
    "file": SubKey("string", default_key=True),
    "size": SubKey("disk-size"),
    "format": SubKey("string", enum=("raw", "cow", "qcow", "qed", "qcow2", "vmdk", "cloop")),
    "cache": SubKey("string", enum=("none", "writethrough", "writeback", "unsafe", "directsync")),
    "discard": SubKey("string", enum=("ignore", "on")),
    "ssd": SubKey("boolean"),
    "iothread": SubKey("boolean"),
    "backup": SubKey("boolean"),
    "media": SubKey("string", enum=("cdrom", "disk")),
    "import-from": SubKey("string"),
}
NIC_MODELS = ("e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b",
              "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3")
NET = dict(
    {model: SubKey("mac-alias") for model in NIC_MODELS},
    model=SubKey("string", default_key=True, enum=NIC_MODELS),
    macaddr=SubKey("mac"),
    bridge=SubKey("bridge"),
    tag=SubKey("integer"),
    firewall=SubKey("boolean"),
    link_down=SubKey("boolean"),
    rate=SubKey("number"),
    mtu=SubKey("integer"),
    queues=SubKey("integer"),
)
PROPERTY_STRINGS: dict[str, dict[str, SubKey]] = {
    "memory": {"current": SubKey("integer", default_key=True)},
    "agent": {"enabled": SubKey("boolean", default_key=True), "fstrim_cloned_disks": SubKey("boolean"),
              "type": SubKey("string", enum=("virtio", "isa")), "freeze-fs-on-backup": SubKey("boolean")},
    "net": NET,
    "drive": DRIVE,
    "efidisk": {
        "file": SubKey("string", default_key=True),
        "efitype": SubKey("string", enum=("2m", "4m")),
        "format": DRIVE["format"],
        "import-from": SubKey("string"),
        "ms-cert": SubKey("string", enum=("2011", "2023", "2023w", "2023k")),
        "pre-enrolled-keys": SubKey("boolean"),
        "size": SubKey("disk-size"),
    },
}


def drive_keys(key: str) -> dict[str, SubKey]:
    """The property-string keys of a disk's value: an EFI vars disk has its own."""
    return PROPERTY_STRINGS["efidisk" if key.startswith("efidisk") else "drive"]


def _prop(kind: str) -> Param:
    return Param("string", ("property-string", kind))


# The VM configuration keys the fake understands, as create and config accept them.
CONFIG: dict[str, Param] = {
    "name": Param("string", "dns-name"),
    "description": Param("string", max_length=8192),
    "tags": Param("string", "pve-tag-list"),
    "cores": Param("integer", minimum=1),
    "sockets": Param("integer", minimum=1),
    "vcpus": Param("integer", minimum=1),
    "memory": _prop("memory"),
    "balloon": Param("integer", minimum=0),
    "numa": BOOL,
    "hotplug": Param("string", "pve-hotplug-features"),
    "agent": _prop("agent"),
    "ostype": Param("string", enum=("other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10",
                                    "win11", "l24", "l26", "solaris")),
    "bios": Param("string", enum=("seabios", "ovmf")),
    "scsihw": Param("string", enum=("lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas",
                                    "pvscsi")),
    "boot": Param("string", "pve-qm-boot"),
    "onboot": BOOL,
    "protection": BOOL,
    "template": BOOL,
    "ciuser": Param("string"),
    "cipassword": Param("string"),
    "citype": Param("string", enum=("configdrive2", "nocloud", "opennebula")),
    "sshkeys": Param("string", "urlencoded"),
    "cicustom": Param("string", "pve-qm-cicustom"),
    "ipconfig[n]": Param("string", "pve-qm-ipconfig"),
    "nameserver": Param("string", "address-list"),
    "searchdomain": Param("string"),
    "net[n]": _prop("net"),
    "scsi[n]": _prop("drive"),
    "virtio[n]": _prop("drive"),
    "sata[n]": _prop("drive"),
    "ide[n]": _prop("drive"),
    "efidisk0": _prop("efidisk"),
}
INDEXED = {"ipconfig": 32, "net": 32, "scsi": 31, "virtio": 16, "sata": 6, "ide": 4}
UPDATE = dict(CONFIG, delete=Param("string", "pve-configid-list"), revert=Param("string", "pve-configid-list"),
              digest=Param("string", max_length=40), skiplock=BOOL)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: str
    params: Mapping[str, Param] = field(default_factory=dict)

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


def _vm(**extra: Param) -> dict[str, Param]:
    return dict(node=NODE, vmid=VMID, **extra)


ROUTES = (
    Route("GET", "/version", "version"),
    Route("GET", "/cluster/resources", "cluster_resources",
          {"type": Param("string", enum=("vm", "storage", "node", "sdn"))}),
    Route("GET", "/cluster/nextid", "nextid", {"vmid": Param("integer", "pve-vmid", minimum=100,
                                                             maximum=999999999)}),
    Route("GET", "/cluster/tasks", "cluster_tasks"),
    Route("GET", "/nodes", "nodes"),
    Route("GET", "/nodes/{node}/status", "node_status", {"node": NODE}),
    Route("GET", "/nodes/{node}/storage", "storage_list",
          {"node": NODE, "content": Param("string", "pve-storage-content-list"), "enabled": BOOL,
           "storage": Param("string", "pve-storage-id")}),
    Route("GET", "/nodes/{node}/storage/{storage}/content", "storage_content",
          {"node": NODE, "storage": STORAGE, "content": Param("string", "pve-storage-content"),
           "vmid": Param("integer", "pve-vmid", minimum=100, maximum=999999999)}),
    Route("GET", "/nodes/{node}/qemu", "qemu_list", {"node": NODE, "full": BOOL}),
    Route("POST", "/nodes/{node}/qemu", "qemu_create",
          dict(CONFIG, node=NODE, vmid=VMID, start=BOOL, pool=Param("string", "pve-poolid"))),
    Route("DELETE", "/nodes/{node}/qemu/{vmid}", "qemu_destroy",
          _vm(purge=BOOL, skiplock=BOOL, **{"destroy-unreferenced-disks": BOOL})),
    Route("GET", "/nodes/{node}/qemu/{vmid}/config", "config_get",
          _vm(current=BOOL, snapshot=Param("string", "pve-configid", max_length=40))),
    Route("PUT", "/nodes/{node}/qemu/{vmid}/config", "config_put", dict(UPDATE, node=NODE, vmid=VMID)),
    Route("POST", "/nodes/{node}/qemu/{vmid}/config", "config_post",
          dict(UPDATE, node=NODE, vmid=VMID, background_delay=Param("integer", minimum=1, maximum=30))),
    Route("GET", "/nodes/{node}/qemu/{vmid}/pending", "pending", _vm()),
    Route("GET", "/nodes/{node}/qemu/{vmid}/status/current", "status_current", _vm()),
    Route("POST", "/nodes/{node}/qemu/{vmid}/status/start", "vm_start",
          _vm(skiplock=BOOL, timeout=Param("integer", minimum=0))),
    Route("POST", "/nodes/{node}/qemu/{vmid}/status/stop", "vm_stop",
          _vm(skiplock=BOOL, keepActive=BOOL, timeout=Param("integer", minimum=0),
              **{"overrule-shutdown": BOOL})),
    Route("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown", "vm_shutdown",
          _vm(skiplock=BOOL, keepActive=BOOL, forceStop=BOOL, timeout=Param("integer", minimum=0))),
    Route("POST", "/nodes/{node}/qemu/{vmid}/status/reboot", "vm_reboot",
          _vm(timeout=Param("integer", minimum=0))),
    Route("POST", "/nodes/{node}/qemu/{vmid}/status/reset", "vm_reset", _vm(skiplock=BOOL)),
    Route("POST", "/nodes/{node}/qemu/{vmid}/status/suspend", "vm_suspend", _vm(skiplock=BOOL, todisk=BOOL)),
    Route("POST", "/nodes/{node}/qemu/{vmid}/status/resume", "vm_resume", _vm(skiplock=BOOL)),
    Route("POST", "/nodes/{node}/qemu/{vmid}/clone", "vm_clone",
          _vm(newid=VMID, name=Param("string", "dns-name"), full=BOOL, target=Param("string", "pve-node"),
              storage=Param("string", "pve-storage-id"), snapname=Param("string", "pve-configid", max_length=40),
              description=Param("string"), pool=Param("string", "pve-poolid"),
              format=Param("string", enum=("raw", "qcow2", "vmdk")))),
    Route("POST", "/nodes/{node}/qemu/{vmid}/template", "vm_template", _vm()),
    Route("PUT", "/nodes/{node}/qemu/{vmid}/resize", "vm_resize",
          _vm(disk=Param("string", optional=False, enum=RESIZABLE),
              size=Param("string", optional=False, pattern=r"\+?\d+(\.\d+)?[KMGT]?"),
              digest=Param("string", max_length=40), skiplock=BOOL)),
    Route("POST", "/nodes/{node}/qemu/{vmid}/migrate", "vm_migrate",
          _vm(target=Param("string", "pve-node", optional=False), online=BOOL, force=BOOL,
              bwlimit=Param("integer", minimum=0), migration_type=Param("string", enum=("secure", "insecure")),
              migration_network=Param("string", "CIDR"), targetstorage=Param("string", "storage-pair-list"),
              **{"with-local-disks": BOOL})),
    Route("GET", "/nodes/{node}/qemu/{vmid}/snapshot", "snapshot_list", _vm()),
    Route("POST", "/nodes/{node}/qemu/{vmid}/snapshot", "snapshot_create",
          _vm(snapname=SNAPNAME, description=Param("string"), vmstate=BOOL)),
    Route("DELETE", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}", "snapshot_delete",
          _vm(snapname=SNAPNAME, force=BOOL)),
    Route("POST", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback", "snapshot_rollback",
          _vm(snapname=SNAPNAME, start=BOOL)),
    Route("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", "agent_interfaces", _vm()),
    Route("POST", "/nodes/{node}/qemu/{vmid}/agent/ping", "agent_ping", _vm()),
    Route("GET", "/nodes/{node}/tasks", "task_list",
          {"node": NODE, "vmid": Param("integer", "pve-vmid", minimum=100, maximum=999999999),
           "source": Param("string", enum=("archive", "active", "all")), "start": Param("integer", minimum=0),
           "limit": Param("integer", minimum=0), "errors": BOOL}),
    Route("GET", "/nodes/{node}/tasks/{upid}/status", "task_status", {"node": NODE, "upid": UPID}),
    Route("GET", "/nodes/{node}/tasks/{upid}/log", "task_log",
          {"node": NODE, "upid": UPID, "start": Param("integer", minimum=0), "limit": Param("integer", minimum=0)}),
    Route("GET", "/pools", "pools", {"poolid": Param("string", "pve-poolid"),
                                     "type": Param("string", enum=("qemu", "lxc", "storage"))}),
    Route("POST", "/access/ticket", "login",
          {"username": Param("string", optional=False, max_length=64), "password": Param("string", optional=False),
           "realm": Param("string", "pve-realm", max_length=32), "otp": Param("string"),
           "new-format": BOOL}),
)

# Routes of the real API the collection uses that the schema subset lacks, modelled from the public API viewer
# (pve.proxmox.com/pve-docs/api-viewer, PVE 8): always served; conformance checks requests to them against these
# declarations, not the schema, and counts them apart.
BEYOND_SUBSET_ROUTES = (
    # Answers user, ticket, cert, port and upid; a VNC client then opens vncwebsocket with the port and ticket.
    Route("POST", "/nodes/{node}/qemu/{vmid}/vncproxy", "vm_vncproxy",
          _vm(websocket=BOOL, **{"generate-password": BOOL})),
    # Image downloads into a storage, and removing what they made (virtrigaud_image; tests/pvefake/downloads.py).
    Route("POST", "/nodes/{node}/storage/{storage}/download-url", "download_url",
          {"node": NODE, "storage": STORAGE, "url": Param("string", optional=False, pattern=r"https?://.*"),
           "content": Param("string", "pve-storage-content", optional=False, enum=("iso", "vztmpl", "import")),
           "filename": Param("string", optional=False), "checksum": Param("string"),
           "checksum-algorithm": Param("string", enum=("md5", "sha1", "sha224", "sha256", "sha384", "sha512")),
           "compression": Param("string"), "verify-certificates": BOOL}),
    Route("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}", "storage_content_delete",
          {"node": NODE, "storage": STORAGE, "volume": Param("string", optional=False),
           "delay": Param("integer", minimum=1, maximum=30)}),
    # A node's network interfaces: discovery's bridges, which a migration's network_map must name.
    Route("GET", "/nodes/{node}/network", "network_list", {"node": NODE, "type": Param("string", enum=(
        "bridge", "bond", "eth", "alias", "vlan", "fabric", "OVSBridge", "OVSBond", "OVSPort", "OVSIntPort",
        "vnet", "any_bridge", "any_local_bridge", "include_sdn"))}),
)

# Routes of the real API that are not in the schema subset, served only with --anchor-routes so that
# other clients (community.proxmox's inventory, in the benchmark) can run; conformance does not cover them.
# (The node's network listing, once here, is served always now: the collection's discovery reads it.)
ANCHOR_ROUTES = (
    Route("GET", "/nodes/{node}/lxc", "lxc_list", {"node": NODE}),
)

_PATTERNS = {
    "pve-node": re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$"),
    "pve-configid": re.compile(r"^[a-z][a-z0-9_-]+$", re.I),
    "pve-storage-id": re.compile(r"^[a-z][a-z0-9\-_.]*[a-z0-9]$", re.I),
    "pve-realm": re.compile(r"^[A-Za-z][A-Za-z0-9.\-_]+$"),
    "pve-poolid": re.compile(r"^[A-Za-z0-9_\-/]+$"),
    "urlencoded": re.compile(r"^[-%a-zA-Z0-9_.!~*'()]*$"),
    "dns-name": re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)"
                           r"(\.([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?))*$"),
}
_TAG = re.compile(r"^[a-z0-9_][a-z0-9_\-+.]*$", re.I)
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", re.I)
_BRIDGE = re.compile(r"^[-_.\w\d]+$")
_DISK_SIZE = re.compile(r"^\d+(\.\d+)?[KMGT]?$")
_HOTPLUG = {"network", "disk", "cpu", "memory", "usb", "cloudinit"}
_LENIENT_TRUE = {"1", "on", "yes", "true"}
_LENIENT_FALSE = {"0", "off", "no", "false"}


def declared(name: str, params: Mapping[str, Param]) -> Optional[Param]:
    """The declaration of ``name``, reading ``net3`` as ``net[n]``."""
    if name in params:
        return params[name]
    match = re.match(r"^([a-z]+)(\d+)$", name)
    if match and int(match.group(2)) < INDEXED.get(match.group(1), 0):
        return params.get(match.group(1) + "[n]")
    return None


def validate(params: Mapping[str, Any], declared_params: Mapping[str, Param]) -> dict[str, Any]:
    """Check every parameter PVE's way; return them with integers and booleans converted."""
    errors: dict[str, str] = {}
    checked: dict[str, Any] = {}
    for name, value in params.items():
        spec = declared(name, declared_params)
        if spec is None:
            errors[name] = "property is not defined in schema and the schema does not allow additional properties"
            continue
        try:
            checked[name] = _check(spec, value)
        except ValueError as err:
            errors[name] = str(err)
    for name, spec in declared_params.items():
        if not spec.optional and name not in params:
            errors[name] = "property is missing and it is not optional"
    if errors:
        raise ParamError(errors)
    return checked


def _check(spec: Param, value: Any) -> Any:
    if spec.type == "boolean":
        if value in (True, False) or value in ("1", "0"):
            return value in (True, "1")
        raise ValueError("type check ('boolean') failed - got '%s'" % value)
    if spec.type == "integer":
        if isinstance(value, bool) or not _INTEGER.match(str(value)):
            raise ValueError("type check ('integer') failed - got '%s'" % value)
        number = int(value)
        if spec.format == "pve-vmid" and not re.match(r"^[1-9][0-9]{2,8}$", str(number)):
            raise ValueError("value does not look like a valid VM ID")
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError("value must have a minimum value of %d" % spec.minimum)
        if spec.maximum is not None and number > spec.maximum:
            raise ValueError("value must have a maximum value of %d" % spec.maximum)
        return number
    text = str(value)
    if spec.max_length is not None and len(text) > spec.max_length:
        raise ValueError("value may only be %d characters long" % spec.max_length)
    if spec.enum and text not in spec.enum:
        raise ValueError("value '%s' does not have a value in the enumeration '%s'" % (text, ", ".join(spec.enum)))
    if spec.pattern and not re.match("^(?:%s)$" % spec.pattern, text):
        raise ValueError("value does not match the regex pattern")
    _check_format(spec.format, text)
    return text


def _check_format(fmt: Any, text: str) -> None:
    if fmt is None:
        return
    if isinstance(fmt, tuple):
        parse_property_string(text, fmt[1] if isinstance(fmt[1], Mapping) else PROPERTY_STRINGS[fmt[1]])
    elif fmt in _PATTERNS and not _PATTERNS[fmt].match(text):
        if fmt == "urlencoded":
            raise ValueError("invalid format - invalid urlencoded string: %s" % text)
        if fmt == "pve-configid":
            raise ValueError("invalid format - invalid configuration ID '%s'" % text)
        raise ValueError("invalid format - value does not look like a valid %s" % fmt.replace("pve-", "").replace(
            "-", " "))
    elif fmt == "pve-tag-list":
        for tag in re.split(r"[,; ]+", text.strip()):
            if tag and not _TAG.match(tag):
                raise ValueError("invalid format - invalid characters in tag")
    elif fmt in ("pve-configid-list",):
        for item in re.split(r"[,; ]+", text.strip()):
            if item and not re.match(r"^[a-z][a-z0-9_-]+$", item, re.I):
                raise ValueError("invalid format - invalid configuration ID '%s'" % item)
    elif fmt == "pve-hotplug-features":
        features = set(text.split(","))
        if text not in ("0", "1") and not features <= _HOTPLUG:
            raise ValueError("invalid format - invalid hotplug feature '%s'" % sorted(features - _HOTPLUG)[0])


def parse_property_string(text: str, keys: Mapping[str, SubKey]) -> dict[str, Any]:
    """``virtio=BC:24:11:00:00:01,bridge=vmbr0`` → {'model': 'virtio', 'macaddr': ..., 'bridge': 'vmbr0'}."""
    result: dict[str, Any] = {}
    default_key = next((name for name, key in keys.items() if key.default_key), None)
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            if default_key is None or default_key in result:
                raise ValueError("invalid format - format error\n%s: value without key, but schema does not "
                                 "define a default key" % part)
            name, value, lenient = default_key, part, False
        else:
            lenient = True
        key = keys.get(name)
        if key is None:
            raise ValueError("invalid format - format error\n%s: property is not defined in schema and the schema "
                             "does not allow additional properties" % name)
        if key.type == "mac-alias":
            result["model"] = name
            if value:
                result["macaddr"] = _sub_value(name, SubKey("mac"), value, lenient)
            continue
        result[name] = _sub_value(name, key, value, lenient)
    return result


def _sub_value(name: str, key: SubKey, value: str, lenient: bool) -> Any:
    fail = "invalid format - format error\n%s: " % name
    if key.type == "boolean":
        lowered = value.lower() if lenient else value
        if lowered in _LENIENT_TRUE if lenient else value == "1":
            return True
        if lowered in _LENIENT_FALSE if lenient else value == "0":
            return False
        raise ValueError(fail + "type check ('boolean') failed - got '%s'" % value)
    if key.type == "integer" and not _INTEGER.match(value):
        raise ValueError(fail + "type check ('integer') failed - got '%s'" % value)
    if key.type == "number" and not _NUMBER.match(value):
        raise ValueError(fail + "type check ('number') failed - got '%s'" % value)
    if key.type == "mac" and not _MAC.match(value):
        raise ValueError(fail + "value does not look like a valid MAC address")
    if key.type == "bridge" and (not _BRIDGE.match(value) or len(value) > 15):
        raise ValueError(fail + "value does not look like a valid bridge name")
    if key.type == "disk-size" and not _DISK_SIZE.match(value):
        raise ValueError(fail + "unable to parse size '%s'" % value)
    if key.enum and value not in key.enum:
        choices = ", ".join(key.enum)
        raise ValueError(fail + "value '%s' does not have a value in the enumeration '%s'" % (value, choices))
    return int(value) if key.type == "integer" else value


def print_property_string(values: Mapping[str, Any], first: Optional[str] = None) -> str:
    """The inverse of :func:`parse_property_string`, with ``first`` written bare."""
    parts = [str(values[first])] if first and first in values else []
    for name, value in values.items():
        if name != first:
            parts.append("%s=%s" % (name, int(value) if isinstance(value, bool) else value))
    return ",".join(parts)
