# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VM spec model: parse plain data into frozen, validated, normalised values.

``parse_vm`` takes the same plain dict a module receives (or the runtime decodes
from the wire) and returns a :class:`VMSpec`, or raises :class:`SpecError`
naming the option and the accepted form.  No I/O happens here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .errors import SpecError

MIB = 1024**2
GIB = 1024**3

FIRMWARES = ("bios", "uefi")
DISK_TYPES = ("thin", "thick", "eagerzeroedthick", "ssd", "hdd", "nvme")
NIC_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3")
POWER_STATES = ("On", "Off")
# vnc and spice are graphics devices the collection adds (libvirt); webmks is vSphere's own console.
CONSOLE_TYPES = ("vnc", "spice", "webmks", "none")
CONSOLE_DEVICES = ("vnc", "spice")
LOOPBACK = "127.0.0.1"

MIN_MEMORY_MIB = 16
MAX_MEMORY_MIB = 1048576
MAX_CPU = 128
MAX_DISK_GIB = 65536
# Beyond what any backend attaches; each backend refuses its own lower limit.
MAX_DISKS = 64
MAX_NETWORKS = 32

# Digits are bounded: Python refuses to convert strings of more than 4300 digits, and no size needs 25.
MAX_DIGITS = 24
_QUANTITY = re.compile(r"([0-9]{1,24}(?:\.[0-9]{1,24})?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")
_FACTORS = {
    None: 1,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
    "Ei": 1024**6,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}
_VM_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,78}[A-Za-z0-9])?$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_IPV4 = re.compile(r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What a nested list or dict turned into a string looks like, and what would break XML or a shell.
_TAG_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\[\]{}<>\"']")


@dataclass(frozen=True)
class DiskSpec:
    """An additional data disk; the root disk is described by ``VMSpec.root_disk_gib``."""

    name: str
    size_gib: int
    type: str = "thin"


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    network: Optional[str] = None
    bridge: Optional[str] = None
    model: Optional[str] = None
    mac_address: Optional[str] = None
    ip_address: Optional[str] = None
    prefix: Optional[int] = None
    gateway: Optional[str] = None
    dns: tuple[str, ...] = ()

    def view(self) -> dict[str, Any]:
        """The NIC as plain data, for diffs: only the values given."""
        return _drop_empty(vars(self))


@dataclass(frozen=True)
class Placement:
    datastore: Optional[str] = None
    cluster: Optional[str] = None
    host: Optional[str] = None
    folder: Optional[str] = None
    resource_pool: Optional[str] = None


@dataclass(frozen=True)
class CloudInit:
    user_data: Optional[str] = None
    meta_data: Optional[str] = None
    network_config: Optional[str] = None

    def __bool__(self) -> bool:
        return bool(self.user_data or self.meta_data or self.network_config)

    def digest(self) -> Optional[str]:
        """A stable fingerprint, shown in diffs instead of the (possibly secret) text."""
        if not self:
            return None
        text = "\0".join(part or "" for part in (self.user_data, self.meta_data, self.network_config))
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ConsoleSpec:
    """The console a user asks for; ``listen`` is None when not given (loopback, for a graphics device)."""

    type: str
    listen: Optional[str] = None
    rotate_password: bool = field(default=False, compare=False)

    @property
    def address(self) -> Optional[str]:
        """Where a graphics device listens: the given address, else loopback; None for other consoles."""
        if self.type not in CONSOLE_DEVICES:
            return None
        return self.listen or LOOPBACK

    def view(self) -> dict[str, Any]:
        return {"type": self.type, "listen": self.address}


