# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain snapshot XML for libvirt, and whether a saved memory state can be loaded again.  Pure code: no libvirt
import."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Optional

from .translate import sub_element


def snapshot_xml(name: str, description: str) -> str:
    snapshot = ET.Element("domainsnapshot")
    sub_element(snapshot, "name", name)
    if description:
        sub_element(snapshot, "description", description)
    return ET.tostring(snapshot, encoding="unicode")


@dataclass(frozen=True)
class SnapshotFacts:
    name: str
    description: str
    created: Optional[int]
    state: str
    parent: Optional[str]


def parse_snapshot(xml: str) -> SnapshotFacts:
    node = ET.fromstring(xml)
    created = node.findtext("creationTime")
    return SnapshotFacts(
        name=node.findtext("name", ""),
        description=node.findtext("description", ""),
        created=int(created) if created else None,
        state=node.findtext("state", ""),
        parent=node.findtext("parent/name"),
    )


def _hotplugged(domain: ET.Element) -> list[ET.Element]:
    """The vCPUs that are on and were plugged in while the domain ran."""
    return [vcpu for vcpu in domain.findall("vcpus/vcpu")
            if vcpu.get("enabled") == "yes" and vcpu.get("hotpluggable") == "yes"]


def _boot_sized_queues(domain: ET.Element) -> list[str]:
    """Devices whose queue count QEMU derives from the vCPUs present at boot, because none is stated."""
    found = []
    for disk in domain.findall("devices/disk"):
        target, driver = disk.find("target"), disk.find("driver")
        if target is not None and target.get("bus") == "virtio" and (driver is None or not driver.get("queues")):
            found.append(target.get("dev", ""))
    for controller in domain.findall("devices/controller[@type='scsi'][@model='virtio-scsi']"):
        driver = controller.find("driver")
        if driver is None or not driver.get("queues"):
            found.append("scsi%s" % controller.get("index", "0"))
    return found


def restore_problem(xml: str) -> Optional[str]:
    """Why no QEMU could load a memory state saved from this domain, or None when one can.

    ``xml`` is a running domain's XML or a snapshot's (its ``<domain>``).  A
    state saved after a vCPU hot-plug loads only into a QEMU started with those
    vCPUs, and that QEMU gives every device without a stated queue count as
    many queues as it has vCPUs: more than the saved devices had.
    """
    root = ET.fromstring(xml)
    domain = root.find("domain") if root.tag == "domainsnapshot" else root
    if domain is None:
        return None
    vcpus = [vcpu.get("id", "") for vcpu in _hotplugged(domain)]
    devices = _boot_sized_queues(domain)
    if not (vcpus and devices):
        return None
    return (
        "vCPU %s %s hot-plugged while the VM ran, and %s %s the number of queues from the vCPUs present at boot "
        "(a definition made before this collection stated it)"
        % (", ".join(vcpus), "was" if len(vcpus) == 1 else "were", ", ".join(devices),
           "takes" if len(devices) == 1 else "take")
    )


def restorable_snapshot_xml(xml: str) -> Optional[str]:
    """The snapshot with its hot-plugged vCPUs recorded as boot vCPUs; None when it has none.

    libvirt 9.0 restores a memory snapshot by starting QEMU with ``-loadvm``
    and plugs hot-pluggable vCPUs in only afterwards, when the state is
    already loaded, so QEMU fails on their sections ("Unknown savevm section
    or instance 'cpu_common' 1").  Started with them as boot vCPUs, QEMU has
    every vCPU the state holds.  libvirt accepts this redefinition because
    hot-pluggability is not part of the guest ABI it compares.  Check
    :func:`restore_problem` first: the devices must not change with it.
    """
    root = ET.fromstring(xml)
    domain = root.find("domain")
    hotplugged = _hotplugged(domain) if domain is not None else []
    for vcpu in hotplugged:
        vcpu.set("hotpluggable", "no")
    return ET.tostring(root, encoding="unicode") if hotplugged else None
