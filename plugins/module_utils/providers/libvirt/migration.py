# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a VM from one libvirtd to another (``target.host``, the other libvirtd's URI).

A stopped VM: each of its volumes is read from the source through a libvirt stream and written to a new volume in
the target's pool through another, its SHA-256 taken on the way; the target's copy is read back and must hash the
same.  An overlay is flattened first (a full copy beside it, removed after), so the target needs nothing of the
source's images.  Then the domain is defined on the target with the new paths, undefined on the source, and the
source's volumes are removed.  Streams pass through this process, so the two libvirtds need not share a disk.

A running VM: QEMU's live migration with a copy of its writable disks (``VIR_MIGRATE_NON_SHARED_DISK``) into
empty volumes made on the target beforehand; the read-only cloud-init seed goes first, by stream as above.  libvirt
persists the domain on the target and undefines it on the source.  Its disks are copied by QEMU's block mirror,
which converges before the switch-over; they are not hashed (the guest writes to them).

Whatever fails before the switch leaves the source as it was and removes what the target got.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Callable, Iterable
from xml.etree import ElementTree

from ...errors import ConflictError, PreconditionError, ProviderError
from . import translate as dx
from .client import libvirt
from .storage import Storage
from .storage_xml import volume_format, volume_xml

CHUNK = 1024 * 1024
LIVE_FLAGS = ("VIR_MIGRATE_LIVE", "VIR_MIGRATE_PERSIST_DEST", "VIR_MIGRATE_UNDEFINE_SOURCE",
              "VIR_MIGRATE_NON_SHARED_DISK")


