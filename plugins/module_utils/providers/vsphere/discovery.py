# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a vCenter offers: its port groups, datastores, hosts and templates, each kind in one paged property
collection.  pyVmomi faults go up to the provider, which translates them."""

from __future__ import annotations

from typing import Any

from ..base import Capabilities
from ..discovery import DiscoveredHost, DiscoveredImage, DiscoveredNetwork, DiscoveredStorage, Discovery, gib_of
from . import client

try:
    from pyVmomi import vim
except ImportError:  # pragma: no cover - client.connect reports it
    vim = None  # type: ignore[assignment]  # unused without pyVmomi

_HOST_PROPERTIES = ("name", "summary.hardware.numCpuThreads", "summary.hardware.memorySize",
                    "summary.quickStats.overallMemoryUsage")
_DATASTORE_PROPERTIES = ("name", "summary.type", "summary.capacity", "summary.freeSpace")


def discover(content: Any, options: dict[str, Any], capabilities: Capabilities) -> Discovery:
    networks = tuple(
        DiscoveredNetwork(props["name"], "distributed" if isinstance(obj, vim.dvs.DistributedVirtualPortgroup)
                          else "portgroup")
        for obj, props in client.collect(content, vim.Network, ("name",)))
    default_datastore = options.get("storage_pool")
    storages = tuple(
        DiscoveredStorage(props["name"], str(props.get("summary.type") or "VMFS").lower(),
                          gib_of(props.get("summary.capacity")), gib_of(props.get("summary.freeSpace")),
                          props["name"] == default_datastore)
        for dummy, props in client.collect(content, vim.Datastore, _DATASTORE_PROPERTIES))
    hosts = tuple(
        DiscoveredHost(props["name"], int(props.get("summary.hardware.numCpuThreads") or 0),
                       int((props.get("summary.hardware.memorySize") or 0) // (1024 * 1024)),
                       props.get("summary.quickStats.overallMemoryUsage"))
        for dummy, props in client.collect(content, vim.HostSystem, _HOST_PROPERTIES))
    images = tuple(sorted((DiscoveredImage(props["name"], props["name"])
                           for dummy, props in client.collect(content, vim.VirtualMachine, ("name", "config.template"))
                           if props.get("config.template")), key=lambda image: image.id))
    return Discovery(networks=networks, default_network=options.get("network") or (
        networks[0].name if networks else None), storages=storages, hosts=hosts, images=images,
        capabilities=capabilities, hotplug_disks=True)
