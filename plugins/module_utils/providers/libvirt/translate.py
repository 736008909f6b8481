# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain and device XML for libvirt, built from and read into plain values, and libvirt's errors as the
collection's.  Display, volume and snapshot XML have their own
modules (graphics_xml.py, storage_xml.py, snapshot_xml.py).

Pure code: no libvirt import (the error map is handed the ``libvirt`` module), so
it is unit-tested without a daemon.  What the spec knows and libvirt does not
(disk names, NIC names, owned volumes, tags) lives in the domain's
``<metadata>`` under :data:`NAMESPACE`.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from ... import errors
from ...spec import CONSOLE_DEVICES, ConsoleSpec
from .graphics_xml import graphics_xml, parse_graphics

NAMESPACE = "https://virtrigaud.io/xmlns/libvirt-domain/1"
PREFIX = "vr"
ET.register_namespace(PREFIX, NAMESPACE)

ROOT_DISK = "root"
SEED_DEVICE = "sda"
MAX_VCPUS = 64
HOTPLUG_FACTOR = 4
_Q = "{%s}" % NAMESPACE


@dataclass(frozen=True)
class DiskRef:
    """One disk the VM owns: its spec name, guest device and volume path."""

    name: str
    dev: str
    path: str


@dataclass(frozen=True)
class NicRef:
    """One NIC's name by its MAC, and the static address its cloud-init seed carries ("" for none; None when the
    seed's network config came from elsewhere, or the record predates this field)."""

    name: str
    mac: str
    static: Optional[str] = None
    gateway: Optional[str] = None
    dns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Metadata:
    """The collection's own record inside the domain XML."""

    disks: tuple[DiskRef, ...] = ()
    nics: tuple[NicRef, ...] = ()
    seed: Optional[str] = None
    tags: tuple[str, ...] = ()

    def disk(self, name: str) -> Optional[DiskRef]:
        return next((d for d in self.disks if d.name == name), None)

    def owned_paths(self) -> list[str]:
        return [d.path for d in self.disks] + ([self.seed] if self.seed else [])


@dataclass(frozen=True)
class NicPlan:
    name: str
    mac: str
    network: Optional[str] = None
    bridge: Optional[str] = None
    model: str = "virtio"
    static: Optional[str] = None
    gateway: Optional[str] = None
    dns: tuple[str, ...] = ()

    def ref(self) -> NicRef:
        return NicRef(self.name, self.mac, self.static, self.gateway, self.dns)


@dataclass(frozen=True)
class DomainPlan:
    """Everything needed to write a new domain definition."""

    name: str
    uuid: str
    domain_type: str
    cpu: int
    memory_mib: int
    firmware: str
    disks: tuple[DiskRef, ...]
    nics: tuple[NicPlan, ...]
    seed: Optional[str] = None
    tags: tuple[str, ...] = ()
    max_cpu: int = 0
    max_memory_mib: int = 0
    secure_boot: bool = False
    console: Optional[ConsoleSpec] = None
    console_password: str = field(default="", repr=False)

    def metadata(self) -> Metadata:
        return Metadata(disks=self.disks, nics=tuple(n.ref() for n in self.nics), seed=self.seed, tags=self.tags)


@dataclass(frozen=True)
class DomainFacts:
    """What a persistent domain definition says, in the spec's units."""

    name: str
    uuid: str
    cpu: int
    max_cpu: int
    memory_mib: int
    max_memory_mib: int
    firmware: str
    disk_paths: dict[str, str]
    secure_boot: bool
    nics: tuple[dict[str, Optional[str]], ...]
    metadata: Metadata
    console: ConsoleSpec = ConsoleSpec("none")
    # Only in a live definition of a running domain; in one read with VIR_DOMAIN_XML_SECURE, the password too.
    console_port: Optional[int] = None
    console_password: Optional[str] = field(default=None, repr=False)


