# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a Proxmox VE VM's disks go: the storage a spec names or the provider's default, checked on a node, and
disks grown."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ... import errors
from ...resilience import Deadline
from ...spec import DiskSpec, VMSpec
from .client import Session

DEFAULT_ROOT_GIB = 10


def root_disk(spec: VMSpec) -> DiskSpec:
    return DiskSpec("root", spec.root_disk_gib or DEFAULT_ROOT_GIB, spec.disk_type)


def storage_choice(spec: VMSpec, options: Mapping[str, Any]) -> tuple[Optional[str], str]:
    """The storage for the VM's disks, and the option that names it."""
    if spec.placement.datastore:
        return spec.placement.datastore, "placement.datastore"
    return options.get("storage_pool"), "default_datastore"


def require_storage(session: Session, node: str, storage: str, option: str, content: str) -> None:
    """Refuse, naming ``option``, a storage that ``node`` lacks or that does not hold ``content``."""
    found = [s for s in session.get("nodes/%s/storage" % node) if s.get("storage") == storage]
    if not found:
        raise errors.SpecError("storage '%s' does not exist on node '%s'" % (storage, node), option=option)
    if content not in str(found[0].get("content", "")).split(","):
        raise errors.SpecError("storage '%s' does not hold %s" % (storage, content), option=option)


def resize(session: Session, vm_path: str, disk: str, size_gib: int, deadline: Deadline) -> None:
    session.wait(session.put(vm_path + "/resize", disk=disk, size="%dG" % size_gib), deadline, "resize")