@dataclass(frozen=True)
class VMSpec:
    name: str
    cpu: Optional[int] = None
    memory_mib: Optional[int] = None
    firmware: Optional[str] = None
    # Only with UEFI firmware; None when not given, so a backend's own default is left alone.
    secure_boot: Optional[bool] = None
    disk_type: str = "thin"
    root_disk_gib: Optional[int] = None
    image: Optional[str] = None
    disks: tuple[DiskSpec, ...] = ()
    networks: tuple[NetworkSpec, ...] = ()
    placement: Placement = field(default_factory=Placement)
    cloud_init: CloudInit = field(default_factory=CloudInit)
    tags: Optional[tuple[str, ...]] = None
    power_state: Optional[str] = None
    # True when a networks list was given, possibly empty: it then names every NIC the VM keeps.
    networks_given: bool = False
    # None when not given: the VM's console is then left as it is.
    console: Optional[ConsoleSpec] = None

    def view(self) -> dict[str, Any]:
        """The normalised spec as plain data, for diffs; secrets appear only as a digest."""
        return {
            "name": self.name,
            "cpu": self.cpu,
            "memory_mib": self.memory_mib,
            "firmware": self.firmware,
            "secure_boot": self.secure_boot,
            "root_disk_gib": self.root_disk_gib,
            "image": self.image,
            "disks": [{"name": d.name, "size_gib": d.size_gib, "type": d.type} for d in self.disks],
            "networks": [n.view() for n in self.networks],
            "cloud_init": self.cloud_init.digest(),
            "tags": list(self.tags) if self.tags is not None else None,
            "power_state": self.power_state,
            **({"console": self.console.view()} if self.console else {}),
        }


def _drop_empty(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in data.items() if v not in (None, (), "")}


def parse_quantity(value: Any, option: str) -> int:
    """Return a Kubernetes-style quantity (``4Gi``, ``512Mi``, ``1G``) in bytes."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SpecError("expected a quantity such as '4Gi' or '512Mi', got %r" % (value,), option=option)
    match = _QUANTITY.fullmatch(str(value).strip())
    if not match:
        raise SpecError(
            "'%s' is not a quantity; use a number with a binary suffix such as '4Gi' or '512Mi'" % _shown(value),
            option=option,
        )
    number, suffix = match.groups()
    whole, dummy, fraction = number.partition(".")
    scale: int = 10 ** len(fraction)
    return (int(whole) * scale + int(fraction or 0)) * _FACTORS[suffix] // scale


def _shown(value: Any) -> str:
    """A value as an error message quotes it: long ones cut short."""
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole_number(value: str) -> bool:
    """Plain ASCII digits Python converts (not '²' or a 5000-digit string)."""
    return value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS


def parse_memory_mib(value: Any, option: str = "memory") -> int:
    """Memory as MiB: an integer is MiB, a string is a quantity that must be whole MiB."""
    return _within(_whole_units(value, option, MIB, "MiB", "4Gi"), MIN_MEMORY_MIB, MAX_MEMORY_MIB, "MiB", option)


def parse_size_gib(value: Any, option: str) -> int:
    """Disk size as GiB: an integer is GiB, a string is a quantity that must be whole GiB."""
    return _within(_whole_units(value, option, GIB, "GiB", "20Gi"), 1, MAX_DISK_GIB, "GiB", option)


def _whole_units(value: Any, option: str, unit: int, unit_name: str, example: str) -> int:
    """A bare number counts in ``unit``; a quantity must come to a whole number of them."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _whole_number(value):
        return int(value)
    size = parse_quantity(value, option)
    if size % unit:
        raise SpecError("'%s' is not a whole number of %s; use binary units such as '%s'" % (value, unit_name, example),
                        option=option)
    return size // unit


def _within(amount: int, low: int, high: int, unit_name: str, option: str) -> int:
    if not low <= amount <= high:
        raise SpecError("must be between %d %s and %d %s, got %d %s"
                        % (low, unit_name, high, unit_name, amount, unit_name), option=option)
    return amount


