# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VM's disks moved as files, for migrations: what to export (:class:`ExportSpec`) and import
(:class:`ImportSpec`), and what a backend reports back, parsed from upstream's ExportDisk, ImportDisk and
GetDiskInfo requests.  Pure: no I/O.

The bytes never ride on gRPC (upstream's ADR-0006): an export writes them to a file path or an http(s) URL
(PUT), an import reads them from one.  A path is where the provider runs, as upstream's libvirt paths are.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional
from urllib.parse import unquote, urlsplit

from .errors import SpecError
from .images import IMAGE_FORMATS, Checksum, ImageSpec, parse_checksum, parse_image_name

# The format disks are imported as: the one every VM disk of the libvirt backend has.
IMPORT_FORMAT = "qcow2"
# Staging backends and transfer modes of ADR-0006 this collection serves: a path (a mounted PVC) or a URL,
# relayed through the provider.  An empty value means the same on the wire.
STAGING_BACKENDS = ("pvc",)
# The image options the fetch of an import names in its errors, as ImportDiskRequest's fields.
IMPORT_FIELDS = {"url": "source_url", "path": "source_url", "checksum": "expected_checksum", "storage": "storage_hint"}
TRANSFER_MODES = ("relay",)


@dataclass(frozen=True)
class Location:
    """Where disk bytes go to or come from: exactly one of a local ``path`` and an http(s) ``url``."""

    path: Optional[str] = None
    url: Optional[str] = None

    def __str__(self) -> str:
        return self.url or self.path or ""


@dataclass(frozen=True)
class ExportSpec:
    """One disk of a stopped VM to write to ``destination``; ``disk`` is its name or guest device, "" the root
    disk; ``format`` "" keeps the disk's own."""

    vm_id: str
    destination: Location
    disk: str = ""
    format: str = ""
    compress: bool = False


@dataclass(frozen=True)
class ImportSpec:
    """A disk file to bring into the backend's storage as ``name``; ``format`` is what the source is said to be
    ("" to detect it), ``checksum`` what its bytes must hash to."""

    name: str
    source: Location
    format: str = ""
    checksum: Optional[Checksum] = None
    storage: Optional[str] = None

    def image(self) -> ImageSpec:
        """The same bytes as an image to fetch, verify and convert (image_transfer does the work)."""
        return ImageSpec(self.name, url=self.source.url, path=self.source.path, checksum=self.checksum,
                         format=IMPORT_FORMAT, storage=self.storage, retries=1)


@dataclass(frozen=True)
class DiskDetails:
    """GetDiskInfo's answer; ``backing_chain`` lists the files the disk reads through, nearest first."""

    disk_id: str
    format: str
    virtual_size_bytes: int
    actual_size_bytes: int
    path: str
    bootable: bool = False
    snapshots: tuple[str, ...] = ()
    backing_chain: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self), snapshots=list(self.snapshots), backing_chain=list(self.backing_chain),
                    metadata=dict(self.metadata))


@dataclass(frozen=True)
class ExportedDisk:
    """Where an export put the disk, in which format, and the SHA-256 of the bytes written."""

    export_id: str
    destination: str
    format: str
    size_bytes: int
    checksum: str


@dataclass(frozen=True)
class ImportedDisk:
    """The disk as the backend now holds it, with the SHA-256 of its bytes there."""

    disk_id: str
    path: str
    format: str
    size_bytes: int
    checksum: str


def parse_location(text: Any, option: str) -> Location:
    """An absolute path, a ``file://`` URL or an http(s) URL.

    Raises:
        SpecError: naming ``option``.
    """
    text = str(text or "").strip()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        return Location(url=text)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return Location(path=unquote(parts.path))
    if not parts.scheme and os.path.isabs(text):
        return Location(path=os.path.normpath(text))
    raise SpecError("'%s' is no absolute path, file:// URL or http(s):// URL (s3 and nfs staging are not served)"
                    % text, option=option)


def _parse_format(given: Any, option: str) -> str:
    fmt = str(given or "").lower()
    if fmt and fmt not in IMAGE_FORMATS:
        raise SpecError("'%s' is not one of: %s" % (fmt, ", ".join(IMAGE_FORMATS)), option=option)
    return fmt


def check_staging(fields: Mapping[str, Any]) -> None:
    """Refuse what ADR-0006 lets a caller ask for that this collection does not do, by field name.

    Raises:
        SpecError: naming the field.
    """
    if fields.get("backend_type") and fields["backend_type"] not in STAGING_BACKENDS:
        raise SpecError("staging backend '%s' is not served; give a path (pvc) or an http(s) URL"
                        % fields["backend_type"], option="backend_type")
    if fields.get("transfer_mode") and fields["transfer_mode"] not in TRANSFER_MODES + ("auto",):
        raise SpecError("transfer mode '%s' is not served; the bytes are relayed through the provider"
                        % fields["transfer_mode"], option="transfer_mode")
    if fields.get("credentials"):
        raise SpecError("credentials for the staging location are not used; give a path or a URL that needs none",
                        option="credentials")
    options = fields.get("storage_options_json") or "{}"
    try:
        document = json.loads(options)
    except ValueError:
        raise SpecError("is not JSON", option="storage_options_json") from None
    if document:
        raise SpecError("no storage option is served (only s3 and nfs staging have some)",
                        option="storage_options_json")


def parse_export(fields: Mapping[str, Any]) -> ExportSpec:
    """ExportDiskRequest's fields as an ExportSpec.

    Raises:
        SpecError: naming the field at fault.
    """
    check_staging(fields)
    if not fields.get("vm_id"):
        raise SpecError("name the VM whose disk to export", option="vm_id")
    if fields.get("snapshot_id"):
        raise SpecError("exporting from a snapshot is not served; stop the VM and export its disk as it is",
                        option="snapshot_id")
    fmt = _parse_format(fields.get("format"), "format")
    if fields.get("compress") and fmt and fmt != "qcow2":
        raise SpecError("only a qcow2 export is compressed; ask for format qcow2", option="compress")
    return ExportSpec(vm_id=str(fields["vm_id"]), destination=parse_location(fields.get("destination_url"),
                                                                             "destination_url"),
                      disk=str(fields.get("disk_id") or ""), format=fmt, compress=bool(fields.get("compress")))


def parse_import(fields: Mapping[str, Any]) -> ImportSpec:
    """ImportDiskRequest's fields as an ImportSpec.  An ``expected_checksum`` is always verified;
    ``verify_checksum`` without one is refused.

    Raises:
        SpecError: naming the field at fault.
    """
    check_staging(fields)
    name = parse_image_name(fields.get("target_name"), "target_name")
    checksum = parse_checksum(fields.get("expected_checksum"), "sha256", "expected_checksum")
    if fields.get("verify_checksum") and checksum is None:
        raise SpecError("verify_checksum needs the checksum to verify against", option="expected_checksum")
    return ImportSpec(name=name, source=parse_location(fields.get("source_url"), "source_url"),
                      format=_parse_format(fields.get("format"), "format"), checksum=checksum,
                      storage=str(fields.get("storage_hint") or "") or None)
