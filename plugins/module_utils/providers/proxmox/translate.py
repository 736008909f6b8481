# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure mapping between the VM spec and PVE's config strings, and PVE errors → the collection's.  No I/O.

The collection keeps what PVE has no field for (the spec's disk and NIC names,
the memory hot-plug ceiling) in one line of the VM's description, which clones
inherit with the rest of the config.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import quote

from ... import errors
from ...spec import DiskSpec, NetworkSpec, Placement, VMSpec
from ..base import ConsoleAccess, NicChange, ObservedDisk, ObservedNIC, ObservedVM, Reconfiguration, usable_ip

RECORD_PREFIX = "virtrigaud:"
HOTPLUG = "network,disk,cpu,memory"
HOTPLUG_FACTOR = 4
MAX_CPU = 128
ROOT_KEY = "scsi0"
_TAG = re.compile(r"^[a-z0-9_][a-z0-9_\-+.]*$")
_BRIDGE = re.compile(r"^[-_.\w\d]{1,15}$")
_DISK_KEY = re.compile(r"^(scsi|virtio|sata|ide)(\d+)$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
_UNIT_GIB = {"": 1.0 / 1024 ** 3, "K": 1.0 / 1024 ** 2, "M": 1.0 / 1024, "G": 1.0, "T": 1024.0}
NIC_MODELS = {"virtio": "virtio", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139", "vmxnet3": "vmxnet3"}


def property_string(text: str, default_key: str) -> dict[str, str]:
    """``virtio=BC:24:11:00:00:01,bridge=vmbr0`` → {'virtio': 'BC:..', 'bridge': 'vmbr0'}; a bare part is
    ``default_key``."""
    values: dict[str, str] = {}
    for part in (text or "").split(","):
        key, sep, value = part.partition("=")
        if sep:
            values[key] = value
        elif part:
            values[default_key] = part
    return values


def efi_disk(storage: str) -> str:
    """An EFI vars disk with the distribution and Microsoft keys enrolled, which turns secure boot on (4m only)."""
    return "%s:1,efitype=4m,pre-enrolled-keys=1" % storage


def secure_boot_of(config: Mapping[str, Any]) -> bool:
    efi = property_string(str(config.get("efidisk0") or ""), "file")
    return config.get("bios") == "ovmf" and efi.get("efitype") == "4m" and efi.get("pre-enrolled-keys") == "1"


def bool_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """PVE takes booleans only as 1/0: requests would send Python's True as 'True'."""
    return {k: (int(v) if isinstance(v, bool) else v) for k, v in params.items() if v is not None}


def pve_tags(tags: Iterable[str]) -> str:
    return ";".join(sorted({t.lower() for t in tags}))


def check_tags(tags: Optional[Iterable[str]]) -> None:
    for tag in tags or ():
        if not _TAG.fullmatch(tag):
            raise errors.SpecError(
                "'%s' is not a Proxmox tag: lower-case letters, digits and '_', '-', '+', '.', not starting with "
                "'-', '+' or '.'" % tag, option="tags")


def check_bridge(name: str, option: str) -> None:
    if not _BRIDGE.fullmatch(name):
        raise errors.SpecError("'%s' is not a Proxmox bridge name such as 'vmbr0'" % name, option=option)


def ssh_keys(keys: Iterable[str]) -> str:
    """PVE wants ``sshkeys`` percent-encoded by the client (spaces as %20, never '+')."""
    return quote("\n".join(keys) + "\n", safe="")


def size_gib(text: str) -> int:
    match = _SIZE.fullmatch(text or "")
    return int(round(float(match.group(1)) * _UNIT_GIB[match.group(2)])) if match else 0


# the collection's record in the description

def read_record(description: Optional[str]) -> dict[str, Any]:
    for line in (description or "").splitlines():
        if line.startswith(RECORD_PREFIX):
            try:
                return dict(json.loads(line[len(RECORD_PREFIX):]))
            except ValueError:
                return {}
    return {}


def write_record(description: Optional[str], record: Mapping[str, Any]) -> str:
    lines = [line for line in (description or "").splitlines() if not line.startswith(RECORD_PREFIX)]
    lines.append(RECORD_PREFIX + json.dumps(record, sort_keys=True, separators=(",", ":")))
    return "\n".join(lines)


# spec → config

def nic_value(network: NetworkSpec, default_bridge: Optional[str], option: str) -> str:
    bridge = network.bridge or network.network or default_bridge
    if not bridge:
        raise errors.SpecError("a bridge is required: set networks[].bridge or the default_bridge option",
                               option=option)
    model = NIC_MODELS.get(network.model or "virtio", "virtio")
    head = "%s=%s" % (model, network.mac_address.upper()) if network.mac_address else model
    return "%s,bridge=%s" % (head, bridge)


def nic_rewrite(current: str, bridge: Optional[str] = None, mac: Optional[str] = None) -> str:
    """A ``netN`` value with another bridge or MAC address, every other option (model, firewall, tag...) kept."""
    parts = property_string(current, "model")
    model = _model_key(parts)
    if model is not None and mac:
        parts[model] = mac.upper()
    if bridge:
        parts["bridge"] = bridge
    return ",".join("%s=%s" % pair for pair in parts.items())


def _model_key(net: Mapping[str, str]) -> Optional[str]:
    """The key of a ``netN`` value that names the model and carries the MAC (``virtio=BC:24:11:...``)."""
    return next((m for m in net if m in NIC_MODELS or m.startswith("e1000")), None)


def static_of(config: Mapping[str, Any], key: str) -> tuple[str, Optional[str], tuple[str, ...]]:
    """The static address, gateway and DNS servers ``ipconfigN`` gives NIC ``netN``; "" when it gives none."""
    values = property_string(str(config.get("ipconfig" + key[3:]) or ""), "ip")
    address = values.get("ip", "")
    if "/" not in address:  # dhcp, or nothing
        return "", None, ()
    return address, values.get("gw"), tuple(str(config.get("nameserver") or "").split())


def ipconfig(network: NetworkSpec) -> Optional[str]:
    if not network.ip_address:
        return None
    value = "ip=%s/%d" % (network.ip_address, network.prefix or 24)
    return value + (",gw=%s" % network.gateway if network.gateway else "")


def nic_changes(config: Mapping[str, Any], change: Reconfiguration, record: dict[str, Any], values: dict[str, Any],
                delete: list[str], default_bridge: Optional[str]) -> None:
    """netN, ipconfigN and the record for NICs removed, changed in place and added, found by name."""
    keys = {name: key for key, name in record["nics"].items()}
    for name in change.remove_networks:
        key = nic_key(config, keys, name)
        delete.extend(k for k in (key, "ipconfig" + key[3:]) if k in config)
        record["nics"].pop(key, None)
    for nic_change in change.change_networks:
        key = nic_key(config, keys, nic_change.network.name)
        values.update(changed_nic(config, key, nic_change))
    free = free_keys("net", config, len(change.add_networks))
    for offset, (key, network) in enumerate(zip(free, change.add_networks)):
        values[key] = nic_value(network, default_bridge, "networks[%d].bridge" % offset)
        values.update(static_values(key, network))
        record["nics"][key] = network.name
    if any(k.startswith("ipconfig") for k in values) and not has_cloud_init_drive(config):
        if "ide2" in config:
            raise errors.PreconditionError("a static address needs a cloud-init drive, and ide2, where it goes, "
                                           "is taken", option="networks")
        values["ide2"] = "%s:cloudinit" % (root_storage(config) or "local-lvm")


def nic_key(config: Mapping[str, Any], keys: dict[str, str], name: str) -> str:
    """The ``netN`` key of the NIC named ``name``: from the record, else the key itself (how unrecorded NICs are
    named)."""
    key = keys.get(name, name)
    if key not in config:
        raise errors.NotFoundError("the VM has no NIC named '%s'" % name)
    return key


def changed_nic(config: Mapping[str, Any], key: str, change: NicChange) -> dict[str, Any]:
    wanted = change.network
    values: dict[str, Any] = {}
    bridge = (wanted.bridge or wanted.network) if "network" in change.fields else None
    mac = wanted.mac_address if "mac_address" in change.fields else None
    if bridge or mac:
        values[key] = nic_rewrite(str(config[key]), bridge, mac)
    if "ip_address" in change.fields:
        values.update(static_values(key, wanted))
    return values


def static_values(key: str, network: NetworkSpec) -> dict[str, Any]:
    """ipconfigN (and the VM-wide nameserver) for a NIC with a static address."""
    if not network.ip_address:
        return {}
    values = {"ipconfig" + key[3:]: ipconfig(network)}
    return dict(values, nameserver=" ".join(network.dns)) if network.dns else values


def cpu_settings(cpu: int) -> dict[str, Any]:
    """Sockets × cores is the hot-plug ceiling; vcpus is what runs now."""
    return {"sockets": 1, "cores": max(cpu, min(HOTPLUG_FACTOR * cpu, MAX_CPU)), "vcpus": cpu}


def free_keys(prefix: str, existing: Iterable[str], count: int, first: int = 0) -> list[str]:
    """The next ``count`` unused keys such as scsi1, scsi3 (from ``first`` on)."""
    used = {key[len(prefix):] for key in existing if key.startswith(prefix)}
    keys: list[str] = []
    index = first
    while len(keys) < count:
        if str(index) not in used:
            keys.append("%s%d" % (prefix, index))
        index += 1
    return keys


def disk_value(storage: str, disk: DiskSpec) -> str:
    value = "%s:%d" % (storage, disk.size_gib)
    return value + (",ssd=1" if disk.type == "ssd" else "") + ",discard=on"


def cloud_init_fallback(spec: VMSpec) -> tuple[dict[str, str], list[str]]:
    """The ``ci*`` keys that can carry the spec's cloud-init, and what they cannot carry."""
    values: dict[str, str] = {}
    dropped: list[str] = []
    data = _cloud_config(spec.cloud_init.user_data)
    if spec.cloud_init.user_data and data is None:
        dropped.append("user_data (not a #cloud-config document)")
    users = (data or {}).get("users") or []
    first = users[0] if users and isinstance(users[0], Mapping) else {}
    user = (data or {}).get("user") or first.get("name")
    if isinstance(user, str):
        values["ciuser"] = user
    keys = list((data or {}).get("ssh_authorized_keys") or []) + list(first.get("ssh_authorized_keys") or [])
    if keys:
        values["sshkeys"] = ssh_keys(keys)
    password = (data or {}).get("password") or first.get("plain_text_passwd")
    if isinstance(password, str):
        values["cipassword"] = password
    carried = {"user", "users", "ssh_authorized_keys", "password", "chpasswd"}
    dropped += ["user_data.%s" % key for key in sorted(data or {}) if key not in carried]
    if spec.cloud_init.meta_data:
        dropped.append("meta_data")
    if spec.cloud_init.network_config:
        dropped.append("network_config (static addresses from networks[] are kept)")
    return values, dropped


def _cloud_config(text: Optional[str]) -> Optional[dict[str, Any]]:
    if not text or not text.lstrip().startswith("#cloud-config"):
        return None
    import yaml  # pylint: disable=import-outside-toplevel  # ships with ansible-core

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


# config → observed

def web_address(host: str, port: int) -> str:
    return "https://%s:%d" % ("[%s]" % host if ":" in host else host, port)


def console_url(web: str, node: str, vmid: int) -> Optional[str]:
    """The web UI's noVNC page of the VM, as its Console button opens it."""
    return "%s/?console=kvm&novnc=1&vmid=%d&node=%s" % (web, vmid, quote(node)) if web else None


def vnc_access(answer: Mapping[str, Any], web: str, host: str, node: str, vmid: int) -> ConsoleAccess:
    """A ``vncproxy`` answer as console access: its ticket is the secret, valid for a short while and for the user
    who asked, and the ``vncwebsocket`` URL a noVNC client opens carries it."""
    ticket = str(answer["ticket"])
    port = int(answer["port"])  # a string, as PVE sends it, or a number
    websocket = "%s/api2/json/nodes/%s/qemu/%d/vncwebsocket?port=%d&vncticket=%s" % (
        web.replace("https://", "wss://", 1), quote(node), vmid, port, quote(ticket, safe=""))
    return ConsoleAccess(type="vnc", url=console_url(web, node, vmid) or web, host=host, port=port, password=ticket,
                         websocket_url=websocket)


def observed(vmid: int, node: str, config: Mapping[str, Any], status: Mapping[str, Any],
             interfaces: Iterable[Mapping[str, Any]] = (), web: str = "") -> ObservedVM:
    record = read_record(config.get("description"))
    names = dict(record.get("disks") or {}, **{ROOT_KEY: "root"})
    nic_names = record.get("nics") or {}
    features = set(str(config.get("hotplug", "network,disk,usb")).split(","))
    sockets, cores = int(config.get("sockets") or 1), int(config.get("cores") or 1)
    cpu = int(config.get("vcpus") or sockets * cores)
    memory = int(property_string(str(config.get("memory", "512")), "current").get("current", 512))
    by_mac = {str(i.get("hardware-address", "")).lower(): i for i in interfaces}
    disks = []
    for key in sorted((k for k in config if _DISK_KEY.match(k)), key=_disk_order):
        drive = property_string(str(config[key]), "file")
        if drive.get("media") == "cdrom" or "cloudinit" in drive.get("file", ""):
            continue
        volume = drive.get("file", "")
        disks.append(ObservedDisk(name=names.get(key, key), size_gib=size_gib(drive.get("size", "")),
                                  format="qcow2" if volume.endswith(".qcow2") else "raw", path=volume, device=key))
    nics = []
    for key in sorted((k for k in config if k.startswith("net") and k[3:].isdigit()), key=lambda k: int(k[3:])):
        net = property_string(str(config[key]), "model")
        model = _model_key(net) or net.get("model")
        mac = (net.get(model or "", "") or net.get("macaddr", "")).lower()
        found = by_mac.get(mac, {})
        addresses = tuple(a["ip-address"] for a in found.get("ip-addresses") or ()
                          if a.get("ip-address-type") == "ipv4" and usable_ip(a["ip-address"]))
        static, gateway, dns = static_of(config, key)
        nics.append(ObservedNIC(name=nic_names.get(key, key), mac_address=mac or None, bridge=net.get("bridge"),
                                network=net.get("bridge"), model=model, ip_addresses=addresses, static_ip=static,
                                gateway=gateway, dns=dns))
    return ObservedVM(
        id=str(vmid),
        name=str(config.get("name") or "VM %d" % vmid),
        power_state="On" if status.get("status") == "running" else "Off",
        cpu=cpu,
        memory_mib=memory,
        firmware="uefi" if config.get("bios") == "ovmf" else "bios",
        secure_boot=secure_boot_of(config),
        max_cpu=sockets * cores if "cpu" in features else cpu,
        max_memory_mib=max(memory, int(record.get("maxMemoryMiB") or 0)) if "memory" in features else memory,
        disks=tuple(disks),
        nics=tuple(nics),
        tags=tuple(t for t in str(config.get("tags") or "").split(";") if t),
        console_url=console_url(web, node, vmid),
        placement=Placement(host=node, datastore=root_storage(config)),
        raw={"vmid": vmid, "node": node, "lock": config.get("lock"), "digest": config.get("digest")},
    )


def root_storage(config: Mapping[str, Any]) -> Optional[str]:
    volume = property_string(str(config.get(ROOT_KEY, "")), "file").get("file", "")
    return volume.split(":", 1)[0] if ":" in volume else None


def has_cloud_init_drive(config: Mapping[str, Any]) -> bool:
    return any(_DISK_KEY.match(k) and "cloudinit" in str(v) for k, v in config.items())


def observed_resource(entry: Mapping[str, Any]) -> ObservedVM:
    """A ``cluster/resources`` entry of type qemu as an ObservedVM (no NICs: the bulk query has none)."""
    vmid = int(entry["vmid"])
    maxdisk = int(entry.get("maxdisk") or 0)
    return ObservedVM(
        id=str(vmid),
        name=str(entry.get("name") or "VM %d" % vmid),
        power_state="On" if entry.get("status") == "running" else "Off",
        cpu=int(entry["maxcpu"]) if entry.get("maxcpu") else None,
        memory_mib=int(entry["maxmem"]) // (1024 * 1024) if entry.get("maxmem") else None,
        disks=(ObservedDisk(name="total", size_gib=-(-maxdisk // 1024 ** 3)),) if maxdisk else (),
        tags=tuple(t for t in str(entry.get("tags") or "").split(";") if t),
        placement=Placement(host=entry.get("node")),
        raw={"vmid": vmid, "node": entry.get("node"), "lock": entry.get("lock"), "status": entry.get("status"),
             "uptime": entry.get("uptime")},
    )


def _disk_order(key: str) -> tuple[int, str, int]:
    match = _DISK_KEY.match(key)
    return (0 if key == ROOT_KEY else 1, match.group(1), int(match.group(2))) if match else (2, key, 0)


# errors

_NOT_FOUND = ("does not exist", "unable to find configuration file", "no such")
_PRECONDITION = ("is running", "not running", "already running", "is a template", "it's a template", "is paused",
                 "protection mode", "still in use", "not allowed for linked clones", "feature is not supported")
_CONFLICT = ("is locked", "checksum mismatch", "already exists", "config file already exists",
             "can't lock file")


def translate(status: int, reason: str, param_errors: Optional[Mapping[str, str]] = None,
              operation: Optional[str] = None) -> errors.VirtrigaudError:
    """A PVE HTTP error (status and the message PVE puts in the reason phrase) as the collection's error."""
    message = reason.strip() or "HTTP %d" % status
    details: dict[str, Any] = {"http_status": status}
    if param_errors:
        details["parameters"] = dict(param_errors)
        message = "%s %s" % (message, "; ".join("%s: %s" % kv for kv in sorted(param_errors.items())))
    lowered = message.lower()
    if status == 401:
        cls: type[errors.VirtrigaudError] = errors.AuthenticationError
    elif status == 403:
        cls = errors.PermissionDeniedError
    elif status == 400:
        cls = errors.SpecError
    elif status == 501:
        cls = errors.UnsupportedError
    elif status in (502, 503, 504) or status >= 595:
        cls = errors.UnavailableError
    elif "hostname lookup" in lowered:
        cls = errors.NotFoundError
    elif any(text in lowered for text in _CONFLICT):
        cls = errors.ConflictError
    elif any(text in lowered for text in _NOT_FOUND):
        cls = errors.NotFoundError
    elif any(text in lowered for text in _PRECONDITION):
        cls = errors.PreconditionError
    else:
        cls = errors.ProviderError
    return cls("Proxmox VE: %s" % message, operation=operation, details=details)
