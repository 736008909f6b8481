# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A libvirt VM's disks as files, for migrations: described (format, sizes, backing chain), exported to a path or
a URL, and imported into a pool as a qcow2 volume.

A disk whose file can be read where the provider runs (libvirtd on this host) is read directly, and qemu-img
flattens its backing chain; otherwise its bytes come through a libvirt stream, which carries one volume, so a
disk with a backing file is refused there.  libvirt errors go up to the provider, which translates them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from ...disks import IMPORT_FORMAT, DiskDetails, ExportedDisk, ExportSpec, ImportedDisk, ImportSpec
from ...errors import ConflictError, NotFoundError, PreconditionError, SpecError
from ...image_transfer import (
    CHUNK,
    LocalImage,
    Transfer,
    copy_with_digest,
    detect_format,
    file_digest,
    land_export,
    remove_file,
)
from . import images
from . import translate as dx
from .storage import Storage
from .storage_xml import backing_path, pool_path, pool_type, volume_format

MAX_CHAIN = 16
# Pools whose volumes are files in one folder.
FOLDER_POOLS = ("dir", "fs", "netfs")


def disk_ref(facts: dx.DomainFacts, disk: str) -> dx.DiskRef:
    """The disk named ``disk`` (its spec name or guest device); "" is the root disk, else the first one.

    Raises:
        NotFoundError: the VM has no such disk.
    """
    refs = list(facts.metadata.disks) or [dx.DiskRef(dev, dev, path) for dev, path in facts.disk_paths.items()]
    if not disk:
        found = next((r for r in refs if r.name == dx.ROOT_DISK), refs[0] if refs else None)
    else:
        found = next((r for r in refs if disk in (r.name, r.dev)), None)
    if found is None or not found.path:
        raise NotFoundError("VM '%s' has no disk '%s'" % (facts.name, disk or dx.ROOT_DISK))
    return found


def backing_chain(storage: Storage, volume: Any) -> tuple[str, ...]:
    """The files ``volume`` reads through, nearest first, as far as libvirt knows them as volumes."""
    chain: list[str] = []
    path = backing_path(volume.XMLDesc(0))
    while path and len(chain) < MAX_CHAIN:
        chain.append(path)
        below = storage.volume_at(path)
        path = backing_path(below.XMLDesc(0)) if below is not None else ""
    return tuple(chain)


def _volume(storage: Storage, ref: dx.DiskRef) -> Any:
    volume = storage.volume_at(ref.path)
    if volume is None:
        raise NotFoundError("disk '%s' (%s) is no storage volume libvirt knows" % (ref.name, ref.path))
    return volume


def disk_info(storage: Storage, facts: dx.DomainFacts, disk: str, snapshots: tuple[str, ...]) -> DiskDetails:
    ref = disk_ref(facts, disk)
    volume = _volume(storage, ref)
    dummy, capacity, allocation = volume.info()
    pool = volume.storagePoolLookupByVolume()
    return DiskDetails(
        disk_id=ref.name, format=volume_format(volume.XMLDesc(0)), virtual_size_bytes=capacity,
        actual_size_bytes=allocation, path=ref.path, bootable=ref.name == dx.ROOT_DISK or ref.dev == "vda",
        snapshots=snapshots, backing_chain=backing_chain(storage, volume),
        metadata={"device": ref.dev, "pool": pool.name(), "volume": volume.name()},
    )


# exporting


def export_disk(storage: Storage, facts: dx.DomainFacts, spec: ExportSpec, transfer: Transfer) -> ExportedDisk:
    ref = disk_ref(facts, spec.disk)
    volume = _volume(storage, ref)
    source_format = volume_format(volume.XMLDesc(0))
    fmt = spec.format or source_format
    if spec.compress and fmt != "qcow2":
        raise SpecError("only a qcow2 export is compressed; the disk is %s" % fmt, option="compress")
    plan = _Conversion(source_format, fmt, backing_chain(storage, volume), spec.compress)
    checksum, size = land_export(transfer, spec.destination, "%s/%s" % (spec.vm_id, ref.name), fmt, ref.path,
                                 lambda partial: _write(storage, volume, ref, plan, partial, transfer))
    return ExportedDisk(export_id="%s/%s" % (facts.uuid, ref.name), destination=str(spec.destination),
                        format=fmt, size_bytes=size, checksum=checksum)


@dataclass(frozen=True)
class _Conversion:
    """From the disk's format to the export's; qemu-img does it unless the bytes can be copied as they are."""

    source_format: str
    format: str
    chain: tuple[str, ...]
    compress: bool

    @property
    def copies(self) -> bool:
        return self.format == self.source_format and not self.chain and not self.compress


def _write(storage: Storage, volume: Any, ref: dx.DiskRef, plan: _Conversion, target: str,
           transfer: Transfer) -> str:
    """The disk's bytes at ``target`` in the format asked for; return their SHA-256."""
    if os.access(ref.path, os.R_OK):
        if plan.copies:
            return copy_with_digest(ref.path, target)
        transfer.convert(ref.path, plan.source_format, target, plan.format, plan.compress)
        return file_digest(target, "sha256")
    if plan.chain:
        raise PreconditionError("disk '%s' reads through backing file %s, which a libvirt stream cannot carry; "
                                "export it where its file can be read (libvirtd on this host)"
                                % (ref.name, plan.chain[0]))
    if plan.copies:
        return _download(storage, volume, target)
    pulled = target + ".%s" % plan.source_format
    try:
        _download(storage, volume, pulled)
        transfer.convert(pulled, plan.source_format, target, plan.format, plan.compress)
    finally:
        remove_file(pulled)
    return file_digest(target, "sha256")


