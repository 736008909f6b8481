# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Images in a Proxmox VE storage, fetched by the node itself with ``download-url``.

The node downloads the URL and checks the checksum in a worker task, so no byte passes through the machine the
module runs on.  The image's name is the file name, and its extension picks PVE's content type: ``.iso`` and
``.img`` are ISO images, ``.qcow2``, ``.raw``, ``.vmdk`` and ``.ova`` disk images to import.  PVE refuses to
overwrite a file, so a volume of that name already there is the image, unless its size differs from the source's.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from ... import errors
from ...image_transfer import remote_size
from ...images import ImageSpec, PreparedImage
from ...resilience import Deadline
from .client import Session

# PVE's stock directory storage, which holds ISO images and imports on a fresh install.
DEFAULT_IMAGE_STORAGE = "local"
CONTENT_BY_EXTENSION = {"iso": "iso", "img": "iso", "qcow2": "import", "raw": "import", "vmdk": "import",
                        "ova": "import"}


def is_import_volume(image: str) -> bool:
    """Whether a VM's ``image`` names a disk file of a storage's ``import`` content (``local:import/a.qcow2``),
    which a new VM's root disk is made from with ``import-from``, rather than a template."""
    volume = image.split(":", 1)[1] if ":" in image else ""
    extension = volume.rsplit(".", 1)[-1].lower()
    return volume.startswith("import/") and CONTENT_BY_EXTENSION.get(extension) == "import"


def content_type(spec: ImageSpec) -> str:
    """PVE's content type for the image's file name; others are refused naming ``name``."""
    extension = spec.name.rsplit(".", 1)[-1].lower() if "." in spec.name else ""
    if extension not in CONTENT_BY_EXTENSION:
        raise errors.SpecError("on Proxmox VE the image's name is its file name, ending in %s"
                               % ", ".join("." + e for e in CONTENT_BY_EXTENSION), option="name")
    return CONTENT_BY_EXTENSION[extension]


def check_importable(spec: ImageSpec) -> None:
    """What download-url cannot do, refused by name before anything is asked of PVE."""
    if spec.path:
        raise errors.UnsupportedError("a Proxmox VE node downloads images itself; give a url", option="path")
    if spec.format:
        raise errors.UnsupportedError("a Proxmox VE node stores the file as downloaded; it does not convert",
                                      option="format")
    content_type(spec)


def image_node(online: list[str], wanted: Optional[str]) -> str:
    """The node that downloads: ``default_node``, else the first online one by name, so that runs agree."""
    if wanted:
        if wanted not in online:
            raise errors.SpecError("node '%s' is not an online node of the cluster (%s)" % (
                wanted, ", ".join(sorted(online)) or "none"), option="default_node")
        return wanted
    if not online:
        raise errors.UnavailableError("no Proxmox VE node is online")
    return sorted(online)[0]


class PveImages:
    """One node's view of one storage's images."""

    def __init__(self, session: Session, node: str, storage: Optional[str]) -> None:
        self.session = session
        self.node = node
        self.storage = storage or DEFAULT_IMAGE_STORAGE

    def _content_path(self, *rest: str) -> str:
        return "/".join(("nodes", self.node, "storage", self.storage, "content") + rest)

    def _volid(self, spec: ImageSpec) -> str:
        return "%s:%s/%s" % (self.storage, content_type(spec), spec.name)

    def find(self, spec: ImageSpec) -> Optional[PreparedImage]:
        volid = self._volid(spec)
        found = [v for v in self.session.get(self._content_path(), content=content_type(spec))
                 if v.get("volid") == volid]
        if not found:
            return None
        image = self._prepared(spec, found[0])
        self._check_source_size(spec, image)
        return image

    def _prepared(self, spec: ImageSpec, volume: dict[str, Any]) -> PreparedImage:
        return PreparedImage(spec.name, str(volume["volid"]), path=str(volume["volid"]),
                             format=str(volume.get("format", "")), size_bytes=int(volume.get("size") or 0),
                             storage=self.storage)

    def _check_source_size(self, spec: ImageSpec, image: PreparedImage) -> None:
        """A file of that name but another size is another image: PVE would refuse to overwrite it, and so do we."""
        size = remote_size(spec.url) if spec.url else None
        if size is not None and size != image.size_bytes:
            raise errors.ConflictError(
                "storage '%s' holds %s with %d bytes, but %s has %d; remove it (state=absent) to download it again"
                % (self.storage, image.id, image.size_bytes, spec.url, size), option="name")

    def download(self, spec: ImageSpec, deadline: Deadline) -> PreparedImage:
        params: dict[str, Any] = {"url": spec.url, "content": content_type(spec), "filename": spec.name}
        if spec.checksum:
            params.update({"checksum": spec.checksum.digest, "checksum-algorithm": spec.checksum.algorithm})
        upid = self.session.post("nodes/%s/storage/%s/download-url" % (self.node, self.storage), **params)
        try:
            self.session.wait(upid, deadline, "download %s" % spec.name)
        except errors.PreconditionError as err:
            err.option = "checksum"
            raise
        found = self.find(spec)
        if found is None:
            raise errors.ProviderError("the download of %s ended, but %s holds no %s" % (
                spec.url, self.storage, spec.name))
        return found

    def delete(self, image: PreparedImage, deadline: Deadline) -> None:
        try:
            upid = self.session.delete(self._content_path(quote(image.id, safe="")))
        except errors.NotFoundError:
            return
        self.session.wait(upid, deadline, "delete %s" % image.id)