class HostMove:
    """One VM's move from the libvirtd behind ``source`` to the one behind ``target``, into ``pool`` there."""

    def __init__(self, source: Storage, target: Storage, pool: Any, domain: Any) -> None:
        self.source = source
        self.target = target
        self.pool = pool
        self.domain = domain
        self.created: list[Any] = []

    def check(self, option: str) -> None:
        """What the target must offer before anything is made there: no VM of this name or id, and every network
        the VM's NICs join.

        Raises:
            ConflictError: the target has a VM of this name or id already.
            PreconditionError: a network is missing on the target, naming ``option``.
        """
        conn = self.target.client.conn
        name, vm_id = self.domain.name(), self.domain.UUIDString()
        for lookup, key in ((conn.lookupByName, name), (conn.lookupByUUIDString, vm_id)):
            if self.target.client.quietly(functools.partial(lookup, key), ["NO_DOMAIN"]) is not None:
                raise ConflictError("the target libvirtd has a VM '%s' already" % key, vm=name)
        facts = dx.parse_domain(self.domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        for network in sorted({nic.network for nic in dx.interfaces(facts) if nic.network}):
            found = self.target.client.quietly(functools.partial(conn.networkLookupByName, network), ["NO_NETWORK"])
            if found is None:
                raise PreconditionError("VM '%s' joins network '%s', which the target libvirtd does not have"
                                        % (name, network), vm=name, option=option)

    def stopped(self) -> list[str]:
        """Move the stopped VM; return the source paths that could not be removed afterwards."""
        xml = self.domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
        facts = dx.parse_domain(xml)
        sources = self._volumes(facts.metadata.owned_paths())
        new_domain = None
        try:
            moved = {path: self._copy(volume) for path, volume in sources.items()}
            new_domain = self.target.client.conn.defineXMLFlags(dx.moved_xml(xml, moved),
                                                                libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            self.domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        except BaseException:
            if new_domain is not None:
                new_domain.undefine()
            self.target.delete_volumes(self.created)
            raise
        return self.source.delete_volumes(sources.values())

    def running(self) -> list[str]:
        """Move the running VM live; return the source paths that could not be removed afterwards."""
        flags = libvirt.VIR_DOMAIN_XML_SECURE
        live_xml = self.domain.XMLDesc(flags | libvirt.VIR_DOMAIN_XML_MIGRATABLE)
        persistent_xml = self.domain.XMLDesc(flags | libvirt.VIR_DOMAIN_XML_INACTIVE)
        meta = dx.parse_domain(persistent_xml).metadata
        sources = self._volumes(meta.owned_paths())
        try:
            moved = {meta.seed: self._copy(sources[meta.seed])} if meta.seed in sources else {}
            for disk in meta.disks:
                moved[disk.path] = self._empty_like(sources[disk.path])
            params = {
                libvirt.VIR_MIGRATE_PARAM_DEST_XML: dx.moved_xml(live_xml, moved),
                libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: dx.moved_xml(persistent_xml, moved),
                libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: [disk.dev for disk in meta.disks],
            }
            flag = 0
            for name in LIVE_FLAGS:
                flag |= getattr(libvirt, name)
            self.domain.migrate3(self.target.client.conn, params, flag)
        except BaseException:
            self.target.delete_volumes(self.created)
            raise
        return self.source.delete_volumes(sources.values())

    def _volumes(self, paths: Iterable[str]) -> dict[str, Any]:
        found = {}
        for path in paths:
            volume = self.source.volume_at(path)
            if volume is None:
                raise PreconditionError("disk '%s' of VM '%s' is no storage volume, so it cannot be copied to "
                                        "another libvirtd" % (path, self.domain.name()), vm=self.domain.name())
            found[path] = volume
        return found

    def _empty_like(self, volume: Any) -> str:
        """An empty volume in the target pool, as large as ``volume``, for QEMU to copy it into; its path."""
        xml = volume_xml(volume.name(), volume.info()[1], fmt=volume_format(volume.XMLDesc(0)))
        return str(self.target.new_volume(self.pool, xml, self.created).path())

    def _copy(self, volume: Any) -> str:
        """A copy of ``volume`` in the target pool, checked by SHA-256; its path."""
        flat = None
        if _has_backing(volume.XMLDesc(0)):
            scratch: list[Any] = []
            xml = volume_xml(volume.name() + ".moving", volume.info()[1], fmt=volume_format(volume.XMLDesc(0)))
            flat = self.source.new_volume(volume.storagePoolLookupByVolume(), xml, scratch, source=volume)
        try:
            copy = self.target.new_volume(self.pool, volume_xml(
                volume.name(), volume.info()[1], fmt=volume_format(volume.XMLDesc(0))), self.created)
            sent = stream_copy(flat or volume, copy)
            kept = stream_digest(copy)
            if sent != kept:
                raise ProviderError("the copy of volume '%s' on the target libvirtd does not match what was sent "
                                    "(SHA-256 %s, %d bytes sent; %s, %d bytes there)"
                                    % (volume.name(), sent[1], sent[0], kept[1], kept[0]), vm=self.domain.name())
            return str(copy.path())
        finally:
            if flat is not None:
                self.source.delete_volumes([flat])


def _has_backing(xml: str) -> bool:
    return bool(ElementTree.fromstring(xml).findtext("backingStore/path"))


def stream_copy(source: Any, target: Any) -> tuple[int, str]:
    """Write the bytes of volume ``source`` over volume ``target`` (each on its own connection); their count and
    SHA-256."""
    upload = target.connect().newStream(0)
    target.upload(upload, 0, 0, 0)
    try:
        result = _read(source, lambda chunk: _send(upload, chunk))
        upload.finish()
    except BaseException:
        _abort(upload)
        raise
    return result


def stream_digest(volume: Any) -> tuple[int, str]:
    """The byte count and SHA-256 of volume ``volume``, read back through a stream."""
    return _read(volume, lambda _chunk: None)


def _read(volume: Any, each: Callable[[bytes], None]) -> tuple[int, str]:
    download = volume.connect().newStream(0)
    volume.download(download, 0, 0, 0)
    digest = hashlib.sha256()
    size = 0
    try:
        while True:
            chunk = download.recv(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
            each(chunk)
        download.finish()
    except BaseException:
        _abort(download)
        raise
    return size, digest.hexdigest()


def _send(stream: Any, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        sent = stream.send(bytes(view))
        view = view[sent:]


def _abort(stream: Any) -> None:
    try:
        stream.abort()
    except libvirt.libvirtError:
        pass
