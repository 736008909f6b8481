# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Proxmox VE cluster offers: each online node's bridges, the cluster's storages and nodes from one
``cluster/resources`` call, and its templates."""

from __future__ import annotations

from typing import Any, Callable

from ... import errors
from ..base import Capabilities
from ..discovery import DiscoveredHost, DiscoveredImage, DiscoveredNetwork, DiscoveredStorage, Discovery, gib_of
from .client import Session

DEFAULT_BRIDGE = "vmbr0"


def discover(session: Session, online: list[str], templates: list[dict[str, Any]], options: dict[str, Any],
             capabilities: Capabilities, warn: Callable[[str], None]) -> Discovery:
    resources = session.get("cluster/resources")
    return Discovery(
        networks=_bridges(session, online, warn),
        default_network=options.get("bridge") or DEFAULT_BRIDGE,
        storages=_storages(resources, options.get("storage_pool")),
        hosts=tuple(DiscoveredHost(entry["node"], int(entry.get("maxcpu") or 0),
                                   int((entry.get("maxmem") or 0) // (1024 * 1024)),
                                   int((entry.get("mem") or 0) // (1024 * 1024)))
                    for entry in resources if entry.get("type") == "node" and entry.get("node") in online),
        images=tuple(sorted({DiscoveredImage(str(entry["name"]), str(entry["name"]))
                             for entry in templates if entry.get("name")}, key=lambda image: image.id)),
        capabilities=capabilities,
        hotplug_disks=True,
    )


def _bridges(session: Session, online: list[str], warn: Callable[[str], None]) -> tuple[DiscoveredNetwork, ...]:
    """The bridges of every online node (``nodes/{node}/network``), each name once."""
    found: dict[str, DiscoveredNetwork] = {}
    for node in online:
        try:
            entries = session.get("nodes/%s/network" % node, type="any_bridge")
        except (errors.NotFoundError, errors.UnsupportedError, errors.PermissionDeniedError) as err:
            warn("the bridges of node '%s' could not be listed (%s); discovery leaves them out" % (node, err.msg))
            continue
        for entry in entries:
            if entry.get("iface") and entry["iface"] not in found:
                found[entry["iface"]] = DiscoveredNetwork(entry["iface"], "bridge", entry.get("cidr") or "")
    return tuple(sorted(found.values(), key=lambda network: network.name))


def _storages(resources: list[dict[str, Any]], default: Any) -> tuple[DiscoveredStorage, ...]:
    """One entry per storage: a shared one appears once per node, with the same size."""
    found: dict[str, DiscoveredStorage] = {}
    for entry in resources:
        if entry.get("type") != "storage" or entry.get("status") != "available":
            continue
        name = entry["storage"]
        total = entry.get("maxdisk")
        free = None if total is None else total - (entry.get("disk") or 0)
        storage = DiscoveredStorage(name, str(entry.get("plugintype") or "dir"), gib_of(total), gib_of(free),
                                    name == default)
        if name not in found or (storage.capacity_gib or 0) > (found[name].capacity_gib or 0):
            found[name] = storage
    return tuple(sorted(found.values(), key=lambda storage: storage.name))