def _download(storage: Storage, volume: Any, target: str) -> str:
    """The volume's bytes from libvirtd into ``target``, through a stream; return their SHA-256."""
    with open(target, "wb") as handle:
        return _stream(storage, volume, handle.write)


def _stream(storage: Storage, volume: Any, write: Callable[[bytes], Any]) -> str:
    """Hand the volume's bytes to ``write`` as libvirtd streams them; return their SHA-256."""
    digest = hashlib.sha256()

    def sink(dummy_stream: Any, data: bytes, dummy: Any) -> int:
        digest.update(data)
        write(data)
        return len(data)

    stream = storage.client.conn.newStream(0)
    volume.download(stream, 0, 0, 0)
    try:
        stream.recvAll(sink, None)
        stream.finish()
    except BaseException:
        images.abort_stream(stream)
        raise
    return digest.hexdigest()


# importing


def import_disk(storage: Storage, spec: ImportSpec, transfer: Transfer) -> ImportedDisk:
    """The file as a qcow2 volume of the pool; a volume of that name is returned as it is, unless the caller's
    checksum says it holds other bytes."""
    image = spec.image()
    pool = images.image_pool(storage, image)
    existing = storage.client.quietly(lambda: pool.storageVolLookupByName(spec.name), ["NO_STORAGE_VOL"])
    if existing is not None:
        return _existing(storage, existing, spec)
    if spec.source.path and os.path.isfile(spec.source.path) and detect_format(spec.source.path) == IMPORT_FORMAT:
        return _import_as_is(storage, pool, spec, spec.source.path)
    local = transfer.fetch(image)
    try:
        given = local.converted_from or local.format
        if spec.format and spec.format != given:
            raise SpecError("the source is %s, not %s" % (given, spec.format), option="format")
        same_bytes = spec.checksum is not None and spec.checksum.algorithm == "sha256" and not local.converted_from
        checksum = spec.checksum.digest if same_bytes and spec.checksum else file_digest(local.path, "sha256")
        volume = images.upload(storage, pool, spec.name, local)
    finally:
        transfer.discard(local)
    return _imported(spec.name, volume, checksum)


def _import_as_is(storage: Storage, pool: Any, spec: ImportSpec, path: str) -> ImportedDisk:
    """A local file already in the pool's format: verified while it uploads, in one read of its bytes."""
    if spec.format and spec.format != IMPORT_FORMAT:
        raise SpecError("the source is %s, not %s" % (IMPORT_FORMAT, spec.format), option="format")
    local = LocalImage(path, IMPORT_FORMAT, os.path.getsize(path), temporary=False)
    digest = hashlib.new(spec.checksum.algorithm if spec.checksum else "sha256")
    folder = _local_folder(storage, pool)
    if folder:
        volume = _copy_into(pool, folder, spec.name, path, digest)
    else:
        volume = images.upload(storage, pool, spec.name, local, digest)
    if spec.checksum and digest.hexdigest() != spec.checksum.digest:
        storage.delete_volumes([volume])
        raise PreconditionError("%s has %s %s, not %s; nothing was kept" % (
            path, spec.checksum.algorithm, digest.hexdigest(), spec.checksum.digest), option="checksum")
    checksum = digest.hexdigest() if digest.name == "sha256" else volume_digest(storage, volume)
    return _imported(spec.name, volume, checksum)


def _local_folder(storage: Storage, pool: Any) -> str:
    """The pool's folder when libvirtd runs on this host and the pool is a folder of files this process may write
    to, else "": a copy there is what libvirt sees of a volume, without a stream through libvirtd (half as fast)."""
    if urlsplit(storage.client.uri).netloc:
        return ""
    xml = pool.XMLDesc(0)
    folder = pool_path(xml)
    if pool_type(xml) not in FOLDER_POOLS or not folder or not os.access(folder, os.W_OK):
        return ""
    return folder


def _copy_into(pool: Any, folder: str, name: str, path: str, digest: Any) -> Any:
    """The file copied into the pool's folder as volume ``name``, fed to ``digest`` on the way; it appears whole
    (renamed once written) and private, as libvirt makes volumes."""
    target = os.path.join(folder, name)
    if os.path.lexists(target):
        raise ConflictError("'%s' exists already in the folder of storage pool '%s'" % (name, pool.name()))
    partial = os.path.join(folder, ".%s.part" % name)
    try:
        with open(path, "rb") as reader, os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                                                   "wb") as writer:
            for data in iter(lambda: reader.read(CHUNK), b""):
                digest.update(data)
                writer.write(data)
        os.replace(partial, target)
    finally:
        remove_file(partial)
    pool.refresh(0)
    return pool.storageVolLookupByName(name)


def _existing(storage: Storage, volume: Any, spec: ImportSpec) -> ImportedDisk:
    checksum = volume_digest(storage, volume)
    fmt = volume_format(volume.XMLDesc(0))
    comparable = spec.checksum is not None and spec.checksum.algorithm == "sha256" and spec.format in ("", fmt)
    if comparable and spec.checksum and checksum != spec.checksum.digest:
        raise ConflictError("volume '%s' exists already with other bytes (sha256 %s); remove it or import under "
                            "another target_name" % (spec.name, checksum))
    return _imported(spec.name, volume, checksum)


def _imported(name: str, volume: Any, checksum: str) -> ImportedDisk:
    """The volume as ImportDisk reports it: its allocated size, the same on a repeat."""
    return ImportedDisk(disk_id=name, path=volume.path(), format=volume_format(volume.XMLDesc(0)),
                        size_bytes=volume.info()[2], checksum=checksum)


def volume_digest(storage: Storage, volume: Any) -> str:
    """The SHA-256 of the volume's bytes, read directly where possible, else through a stream."""
    path = volume.path()
    if os.access(path, os.R_OK):
        return file_digest(path, "sha256")
    return _stream(storage, volume, lambda data: None)
