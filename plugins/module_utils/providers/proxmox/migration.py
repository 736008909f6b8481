# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a Proxmox VE VM to another node (POST .../migrate, a ``qmigrate`` task).

PVE refuses before forking a move to the node the VM is on, a locked VM and a
running VM without ``online``; a failed task leaves the VM on its node,
unlocked.  A live move of a VM with disks on node-local storage needs
``with-local-disks``, which PVE otherwise refuses inside the task.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ... import errors
from ...resilience import Deadline
from .client import Session


def check(nodes: Sequence[Mapping[str, Any]], config: Mapping[str, Any], target: str, option: str) -> None:
    """Refuse a node the cluster lacks or that is down, and a VM under a lock, before anything moves."""
    by_name = {n["node"]: n for n in nodes}
    if target not in by_name:
        raise errors.SpecError("node '%s' does not exist; the cluster has %s" % (target, ", ".join(sorted(by_name))),
                               option=option)
    if by_name[target].get("status") != "online":
        raise errors.UnavailableError("node '%s' is %s, so nothing can move there"
                                      % (target, by_name[target].get("status")))
    if config.get("lock"):
        raise errors.PreconditionError("the VM is locked (%s); PVE moves no locked VM" % config["lock"])
    if config.get("template"):
        raise errors.PreconditionError("the VM is a template; this collection moves VMs only")


def migrate(session: Session, vm_path: str, target: str, live: bool, deadline: Deadline) -> None:
    params: dict[str, Any] = {"target": target}
    if live:
        params.update({"online": True, "with-local-disks": True})
    session.wait(session.post(vm_path + "/migrate", **params), deadline, "migrate")
