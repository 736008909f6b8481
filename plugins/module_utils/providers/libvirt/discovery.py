# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a libvirt host offers: its networks and bridges, storage pools, CPUs and memory, and the volumes no
domain uses (images).  libvirt errors go up to the provider, which translates them."""

from __future__ import annotations

import ipaddress
from typing import Any, Optional
from xml.etree import ElementTree

from ..base import Capabilities
from ..discovery import (
    DiscoveredHost,
    DiscoveredImage,
    DiscoveredNetwork,
    DiscoveredStorage,
    Discovery,
    architecture_of,
    gib_of,
)
from .client import LibvirtClient, libvirt
from .storage import DEFAULT_POOL

DEFAULT_NETWORK = "default"


def discover(client: LibvirtClient, options: dict[str, Any], capabilities: Capabilities) -> Discovery:
    conn = client.conn
    model, memory_mib, cpus = conn.getInfo()[:3]
    default_pool = options.get("storage_pool") or DEFAULT_POOL
    pools = conn.listAllStoragePools(0)
    return Discovery(
        networks=tuple(_network(net) for net in conn.listAllNetworks(0)) + _bridges(client),
        default_network=options.get("network") or DEFAULT_NETWORK,
        storages=tuple(_storage(pool, pool.name() == default_pool) for pool in pools),
        hosts=(DiscoveredHost(conn.getHostname(), int(cpus), int(memory_mib),
                              _used_memory_mib(conn, int(memory_mib))),),
        images=_images(conn, pools),
        architecture=architecture_of(model),
        capabilities=capabilities,
        hotplug_disks=True,
    )


def _network(network: Any) -> DiscoveredNetwork:
    root = ElementTree.fromstring(network.XMLDesc(0))
    return DiscoveredNetwork(network.name(), "network", _cidr(root.find("ip")))


def _cidr(ip: Optional[ElementTree.Element]) -> str:
    if ip is None or not ip.get("address"):
        return ""
    prefix = ip.get("prefix") or ip.get("netmask") or "24"
    return str(ipaddress.ip_interface("%s/%s" % (ip.get("address"), prefix)).network)


def _bridges(client: LibvirtClient) -> tuple[DiscoveredNetwork, ...]:
    """Host bridges, where the host's interface backend lists them (netcf or udev)."""
    found = client.quietly(lambda: client.conn.listAllInterfaces(0), ["NO_SUPPORT", "OPERATION_INVALID"]) or []
    bridges = []
    for interface in found:
        root = ElementTree.fromstring(interface.XMLDesc(0))
        if root.get("type") == "bridge":
            bridges.append(DiscoveredNetwork(interface.name(), "bridge", _cidr(root.find("protocol/ip"))))
    return tuple(bridges)


def _storage(pool: Any, default: bool) -> DiscoveredStorage:
    kind = ElementTree.fromstring(pool.XMLDesc(0)).get("type") or "dir"
    if not pool.isActive():
        return DiscoveredStorage(pool.name(), kind, default=default)
    dummy, capacity, dummy_allocation, available = pool.info()
    return DiscoveredStorage(pool.name(), kind, gib_of(capacity), gib_of(available), default)


def _used_memory_mib(conn: Any, total_mib: int) -> Optional[int]:
    try:
        free = conn.getFreeMemory()
    except libvirt.libvirtError:
        return None
    return total_mib - int(free // (1024 * 1024))


def _images(conn: Any, pools: list[Any]) -> tuple[DiscoveredImage, ...]:
    """Volumes of active pools that no domain's disk uses: base images, and templates' disks."""
    used: set[str] = set()
    for domain in conn.listAllDomains(0):
        for source in ElementTree.fromstring(domain.XMLDesc(0)).iter("source"):
            used.update(filter(None, (source.get("file"), source.get("dev"))))
    images = []
    for pool in pools:
        if not pool.isActive():
            continue
        for volume in pool.listAllVolumes(0):
            if volume.path() not in used:
                images.append(DiscoveredImage(volume.name(), volume.name()))
    return tuple(sorted(set(images), key=lambda image: image.id))
