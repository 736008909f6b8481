# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Internal snapshots of libvirt domains, taken and reverted so that QEMU can load their memory state again.

The caller passes the ``libvirt`` module and the handles; libvirt errors go up
to the provider, which translates them.
"""

from __future__ import annotations

from typing import Any

from ...errors import PreconditionError
from ..base import Snapshot
from . import translate as dx
from .snapshot_xml import parse_snapshot, restorable_snapshot_xml, restore_problem, snapshot_xml

DISK_ONLY_HINT = (
    "libvirt saves the memory of a running VM with every snapshot. For a disk-only snapshot, stop the VM first "
    "(virtrigaud_vm state=stopped) and take it then; or restart the VM, after which its vCPUs are boot vCPUs, "
    "and take the memory snapshot then"
)


def listing(domain: Any) -> list[Snapshot]:
    """The domain's snapshots, oldest first."""
    found = []
    for handle in domain.listAllSnapshots(0):
        facts = parse_snapshot(handle.getXMLDesc(0))
        found.append((facts.created or 0, Snapshot(
            id=facts.name, name=facts.name, description=facts.description,
            created=str(facts.created) if facts.created is not None else None,
            has_memory=facts.state in ("running", "paused"), parent=facts.parent,
            current=bool(handle.isCurrent(0)),
        )))
    return [snapshot for dummy, snapshot in sorted(found, key=lambda pair: (pair[0], pair[1].name))]


def refuse_unrestorable(domain: Any) -> None:
    """Refuse a snapshot of a running domain whose memory state no QEMU could load again.

    Raises:
        PreconditionError: naming ``include_memory``, saying why and how to take a disk-only snapshot.
    """
    if not domain.isActive():
        return
    problem = restore_problem(domain.XMLDesc(0))
    if problem:
        raise PreconditionError(
            "a snapshot of VM '%s' now could not be reverted: %s. %s." % (domain.name(), problem, DISK_ONLY_HINT),
            option="include_memory",
        )


def take(libvirt: Any, domain: Any, name: str, description: str) -> None:
    """Take an internal snapshot (with the memory state when the domain runs) that QEMU can restore."""
    refuse_unrestorable(domain)
    handle = domain.snapshotCreateXML(snapshot_xml(name, description), 0)
    _make_restorable(libvirt, domain, handle)


def revert(libvirt: Any, domain: Any, handle: Any) -> None:
    """Return the domain to the snapshot, running again with the vCPUs and memory the snapshot recorded.

    Raises:
        PreconditionError: the snapshot holds a memory state that no QEMU could load.
    """
    problem = restore_problem(handle.getXMLDesc(0))
    if problem:
        raise PreconditionError("snapshot '%s' holds a memory state that QEMU cannot load again: %s"
                                % (handle.getName(), problem))
    _make_restorable(libvirt, domain, handle)
    domain.revertToSnapshot(handle, 0)
    if domain.isActive():
        _restore_balloon(libvirt, domain)


def _make_restorable(libvirt: Any, domain: Any, handle: Any) -> None:
    """Record the snapshot's hot-plugged vCPUs as boot vCPUs (see ``restorable_snapshot_xml``)."""
    fixed = restorable_snapshot_xml(handle.getXMLDesc(libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE))
    if fixed is None:
        return
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
    if handle.isCurrent(0):
        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
    domain.snapshotCreateXML(fixed, flags)


def _restore_balloon(libvirt: Any, domain: Any) -> None:
    """Ask the restored guest for the memory size the snapshot's definition holds.

    libvirt gives the restored QEMU the balloon size of the snapshot's live
    definition, which is what the guest last reported, not what was last asked
    for: a snapshot taken right after a live memory change came back at the
    old size.  The persistent definition holds the size asked for (virtrigaud
    changes both together).
    """
    wanted = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).memory_mib
    if dx.parse_domain(domain.XMLDesc(0)).memory_mib != wanted:
        domain.setMemoryFlags(wanted * 1024, libvirt.VIR_DOMAIN_AFFECT_LIVE)