def _string(data: Mapping[str, Any], key: str, option: str, text: bool = False) -> Optional[str]:
    """A non-empty string; unless it is free ``text``, without control characters (libvirt cuts a name at NUL)."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpecError("expected a string, got %s" % type(value).__name__, option=option)
    if not value.strip():
        raise SpecError("must not be empty", option=option)
    if not text and _CONTROL.search(value):
        raise SpecError("%r contains a control character" % value, option=option)
    return value


def _choice(value: Optional[str], choices: tuple[str, ...], option: str) -> Optional[str]:
    if value is None:
        return None
    if value.lower() == "efi":
        value = "uefi"
    if value.lower() not in choices:
        raise SpecError("'%s' is not one of: %s" % (value, ", ".join(choices)), option=option)
    return value.lower()


def _integer(data: Mapping[str, Any], key: str, option: str, low: int, high: int) -> Optional[int]:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str) and _whole_number(value.strip().lstrip("-")):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError("expected an integer, got %r" % (value,), option=option)
    if not low <= value <= high:
        raise SpecError("must be between %d and %d, got %d" % (low, high, value), option=option)
    return value


def _mapping(data: Mapping[str, Any], key: str, option: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError("expected a dictionary, got %s" % type(value).__name__, option=option)
    return value


def _items(data: Mapping[str, Any], key: str, most: int) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise SpecError("expected a list, got %s" % type(value).__name__, option=key)
    if len(value) > most:
        raise SpecError("at most %d, got %d" % (most, len(value)), option=key)
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise SpecError("expected a dictionary, got %s" % type(item).__name__, option="%s[%d]" % (key, index))
    return list(value)


def parse_vm_name(value: Any, option: str = "name") -> str:
    if not isinstance(value, str) or not _VM_NAME.fullmatch(value):
        raise SpecError(
            "%r is not a valid VM name: 1-80 letters, digits, '.', '_' or '-', starting and ending with a letter or "
            "digit"
            % (value,),
            option=option,
        )
    return value


def _parse_disk(item: Mapping[str, Any], option: str) -> DiskSpec:
    name = _string(item, "name", option + ".name")
    if name is None or not _LABEL.fullmatch(name):
        raise SpecError("%r is not a valid disk name: a DNS label such as 'data-1'" % (name,), option=option + ".name")
    if name == "root":
        raise SpecError("'root' is reserved for the root disk; size it with disk_defaults.size",
                        option=option + ".name")
    if item.get("size") is None:
        raise SpecError("is required, for example '10Gi'", option=option + ".size")
    disk_type = _choice(_string(item, "type", option + ".type"), DISK_TYPES, option + ".type") or "thin"
    return DiskSpec(name=name, size_gib=parse_size_gib(item["size"], option + ".size"), type=disk_type)


def _parse_ipv4(item: Mapping[str, Any], key: str, option: str) -> Optional[str]:
    value = _string(item, key, option)
    if value is not None and not _IPV4.fullmatch(value):
        raise SpecError("%r is not an IPv4 address such as '192.0.2.10' (no prefix)" % value, option=option)
    return value


def _parse_network(item: Mapping[str, Any], option: str) -> NetworkSpec:
    name = _string(item, "name", option + ".name")
    if name is None or not _LABEL.fullmatch(name):
        raise SpecError("%r is not a valid network name: a DNS label such as 'lan'" % (name,), option=option + ".name")
    mac = _string(item, "mac_address", option + ".mac_address")
    if mac is not None:
        if not _MAC.fullmatch(mac):
            raise SpecError("%r is not a MAC address such as '52:54:00:12:34:56'" % mac, option=option + ".mac_address")
        mac = mac.replace("-", ":").lower()
    dns = item.get("dns") or ()
    if isinstance(dns, str):
        dns = [part.strip() for part in dns.split(",") if part.strip()]
    if not isinstance(dns, (list, tuple)) or not all(isinstance(d, str) and _is_ip(d) for d in dns):
        raise SpecError("expected a list of IP addresses, got %r" % (dns,), option=option + ".dns")
    spec = NetworkSpec(
        name=name,
        network=_string(item, "network", option + ".network"),
        bridge=_string(item, "bridge", option + ".bridge"),
        model=_choice(_string(item, "model", option + ".model"), NIC_MODELS, option + ".model"),
        mac_address=mac,
        ip_address=_parse_ipv4(item, "ip_address", option + ".ip_address"),
        prefix=_integer(item, "prefix", option + ".prefix", 1, 32),
        gateway=_parse_ipv4(item, "gateway", option + ".gateway"),
        dns=tuple(dns),
    )
    if spec.network and spec.bridge:
        raise SpecError("set either network or bridge, not both", option=option)
    return spec


def parse_networks(value: Any) -> tuple[NetworkSpec, ...]:
    """The ``networks`` list, validated: each entry as a NetworkSpec, names unique."""
    items = _items({"networks": value}, "networks", MAX_NETWORKS)
    networks = [_parse_network(item, "networks[%d]" % i) for i, item in enumerate(items)]
    _unique([n.name for n in networks], "networks", "network")
    return tuple(networks)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _unique(names: list[str], option: str, what: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise SpecError("duplicate %s name '%s'" % (what, name), option="%s[%d].name" % (option, index))
        seen.add(name)


def _parse_tags(value: Any) -> Optional[tuple[str, ...]]:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise SpecError("expected a list of strings", option="tags")
    for tag in value:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 128 or _TAG_FORBIDDEN.search(tag):
            raise SpecError("%r is not a tag: a non-empty string of at most 128 characters, without quotes, brackets, "
                            "braces or control characters" % (tag,), option="tags")
    if len(value) > 50:
        raise SpecError("at most 50 tags, got %d" % len(value), option="tags")
    return tuple(sorted(set(value)))


def _secure_boot(value: Any, firmware: Optional[str]) -> Optional[bool]:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise SpecError("expected true or false, got %r" % (value,), option="secure_boot")
    if value and firmware != "uefi":
        raise SpecError("secure boot needs UEFI firmware: set firmware: uefi with secure_boot: true",
                        option="secure_boot")
    return value


def parse_console(value: Any) -> Optional[ConsoleSpec]:
    """The ``console`` option: a type, a listen address (an IP address) for a graphics device, a rotation ask."""
    if value is None:
        return None
    data = _mapping({"console": value}, "console", "console")
    kind = _choice(_string(data, "type", "console.type"), CONSOLE_TYPES, "console.type")
    if kind is None:
        raise SpecError("a console needs a type, one of: %s" % ", ".join(CONSOLE_TYPES), option="console.type")
    listen = _string(data, "listen", "console.listen")
    if listen is not None:
        if kind not in CONSOLE_DEVICES:
            raise SpecError("a %s console has no listen address; drop it" % kind, option="console.listen")
        if not _is_ip(listen):
            raise SpecError("expected an IP address such as 127.0.0.1 or 0.0.0.0, got '%s'" % _shown(listen),
                            option="console.listen")
    rotate = data.get("rotate_password") or False
    if not isinstance(rotate, bool):
        raise SpecError("expected true or false", option="console.rotate_password")
    if rotate and kind not in CONSOLE_DEVICES:
        raise SpecError("only a vnc or spice console has a password to rotate", option="console.rotate_password")
    return ConsoleSpec(kind, listen, rotate)


def parse_vm(params: Mapping[str, Any], power_state: Optional[str] = None) -> VMSpec:
    """Parse and validate a VM spec from module-shaped parameters."""
    name = parse_vm_name(params.get("name"))
    defaults = _mapping(params, "disk_defaults", "disk_defaults")
    placement = _mapping(params, "placement", "placement")
    cloud_init = _mapping(params, "cloud_init", "cloud_init")
    disks = [_parse_disk(item, "disks[%d]" % i) for i, item in enumerate(_items(params, "disks", MAX_DISKS))]
    networks = parse_networks(params.get("networks"))
    _unique([d.name for d in disks], "disks", "disk")
    if power_state is not None and power_state not in POWER_STATES:
        raise SpecError("'%s' is not one of: %s" % (power_state, ", ".join(POWER_STATES)), option="power_state")
    firmware = _choice(_string(params, "firmware", "firmware"), FIRMWARES, "firmware")
    return VMSpec(
        name=name,
        cpu=_integer(params, "cpu", "cpu", 1, MAX_CPU),
        memory_mib=parse_memory_mib(params["memory"]) if params.get("memory") is not None else None,
        firmware=firmware,
        secure_boot=_secure_boot(params.get("secure_boot"), firmware),
        disk_type=_choice(_string(defaults, "type", "disk_defaults.type"), DISK_TYPES, "disk_defaults.type") or "thin",
        root_disk_gib=(
            parse_size_gib(defaults["size"], "disk_defaults.size") if defaults.get("size") is not None else None
        ),
        image=_string(params, "image", "image"),
        disks=tuple(disks),
        networks=networks,
        networks_given=params.get("networks") is not None,
        placement=Placement(
            **{key: _string(placement, key, "placement." + key) for key in Placement.__dataclass_fields__}
        ),
        cloud_init=CloudInit(
            **{key: _string(cloud_init, key, "cloud_init." + key, text=True) for key in CloudInit.__dataclass_fields__}
        ),
        tags=_parse_tags(params.get("tags")),
        power_state=power_state,
        console=parse_console(params.get("console")),
    )