def hotplug_ceiling_cpu(cpu: int) -> int:
    """The vCPU maximum a new definition gets, so later growth can happen online."""
    return max(cpu, min(HOTPLUG_FACTOR * cpu, MAX_VCPUS))


def hotplug_ceiling_memory(memory_mib: int) -> int:
    return HOTPLUG_FACTOR * memory_mib


def disk_device(index: int) -> str:
    """vda, vdb, … vdz, vdaa: the guest device name of the index-th virtio disk."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return "vd" + letters


def next_disk_device(used: set[str]) -> str:
    index = 0
    while disk_device(index) in used:
        index += 1
    return disk_device(index)


def sub_element(parent: ET.Element, tag: str, text: Optional[str] = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    if text is not None:
        node.text = text
    return node


def metadata_xml(meta: Metadata, namespaced: bool = True) -> str:
    """The metadata element.

    ``virDomainSetMetadata`` wants it without a namespace and puts its own on
    every element, so the same record reads back the same either way.
    """
    q = _Q if namespaced else ""
    root = ET.Element(q + "vm")
    for disk in meta.disks:
        sub_element(root, q + "disk", name=disk.name, dev=disk.dev, path=disk.path)
    for nic in meta.nics:
        static = {"static": nic.static} if nic.static is not None else {}
        static.update({k: v for k, v in (("gateway", nic.gateway), ("dns", ",".join(nic.dns))) if v})
        sub_element(root, q + "nic", name=nic.name, mac=nic.mac, **static)
    if meta.seed:
        sub_element(root, q + "seed", path=meta.seed)
    for tag in meta.tags:
        sub_element(root, q + "tag", tag)
    return ET.tostring(root, encoding="unicode")


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if child.tag.rsplit("}", 1)[-1] == name]


def parse_metadata(domain: ET.Element) -> Metadata:
    node = domain.find("metadata/" + _Q + "vm")
    if node is None:
        return Metadata()
    seeds = _children(node, "seed")
    return Metadata(
        disks=tuple(DiskRef(d.get("name", ""), d.get("dev", ""), d.get("path", "")) for d in _children(node, "disk")),
        nics=tuple(NicRef(n.get("name", ""), n.get("mac", "").lower(), n.get("static"), n.get("gateway"),
                          tuple(d for d in n.get("dns", "").split(",") if d)) for n in _children(node, "nic")),
        seed=seeds[0].get("path") if seeds else None,
        tags=tuple(t.text or "" for t in _children(node, "tag")),
    )


def disk_xml(disk: DiskRef, queues: int, fmt: str = "qcow2") -> ET.Element:
    """A virtio disk with its queue count stated: one queue for each vCPU the VM may grow to.

    Left out, QEMU counts the vCPUs present at boot, and a memory state saved
    after a vCPU hot-plug could not be loaded again (see :func:`restorable_snapshot_xml`).
    """
    node = ET.Element("disk", type="file", device="disk")
    sub_element(node, "driver", name="qemu", type=fmt, discard="unmap", queues=str(queues))
    sub_element(node, "source", file=disk.path)
    sub_element(node, "target", dev=disk.dev, bus="virtio")
    return node


def seed_xml(path: str) -> ET.Element:
    """The NoCloud seed as a read-only SATA CD-ROM, left out of snapshots."""
    node = ET.Element("disk", type="file", device="cdrom", snapshot="no")
    sub_element(node, "driver", name="qemu", type="raw")
    sub_element(node, "source", file=path)
    sub_element(node, "target", dev=SEED_DEVICE, bus="sata")
    sub_element(node, "readonly")
    return node


def interface_xml(nic: NicPlan) -> ET.Element:
    if nic.bridge:
        node = ET.Element("interface", type="bridge")
        sub_element(node, "source", bridge=nic.bridge)
    else:
        node = ET.Element("interface", type="network")
        sub_element(node, "source", network=nic.network or "default")
    sub_element(node, "mac", address=nic.mac)
    if nic.model:  # left out when unknown: libvirt refuses an update that names another model
        sub_element(node, "model", type=nic.model)
    return node


def device_string(node: ET.Element) -> str:
    return ET.tostring(node, encoding="unicode")


def domain_xml(plan: DomainPlan) -> str:
    domain = ET.Element("domain", type=plan.domain_type)
    sub_element(domain, "name", plan.name)
    sub_element(domain, "uuid", plan.uuid)
    sub_element(domain, "metadata")
    sub_element(domain, "memory", str(plan.max_memory_mib or hotplug_ceiling_memory(plan.memory_mib)), unit="MiB")
    sub_element(domain, "currentMemory", str(plan.memory_mib), unit="MiB")
    max_cpu = plan.max_cpu or hotplug_ceiling_cpu(plan.cpu)
    sub_element(domain, "vcpu", str(max_cpu), placement="static", current=str(plan.cpu))
    os_attrs = {"firmware": "efi"} if plan.firmware == "uefi" else {}
    os_node = sub_element(domain, "os", **os_attrs)
    # OVMF's secure-boot builds need SMM, which QEMU offers on q35 only; libvirt picks the build from these features.
    sub_element(os_node, "type", "hvm", arch="x86_64", **({"machine": "q35"} if plan.secure_boot else {}))
    if plan.secure_boot:
        wanted = sub_element(os_node, "firmware")
        for feature in ("secure-boot", "enrolled-keys"):
            sub_element(wanted, "feature", enabled="yes", name=feature)
    sub_element(os_node, "boot", dev="hd")
    features = sub_element(domain, "features")
    sub_element(features, "acpi")
    sub_element(features, "apic")
    if plan.secure_boot:
        sub_element(features, "smm", state="on")
    if plan.domain_type == "kvm":
        sub_element(domain, "cpu", mode="host-passthrough")
    sub_element(domain, "clock", offset="utc")
    for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"), ("on_crash", "destroy")):
        sub_element(domain, event, action)
    devices = sub_element(domain, "devices")
    for disk in plan.disks:
        devices.append(disk_xml(disk, max_cpu))
    if plan.seed:
        devices.append(seed_xml(plan.seed))
    for nic in plan.nics:
        devices.append(interface_xml(nic))
    if plan.console is not None and plan.console.type in CONSOLE_DEVICES:
        devices.append(graphics_xml(plan.console, plan.console_password))
    sub_element(devices, "serial", type="pty")
    sub_element(devices, "console", type="pty")
    channel = sub_element(devices, "channel", type="unix")
    sub_element(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
    sub_element(devices, "memballoon", model="virtio")
    rng = sub_element(devices, "rng", model="virtio")
    sub_element(rng, "backend", "/dev/urandom", model="random")
    return _with_metadata(domain, plan.metadata())


def _with_metadata(domain: ET.Element, meta: Metadata) -> str:
    """Serialise ``domain`` with ``meta`` as its only metadata.

    The metadata element is spliced in as text so that it declares its own
    namespace, as libvirt expects of each metadata child.
    """
    for old in domain.findall("metadata"):
        domain.remove(old)
    text = ET.tostring(domain, encoding="unicode")
    head, sep, tail = text.partition(">")
    return "%s%s<metadata>%s</metadata>%s" % (head, sep, metadata_xml(meta), tail)


def _mib(node: Optional[ET.Element]) -> int:
    if node is None or not node.text:
        return 0
    factors = {"b": 1.0 / 1024 / 1024, "bytes": 1.0 / 1024 / 1024, "KiB": 1.0 / 1024, "k": 1.0 / 1024,
               "MiB": 1, "M": 1, "GiB": 1024, "G": 1024}
    return int(int(node.text) * factors.get(node.get("unit", "KiB"), 1.0 / 1024))


def offers_secure_boot(domain_capabilities: str) -> bool:
    """Whether libvirt's domain capabilities list UEFI firmware with a secure-boot loader."""
    if not domain_capabilities:
        return False
    os_node = ET.fromstring(domain_capabilities).find("os")
    if os_node is None:
        return False
    firmware = [v.text for v in os_node.findall("enum[@name='firmware']/value")]
    secure = [v.text for v in os_node.findall("loader/enum[@name='secure']/value")]
    return "efi" in firmware and "yes" in secure


