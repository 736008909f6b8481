# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A libvirt VM's disks: storage pools and the qcow2 volumes ``<vm>-<disk>.qcow2`` in them, found, made, grown,
copied and removed.

libvirt errors go up to the provider, which translates them.
"""

from __future__ import annotations

from typing import Any, Iterable
from xml.etree import ElementTree

from ...errors import ConflictError, NotFoundError, PreconditionError, SpecError
from ...spec import GIB, VMSpec
from ..base import ProviderConfig, Reconfiguration
from . import translate as dx
from .client import LibvirtClient, libvirt
from .storage_xml import volume_format, volume_xml

DEFAULT_POOL = "default"
DEFAULT_ROOT_GIB = 10


def gib(size_bytes: int) -> int:
    return -(-size_bytes // GIB)


def _allocation(disk_type: str, size: int) -> int:
    """Bytes to allocate up front: none for thin disks, all for the thick kinds."""
    return 0 if disk_type == "thin" else size


class Storage:
    """The pools and volumes of one connection; ``warnings`` is the provider's, for what it cleans up."""

    def __init__(self, client: LibvirtClient, config: ProviderConfig, warnings: list[str]) -> None:
        self.client = client
        self.config = config
        self.warnings = warnings

    def pool(self, name: str, option: str) -> Any:
        pool = self.client.quietly(lambda: self.client.conn.storagePoolLookupByName(name), ["NO_STORAGE_POOL"])
        if pool is None:
            raise SpecError("storage pool '%s' does not exist" % name, option=option)
        if not pool.isActive():
            raise SpecError("storage pool '%s' is not active" % name, option=option)
        return pool

    def default_pool(self) -> Any:
        return self.pool(self.config.options.get("storage_pool") or DEFAULT_POOL, "default_datastore")

    def pool_for(self, spec: VMSpec) -> Any:
        if spec.placement.datastore:
            return self.pool(spec.placement.datastore, "placement.datastore")
        return self.default_pool()

    def volume_at(self, path: str) -> Any:
        return self.client.quietly(lambda: self.client.conn.storageVolLookupByPath(path), ["NO_STORAGE_VOL"])

    def image(self, spec: VMSpec, pool: Any) -> Any:
        image = spec.image or ""
        if image.startswith("/"):
            volume = self.volume_at(image)
        else:
            volume = self.client.quietly(lambda: pool.storageVolLookupByName(image), ["NO_STORAGE_VOL"])
        if volume is None:
            raise SpecError(
                "image '%s' is neither a volume of storage pool '%s' nor the path of a volume" % (image, pool.name()),
                option="image",
            )
        return volume

    def new_volume(self, pool: Any, xml: str, created: list[Any], source: Any = None) -> Any:
        name = ElementTree.fromstring(xml).findtext("name") or ""
        leftover = self.client.quietly(lambda: pool.storageVolLookupByName(name), ["NO_STORAGE_VOL"])
        if leftover is not None:
            self._take_over_leftover(leftover, name)
        volume = pool.createXMLFrom(xml, source, 0) if source is not None else pool.createXML(xml, 0)
        created.append(volume)
        return volume

    def _take_over_leftover(self, volume: Any, name: str) -> None:
        """Delete a volume of this VM's that no domain uses: what a create or clone cut short leaves (the module or
        libvirtd killed between the volumes and the define).  One that a domain uses is a real conflict."""
        path = volume.path()
        for domain in self.client.conn.listAllDomains(0):
            if path in dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).disk_paths.values():
                raise ConflictError("volume '%s' exists already, and VM '%s' uses it" % (name, domain.name()))
        volume.delete(0)
        self.warnings.append("removed volume '%s', which a create cut short had left behind" % name)

    def create_disks(self, spec: VMSpec, pool: Any, created: list[Any]) -> tuple[dx.DiskRef, ...]:
        root_size = (spec.root_disk_gib or 0) * GIB
        backing = None
        if spec.image:
            image = self.image(spec, pool)
            backing = (image.path(), volume_format(image.XMLDesc(0)))
            root_size = max(root_size, image.info()[1])
        root_size = root_size or DEFAULT_ROOT_GIB * GIB
        root = self.new_volume(
            pool,
            volume_xml("%s-root.qcow2" % spec.name, root_size,
                       allocation=0 if backing else _allocation(spec.disk_type, root_size),
                       backing=backing),
            created,
        )
        disks = [dx.DiskRef(dx.ROOT_DISK, dx.disk_device(0), root.path())]
        for index, disk in enumerate(spec.disks, start=1):
            size = disk.size_gib * GIB
            volume = self.new_volume(
                pool,
                volume_xml("%s-%s.qcow2" % (spec.name, disk.name), size, allocation=_allocation(disk.type, size)),
                created,
            )
            disks.append(dx.DiskRef(disk.name, dx.disk_device(index), volume.path()))
        return tuple(disks)

    def delete_volumes(self, volumes: Iterable[Any]) -> list[str]:
        """Delete what can be deleted; return the paths that remain."""
        left = []
        for volume in volumes:
            try:
                volume.delete(0)
            except libvirt.libvirtError as err:
                if err.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
                    left.append(volume.path())
        return left

    def resize_disk(self, domain: Any, facts: dx.DomainFacts, name: str, size_gib: int, live: bool) -> None:
        ref = facts.metadata.disk(name)
        if ref is None:
            raise NotFoundError("the VM has no disk named '%s'" % name)
        if live:
            domain.blockResize(ref.dev, size_gib * GIB, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            return
        volume = self.volume_at(ref.path)
        if volume is None:
            raise NotFoundError("the volume '%s' of disk '%s' is gone" % (ref.path, name))
        volume.resize(size_gib * GIB, 0)

    def add_disks(self, domain: Any, facts: dx.DomainFacts, change: Reconfiguration, flags: int) -> dx.Metadata:
        meta = facts.metadata
        root = meta.disk(dx.ROOT_DISK)
        root_volume = self.volume_at(root.path) if root else None
        pool = root_volume.storagePoolLookupByVolume() if root_volume is not None else self.default_pool()
        used = set(facts.disk_paths)
        disks = list(meta.disks)
        for disk in change.add_disks:
            created: list[Any] = []
            size = disk.size_gib * GIB
            volume = self.new_volume(
                pool,
                volume_xml("%s-%s.qcow2" % (facts.name, disk.name), size, allocation=_allocation(disk.type, size)),
                created,
            )
            ref = dx.DiskRef(disk.name, dx.next_disk_device(used), volume.path())
            try:
                domain.attachDeviceFlags(dx.device_string(dx.disk_xml(ref, facts.max_cpu)), flags)
            except BaseException:
                self.delete_volumes(created)
                raise
            used.add(ref.dev)
            disks.append(ref)
        return dx.Metadata(tuple(disks), meta.nics, meta.seed, meta.tags)

    def clone_disk(self, target: str, name: str, dev: str, path: str, linked: bool, created: list[Any]) -> dx.DiskRef:
        source = self.volume_at(path)
        if source is None:
            raise PreconditionError("disk '%s' (%s) is not a storage volume, so it cannot be cloned" % (name, path))
        pool = source.storagePoolLookupByVolume()
        capacity = source.info()[1]
        volume_name = "%s-%s.qcow2" % (target, name)
        if linked:
            xml = volume_xml(volume_name, capacity, backing=(path, volume_format(source.XMLDesc(0))))
            volume = self.new_volume(pool, xml, created)
        else:
            volume = self.new_volume(pool, volume_xml(volume_name, capacity), created, source=source)
        return dx.DiskRef(name, dev, volume.path())

    def move_volumes(self, paths: Iterable[str], pool: Any, created: list[Any]) -> dict[str, str]:
        """Full copies in ``pool`` of the volumes at ``paths`` that are elsewhere, under their own names: old path →
        new path.  Paths that are no volume (a seed written outside any pool) stay where they are.

        Raises:
            PreconditionError: a disk path is not a storage volume, so it cannot be copied.
        """
        moved = {}
        for path in paths:
            source = self.volume_at(path)
            if source is None:
                continue
            if source.storagePoolLookupByVolume().name() == pool.name():
                continue
            xml = volume_xml(source.name(), source.info()[1], fmt=volume_format(source.XMLDesc(0)))
            moved[path] = self.new_volume(pool, xml, created, source=source).path()
        return moved
