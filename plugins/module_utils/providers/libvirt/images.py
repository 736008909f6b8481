# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Images in libvirt: a volume named after the image in a storage pool, its bytes uploaded through a libvirt
stream, so a remote libvirtd works as a local one does.

libvirt errors go up to the provider, which translates them.
"""

from __future__ import annotations

from typing import Any, Optional

from ...errors import ConflictError
from ...image_transfer import CHUNK, LocalImage, Transfer
from ...images import ImageSpec, PreparedImage
from .storage import Storage
from .storage_xml import backing_path, volume_format, volume_xml


def image_pool(storage: Storage, spec: ImageSpec) -> Any:
    return storage.pool(spec.storage, "storage") if spec.storage else storage.default_pool()


def find_image(storage: Storage, spec: ImageSpec) -> Optional[PreparedImage]:
    pool = image_pool(storage, spec)
    volume = storage.client.quietly(lambda: pool.storageVolLookupByName(spec.name), ["NO_STORAGE_VOL"])
    return _prepared(spec.name, volume, pool) if volume is not None else None


def _prepared(name: str, volume: Any, pool: Any) -> PreparedImage:
    return PreparedImage(name=name, id=name, path=volume.path(), format=volume_format(volume.XMLDesc(0)),
                         size_bytes=volume.info()[1], storage=pool.name())


def prepare_image(storage: Storage, spec: ImageSpec, transfer: Transfer) -> PreparedImage:
    existing = find_image(storage, spec)
    if existing is not None:
        return existing
    pool = image_pool(storage, spec)
    local = transfer.fetch(spec)
    try:
        volume = upload(storage, pool, spec.name, local)
    finally:
        transfer.discard(local)
    return _prepared(spec.name, volume, pool)


def upload(storage: Storage, pool: Any, name: str, local: LocalImage, digest: Any = None) -> Any:
    """The file as a new volume.  It is made raw and as large as the file, then the pool is refreshed so that
    libvirt reads the format from the uploaded header, as it does for a file copied into a directory pool.
    A ``digest`` (hashlib's) is fed the bytes as they go, so the caller verifies them in the same pass."""
    created: list[Any] = []
    volume = storage.new_volume(pool, volume_xml(name, local.size_bytes, fmt="raw"), created)
    stream = storage.client.conn.newStream(0)
    try:
        volume.upload(stream, 0, local.size_bytes, 0)
        with open(local.path, "rb") as handle:
            for data in iter(lambda: handle.read(CHUNK), b""):
                if digest is not None:
                    digest.update(data)
                stream.send(data)
        stream.finish()
    except BaseException:
        abort_stream(stream)
        storage.delete_volumes(created)
        raise
    pool.refresh(0)
    return pool.storageVolLookupByName(name)


def abort_stream(stream: Any) -> None:
    try:
        stream.abort()
    except Exception:  # pylint: disable=broad-exception-caught  # the upload's own error is the one to report
        pass


def delete_image(storage: Storage, image: PreparedImage) -> None:
    """Remove the image's volume, unless a VM's disk reads from it: that disk would lose its data."""
    volume = storage.volume_at(image.path) if image.path else None
    if volume is None:
        return
    pool = volume.storagePoolLookupByVolume()
    users = [other.name() for other in pool.listAllVolumes(0) if backing_path(other.XMLDesc(0)) == image.path]
    if users:
        raise ConflictError("image '%s' is the backing file of volume(s) %s; remove the VMs first"
                            % (image.name, ", ".join(sorted(users))))
    storage.delete_volumes([volume])
