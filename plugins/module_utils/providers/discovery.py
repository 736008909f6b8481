# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a backend offers, as ``Provider.discover()`` reports it: networks, storage, hosts, instance types,
images and feature flags, in the collection's units (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .base import Capabilities

MIB_PER_GIB = 1024


@dataclass(frozen=True)
class DiscoveredNetwork:
    """A network a VM's NIC can join: ``kind`` is the backend's word (network, bridge, portgroup, distributed,
    pod, multus); ``cidr`` is empty where the backend does not say."""

    name: str
    kind: str
    cidr: str = ""


@dataclass(frozen=True)
class DiscoveredStorage:
    """A place for disks: ``kind`` is the pool type, datastore type, PVE storage type or provisioner."""

    name: str
    kind: str
    capacity_gib: Optional[int] = None
    free_gib: Optional[int] = None
    default: bool = False


@dataclass(frozen=True)
class DiscoveredHost:
    name: str
    cpus: int
    memory_mib: int
    used_memory_mib: Optional[int] = None


@dataclass(frozen=True)
class InstanceType:
    """A size preset: a KubeVirt instancetype, or one the user gave."""

    name: str
    cpus: int
    memory_mib: int


@dataclass(frozen=True)
class DiscoveredImage:
    """A template or image volume; ``id`` is what the collection's ``image`` option takes."""

    id: str
    name: str


@dataclass(frozen=True)
class Discovery:
    """Everything one ``discover()`` call found on a backend."""

    networks: tuple[DiscoveredNetwork, ...] = ()
    default_network: Optional[str] = None
    storages: tuple[DiscoveredStorage, ...] = ()
    hosts: tuple[DiscoveredHost, ...] = ()
    instance_types: tuple[InstanceType, ...] = ()
    images: tuple[DiscoveredImage, ...] = ()
    architecture: str = "amd64"
    capabilities: Capabilities = field(default_factory=Capabilities)
    # Whether a running VM takes a new disk (the Reconfigure contract's add_disks with ``live``).
    hotplug_disks: bool = False

    def largest_host(self) -> Optional[DiscoveredHost]:
        """The host with the most CPUs, then the most memory."""
        return max(self.hosts, key=lambda host: (host.cpus, host.memory_mib), default=None)

    def default_storage(self) -> Optional[DiscoveredStorage]:
        return next((storage for storage in self.storages if storage.default), None)

    def features(self) -> dict[str, bool]:
        """The feature flags users ask about, from the provider's Capabilities."""
        caps = self.capabilities
        return {
            "snapshots": caps.supports_snapshots,
            "memorySnapshots": caps.supports_memory_snapshots,
            "liveResize": caps.supports_reconfigure_online,
            "onlineDiskExpansion": caps.supports_disk_expansion_online,
            "hotplugDisks": self.hotplug_disks,
            "hotplugNICs": any(mode == "live" for mode in caps.nic_changes.values()),
            "linkedClones": caps.supports_linked_clones,
            "secureBoot": caps.supports_secure_boot,
        }

    def to_dict(self) -> dict[str, Any]:
        """The discovery as results show it."""
        return {
            "networks": [vars(network) for network in self.networks],
            "default_network": self.default_network,
            "storages": [vars(storage) for storage in self.storages],
            "hosts": [vars(host) for host in self.hosts],
            "instance_types": [vars(kind) for kind in self.instance_types],
            "images": [vars(image) for image in self.images],
            "architecture": self.architecture,
            "features": self.features(),
        }


def gib_of(size_bytes: Optional[float]) -> Optional[int]:
    """Whole GiB, rounded down; None stays None."""
    return None if size_bytes is None else int(size_bytes // (1024 ** 3))


def architecture_of(machine: Optional[str]) -> str:
    """The name vitistack uses (Go's) for a machine type as the kernel or libvirt reports it."""
    names = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}
    return names.get(machine or "", machine or "amd64")