def parse_domain(xml: str) -> DomainFacts:
    domain = ET.fromstring(xml)
    vcpu = domain.find("vcpu")
    max_cpu = int(vcpu.text or 1) if vcpu is not None else 1
    os_node = domain.find("os")
    uefi = os_node is not None and (
        os_node.get("firmware") == "efi" or os_node.find("loader[@type='pflash']") is not None
    )
    secure_boot = os_node is not None and (
        os_node.find("loader[@secure='yes']") is not None
        or os_node.find("firmware/feature[@name='secure-boot'][@enabled='yes']") is not None
    )
    disk_paths = {}
    for disk in domain.findall("devices/disk[@device='disk']"):
        source, target = disk.find("source"), disk.find("target")
        if source is not None and target is not None:
            disk_paths[target.get("dev", "")] = source.get("file") or source.get("dev") or ""
    console, console_port, console_password = parse_graphics(domain)
    nics = []
    for interface in domain.findall("devices/interface"):
        source, mac, model = interface.find("source"), interface.find("mac"), interface.find("model")
        nics.append({
            "mac": (mac.get("address") or "").lower() if mac is not None else None,
            "network": source.get("network") if source is not None else None,
            "bridge": source.get("bridge") if source is not None else None,
            "model": model.get("type") if model is not None else None,
        })
    return DomainFacts(
        name=domain.findtext("name", ""),
        uuid=domain.findtext("uuid", ""),
        cpu=int(vcpu.get("current", max_cpu)) if vcpu is not None else 1,
        max_cpu=max_cpu,
        memory_mib=_mib(domain.find("currentMemory")) or _mib(domain.find("memory")),
        max_memory_mib=_mib(domain.find("memory")),
        firmware="uefi" if uefi else "bios",
        disk_paths=disk_paths,
        secure_boot=uefi and secure_boot,
        nics=tuple(nics),
        metadata=parse_metadata(domain),
        console=console,
        console_port=console_port,
        console_password=console_password,
    )


