# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which PVE node a new VM goes to: the one the spec or the provider names, else the least loaded."""

from __future__ import annotations

from typing import Any, Mapping, Optional, cast

from ... import errors
from ...spec import VMSpec
from .client import Session


def placement_node(nodes: list[dict[str, Any]], spec: VMSpec, options: Mapping[str, Any]) -> Optional[str]:
    """The node named by ``placement.host`` or ``default_node``, which must exist and be online; None if neither."""
    wanted = spec.placement.host or options.get("node")
    option = "placement.host" if spec.placement.host else "default_node"
    by_name = {n["node"]: n for n in nodes}
    if wanted is None:
        return None
    if wanted not in by_name:
        raise errors.SpecError("node '%s' does not exist; the cluster has %s" % (wanted, ", ".join(sorted(by_name))),
                               option=option)
    if by_name[wanted].get("status") != "online":
        raise errors.UnavailableError("node '%s' is %s" % (wanted, by_name[wanted].get("status")))
    return cast(str, wanted)


def least_loaded(session: Session) -> str:
    """The online node with the least memory in use, then the fewest VMs: one cluster/resources call."""
    resources = session.get("cluster/resources")
    online = [r for r in resources if r.get("type") == "node" and r.get("status") == "online"]
    if not online:
        raise errors.UnavailableError("no Proxmox VE node is online")
    guests = [r.get("node") for r in resources if r.get("type") in ("qemu", "lxc")]

    def load(node: dict[str, Any]) -> tuple[float, int, str]:
        return (round(float(node.get("mem", 0)) / float(node.get("maxmem") or 1), 2), guests.count(node["node"]),
                node["node"])

    return cast(str, min(online, key=load)["node"])