def interfaces(facts: DomainFacts) -> list[NicPlan]:
    """The domain's NICs as defined, named from the metadata by MAC (``nicN`` when it has no record)."""
    refs = {ref.mac: ref for ref in facts.metadata.nics}
    found = []
    for index, nic in enumerate(facts.nics):
        mac = nic["mac"] or ""
        ref = refs.get(mac) or NicRef("nic%d" % index, mac)
        found.append(NicPlan(ref.name, mac, nic["network"], nic["bridge"], nic["model"] or "", ref.static,
                             ref.gateway, ref.dns))
    return found


def clone_xml(source_xml: str, name: str, uuid: str, meta: Metadata, macs: list[str], console_password: str) -> str:
    """A copy of ``source_xml`` under a new identity, on the clone's own volumes, without a seed, its display
    behind a password of its own."""
    domain = ET.fromstring(source_xml)
    domain.find("name").text = name  # type: ignore[union-attr]
    domain.find("uuid").text = uuid  # type: ignore[union-attr]
    devices = domain.find("devices")
    if devices is None:
        raise ValueError("the source domain has no devices element")
    for display in devices.findall("graphics"):
        display.set("passwd", console_password)
    paths = {d.dev: d.path for d in meta.disks}
    for disk in list(devices.findall("disk")):
        target, source = disk.find("target"), disk.find("source")
        dev = target.get("dev") if target is not None else None
        if disk.get("device") == "disk" and dev in paths and source is not None:
            source.set("file", paths[dev])
            for stale in disk.findall("backingStore"):
                disk.remove(stale)
        else:
            devices.remove(disk)
    for interface, mac in zip(devices.findall("interface"), macs):
        mac_node = interface.find("mac")
        if mac_node is None:
            mac_node = sub_element(interface, "mac")
        mac_node.set("address", mac)
        for stale in interface.findall("target"):
            interface.remove(stale)
    os_node = domain.find("os")
    for nvram in os_node.findall("nvram") if os_node is not None else []:
        os_node.remove(nvram)  # type: ignore[union-attr]
    return _with_metadata(domain, meta)


def moved_xml(xml: str, moved: dict[str, str]) -> str:
    """``xml`` (a domain's inactive definition) with the disks at the keys of ``moved`` on its values' paths, in
    its devices and in the collection's metadata; a moved disk is a full copy and reads from no backing file."""
    domain = ET.fromstring(xml)
    for disk in domain.findall("devices/disk"):
        source = disk.find("source")
        if source is not None and source.get("file") in moved:
            source.set("file", moved[source.get("file", "")])
            for stale in disk.findall("backingStore"):
                disk.remove(stale)
    meta = parse_metadata(domain)
    meta = Metadata(disks=tuple(dataclasses.replace(d, path=moved.get(d.path, d.path)) for d in meta.disks),
                    nics=meta.nics, seed=moved.get(meta.seed, meta.seed) if meta.seed else None, tags=meta.tags)
    return _with_metadata(domain, meta)


# errors: libvirt errors → the collection's error taxonomy, with secrets scrubbed from messages

# libvirt error code names (``libvirt.VIR_ERR_*``) grouped by the error they become.
_CLASSES: tuple[tuple[type[errors.VirtrigaudError], tuple[str, ...]], ...] = (
    (errors.NotFoundError, ("NO_DOMAIN", "NO_NETWORK", "NO_STORAGE_POOL", "NO_STORAGE_VOL", "NO_DOMAIN_SNAPSHOT")),
    (errors.AlreadyExistsError, ("DOM_EXIST", "STORAGE_VOL_EXIST")),
    (errors.PreconditionError, ("OPERATION_INVALID",)),
    (errors.AuthenticationError, ("AUTH_FAILED", "AUTH_CANCELLED", "AUTH_UNAVAILABLE")),
    (errors.PermissionDeniedError, ("ACCESS_DENIED", "OPERATION_DENIED")),
    (errors.UnavailableError, ("NO_CONNECT", "RPC", "SYSTEM_ERROR", "AGENT_UNRESPONSIVE")),
    (errors.DeadlineExceededError, ("OPERATION_TIMEOUT",)),
    (errors.UnsupportedError, ("NO_SUPPORT", "OPERATION_UNSUPPORTED", "CONFIG_UNSUPPORTED", "ARGUMENT_UNSUPPORTED")),
)
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def scrub(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """Remove URI credentials and any known secret from a message."""
    text = _USERINFO.sub(r"\g<scheme>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def error_class(libvirt: Any, code: int) -> type[errors.VirtrigaudError]:
    for cls, names in _CLASSES:
        if any(getattr(libvirt, "VIR_ERR_" + name, None) == code for name in names):
            return cls
    return errors.ProviderError


def translate(libvirt: Any, err: Any, secrets: Iterable[Optional[str]] = (), **context: Any) -> errors.VirtrigaudError:
    """A ``libvirt.libvirtError`` as the collection's error; ``context`` names VM, provider, operation."""
    code = err.get_error_code()
    message = scrub(err.get_error_message() or str(err), secrets)
    cls = error_class(libvirt, code)
    if code == getattr(libvirt, "VIR_ERR_SYSTEM_ERROR", None) and "connect" not in message.lower():
        cls = errors.ProviderError
    return cls(message, details={"libvirt_error_code": code}, **context)
