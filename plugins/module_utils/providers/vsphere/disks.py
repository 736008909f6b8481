# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A vSphere VM's disks as files, for migrations, through the datastore file API: an HTTP GET or PUT of
``https://<vcenter>/folder/<path>?dcPath=<datacenter>&dsName=<datastore>`` with the session's cookie.

A vSphere disk is a text descriptor (``disk.vmdk``) naming its extents; a flat disk has one extent,
``disk-flat.vmdk``, which holds the disk's bytes as they are (raw).  An export reads the extents and converts
them with qemu-img; an import writes a raw extent and then its descriptor, so a descriptor exists only over
bytes that were read back whole.  The import also makes a template of the same name holding that disk, so a
VM's ``image`` can name it.  A failed import removes what it made (the folder of the disk's files, through the
FileManager, and the template), and its error names what could not be removed.  Disks that read through a parent
(snapshots, linked clones) or keep their bytes in sparse extents are refused by name: their files are no raw image.

Not through an HttpNfcLease (ImportVApp, as ovf.py does for OVAs): what it stores cannot be read back to check,
and vcsim keeps none of the bytes put to a lease (it hashes them and drops them).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from functools import partial
from typing import IO, Any, Callable, Iterable, Optional
from urllib.parse import quote, urlencode

from ...disks import DiskDetails, ExportedDisk, ExportSpec, ImportedDisk, ImportSpec
from ...errors import (
    ConflictError,
    NotFoundError,
    PreconditionError,
    ProviderError,
    SpecError,
    UnavailableError,
    VirtrigaudError,
)
from ...image_transfer import CHUNK, Transfer, file_digest, land_export, remove_file
from ...resilience import Deadline
from . import client
from . import translate as vs
from .client import tls_context

try:
    from pyVmomi import vim, vmodl
except ImportError:  # pragma: no cover - client.connect reports it
    vim = vmodl = None  # type: ignore[assignment]  # unused without pyVmomi

SECTOR = 512
# Where imported disks go on a datastore, one folder per disk.
IMPORT_FOLDER = "virtrigaud-disks"
# Extent types whose file is the disk's bytes as they are.
FLAT_EXTENTS = ("VMFS", "FLAT")
HOLD_FORMAT = "vmdk"
HTTP_SECONDS = 600.0
TASK_SECONDS = 600.0
TEMPLATE_MEMORY_MIB = 512
_PATH = re.compile(r"^\[(?P<datastore>[^\]]+)\]\s*(?P<path>.*)$")
_EXTENT = re.compile(r'^(?P<access>RW|RDONLY|NOACCESS)\s+(?P<sectors>\d+)\s+(?P<kind>\S+)(?:\s+"(?P<file>[^"]*)")?')


@dataclass(frozen=True)
class DatastorePath:
    """A file on a datastore, as vSphere writes it: ``[datastore] folder/file``."""

    datastore: str
    path: str

    def __str__(self) -> str:
        return "[%s] %s" % (self.datastore, self.path)

    @property
    def folder(self) -> DatastorePath:
        return DatastorePath(self.datastore, os.path.dirname(self.path))

    def sibling(self, name: str) -> DatastorePath:
        """Another file in the same folder: descriptors name their extents relative to themselves."""
        return DatastorePath(self.datastore, os.path.join(os.path.dirname(self.path), name))


def parse_datastore_path(text: str) -> DatastorePath:
    """Raises: ProviderError: the text is no ``[datastore] path``."""
    found = _PATH.match(text or "")
    if found is None or not found.group("path"):
        raise ProviderError("'%s' is no datastore path ([datastore] folder/file)" % text)
    return DatastorePath(found.group("datastore"), found.group("path").strip())


@dataclass(frozen=True)
class Extent:
    sectors: int
    kind: str
    file: str

    @property
    def size_bytes(self) -> int:
        return self.sectors * SECTOR


@dataclass(frozen=True)
class Descriptor:
    """What a disk descriptor says of the disk: its type, extents and any parent it reads through."""

    create_type: str
    extents: tuple[Extent, ...]
    parent: str = ""

    @property
    def capacity_bytes(self) -> int:
        return sum(extent.size_bytes for extent in self.extents)

    @property
    def flat(self) -> bool:
        return bool(self.extents) and not self.parent and all(e.kind in FLAT_EXTENTS for e in self.extents)


def parse_descriptor(text: str) -> Descriptor:
    """The descriptor's create type, extents and parent file name hint; other lines are ignored."""
    fields: dict[str, str] = {}
    extents = []
    for line in (raw.strip().strip("\x00") for raw in text.splitlines()):
        extent = _EXTENT.match(line)
        if extent:
            extents.append(Extent(int(extent.group("sectors")), extent.group("kind"), extent.group("file") or ""))
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            fields[key.strip().lower()] = value.strip().strip('"')
    return Descriptor(fields.get("createtype", ""), tuple(extents), fields.get("parentfilenamehint", ""))


def flat_descriptor(extent: str, size_bytes: int, content_id: str) -> str:
    """A descriptor of one flat extent of ``size_bytes`` (rounded up to whole sectors), as ESXi writes them."""
    sectors = -(-size_bytes // SECTOR)
    return "\n".join((
        "# Disk DescriptorFile", "version=1", 'encoding="UTF-8"', "CID=%s" % content_id, "parentCID=ffffffff",
        'createType="vmfs"', "", "# Extent description", 'RW %d VMFS "%s"' % (sectors, extent), "",
        "# The Disk Data Base", "#DDB", 'ddb.adapterType = "lsilogic"', 'ddb.virtualHWVersion = "13"', "",
    ))


def feed_extent(chunks: Iterable[bytes], size: int, write: Callable[[bytes], Any], digest: Any, what: str) -> None:
    """Hand an extent's bytes to ``write`` and ``digest`` as exactly ``size`` bytes.  A flat extent shorter than
    its size reads as zeros past its end, as a sparse file does (vcsim leaves its disks' extents empty); a longer
    one is an error.

    Raises:
        ProviderError: the file holds more than ``size`` bytes.
    """
    done = 0
    for data in chunks:
        done += len(data)
        if done > size:
            raise ProviderError("%s holds more than the %d bytes its descriptor says" % (what, size))
        digest.update(data)
        write(data)
    zeros = bytes(min(CHUNK, size - done))
    while done < size:
        data = zeros[:size - done]
        digest.update(data)
        write(data)
        done += len(data)


class DatastoreFiles:
    """The datastore file API of one datacenter of one vCenter, in the session whose cookie is given."""

    def __init__(self, host: str, port: int, datacenter: str, cookie: str, validate_certs: bool) -> None:
        self.base = "https://%s:%d/folder/" % (host, port)
        self.datacenter = datacenter
        self.cookie = cookie
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls_context(validate_certs)))

    def url(self, where: DatastorePath) -> str:
        return self.base + quote(where.path) + "?" + urlencode({"dcPath": self.datacenter, "dsName": where.datastore})

    def _open(self, where: DatastorePath, method: str, body: Any = None, size: int = 0) -> Any:
        headers = {"Cookie": self.cookie}
        if body is not None:
            headers.update({"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        request = urllib.request.Request(self.url(where), data=body, method=method, headers=headers)
        try:
            return self.opener.open(request, timeout=HTTP_SECONDS)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                raise NotFoundError("%s does not exist" % where) from None
            error = UnavailableError if err.code >= 500 or err.code == 429 else ProviderError
            raise error("%s %s: HTTP %d %s" % (method, where, err.code, err.reason)) from None
        except (urllib.error.URLError, OSError) as err:
            raise UnavailableError("%s %s: %s" % (method, where, getattr(err, "reason", err))) from None

    def read_text(self, where: DatastorePath) -> Optional[str]:
        """The file's text, or None when it does not exist."""
        try:
            with self._open(where, "GET") as response:
                data: bytes = response.read()
        except NotFoundError:
            return None
        return data.decode("utf-8", "replace")

    def read(self, where: DatastorePath, size: int, write: Callable[[bytes], Any], digest: Any) -> None:
        """Feed the file's bytes to ``write`` and ``digest`` as an extent of ``size`` bytes (see ``feed_extent``)."""
        with self._open(where, "GET") as response:
            feed_extent(iter(lambda: response.read(CHUNK), b""), size, write, digest, str(where))

    def write_file(self, where: DatastorePath, handle: IO[bytes], size: int) -> None:
        """PUT ``size`` bytes from ``handle``."""
        self._open(where, "PUT", iter(lambda: handle.read(CHUNK), b""), size).close()

    def write_text(self, where: DatastorePath, text: str) -> None:
        data = text.encode("utf-8")
        self._open(where, "PUT", data, len(data)).close()


def datacenter_of(entity: Any) -> Any:
    """The datacenter an inventory object sits in (vim.Datacenter is named by its type's name)."""
    found = entity
    while found is not None and type(found).__name__ != "vim.Datacenter":
        found = found.parent
    if found is None:
        raise ProviderError("%s sits in no datacenter" % entity)
    return found


# describing


@dataclass(frozen=True)
class VmDisk:
    """One disk of a VM: its name in the spec, device and descriptor's datastore path."""

    name: str
    device: Any
    path: DatastorePath

    @property
    def chain(self) -> tuple[str, ...]:
        """The files the disk reads through, nearest first (its snapshots' and linked clones' parents)."""
        found = []
        parent = getattr(self.device.backing, "parent", None)
        while parent is not None and getattr(parent, "fileName", None):
            found.append(parent.fileName)
            parent = getattr(parent, "parent", None)
        return tuple(found)


def vm_disk(vm_name: str, props: dict[str, Any], disk: str, doing: str = "") -> VmDisk:
    """The disk named ``disk`` (spec name or device key) among the VM's properties; "" is the root disk.  With
    ``doing``, the VM must be stopped: a running VM's disk changes under the reader.

    Raises:
        NotFoundError: the VM has no such disk, or it has no file.
        PreconditionError: ``doing`` something to a VM that is not stopped.
    """
    state = props.get("runtime.powerState")
    if doing and state != "poweredOff":
        raise PreconditionError("VM '%s' is %s; stop it before %s its disk" % (vm_name, state, doing), vm=vm_name)
    devices = list(props.get("config.hardware.device") or ())
    names = vs.disk_names(devices, vs.extra_config(props))
    wanted = disk or "root"
    found = next((d for d in devices if d.key in names and wanted in (names[d.key], str(d.key))), None)
    file_name = getattr(getattr(found, "backing", None), "fileName", "") if found is not None else ""
    if found is None or not file_name:
        raise NotFoundError("VM '%s' has no disk '%s' backed by a file" % (vm_name, wanted))
    return VmDisk(names[found.key], found, parse_datastore_path(file_name))


def allocated_bytes(layout: Any, key: int) -> int:
    """What the disk's own files take on the datastore (its top layer in layoutEx), 0 when vCenter does not say."""
    if layout is None:
        return 0
    sizes = {f.key: f.size or 0 for f in layout.file or ()}
    entry = next((d for d in layout.disk or () if d.key == key), None)
    top = entry.chain[-1] if entry is not None and entry.chain else None
    return sum(sizes.get(file_key, 0) for file_key in (top.fileKey if top is not None else ()))


def disk_info(files: DatastoreFiles, found: VmDisk, layout: Any, snapshots: tuple[str, ...]) -> DiskDetails:
    descriptor = parse_descriptor(files.read_text(found.path) or "")
    capacity = int(getattr(found.device, "capacityInBytes", 0) or 0) or descriptor.capacity_bytes
    return DiskDetails(
        disk_id=found.name, format=HOLD_FORMAT, virtual_size_bytes=capacity,
        actual_size_bytes=allocated_bytes(layout, found.device.key), path=str(found.path),
        bootable=found.name == "root", snapshots=snapshots, backing_chain=found.chain,
        metadata={"device_key": str(found.device.key), "datastore": found.path.datastore,
                  "create_type": descriptor.create_type,
                  "extents": ",".join(str(found.path.sibling(e.file)) for e in descriptor.extents)},
    )


# exporting


def export_disk(files: DatastoreFiles, vm_id: str, found: VmDisk, spec: ExportSpec,
                transfer: Transfer) -> ExportedDisk:
    """The disk's extents read into one raw file, converted to the format asked for (vmdk when none is)."""
    text = files.read_text(found.path)
    if text is None:
        raise NotFoundError("the descriptor of disk '%s' (%s) is missing" % (found.name, found.path))
    descriptor = parse_descriptor(text)
    if not descriptor.flat:
        raise PreconditionError(
            "disk '%s' (%s) is no flat disk (type %s%s): its files are no raw image; remove the VM's snapshots, or "
            "export a full clone of it" % (found.name, found.path, descriptor.create_type or "unknown",
                                           ", parent %s" % descriptor.parent if descriptor.parent else ""))
    fmt = spec.format or HOLD_FORMAT
    if spec.compress and fmt != "qcow2":
        raise SpecError("only a qcow2 export is compressed; ask for format qcow2", option="compress")
    checksum, size = land_export(transfer, spec.destination, "%s/%s" % (vm_id, found.name), fmt, "",
                                 lambda partial: _write(files, found.path, descriptor, partial, fmt, spec, transfer))
    return ExportedDisk(export_id="%s/%s" % (vm_id, found.name), destination=str(spec.destination), format=fmt,
                        size_bytes=size, checksum=checksum)


def _write(files: DatastoreFiles, where: DatastorePath, descriptor: Descriptor, target: str, fmt: str,
           spec: ExportSpec, transfer: Transfer) -> str:
    """The disk at ``target`` in format ``fmt``; return the SHA-256 of that file."""
    if fmt == "raw":
        return _pull(files, where, descriptor, target, hashlib.sha256())
    raw = target + ".raw"
    try:
        # Converted once, by qemu-img; the raw file's own hash would be read by no one.
        _pull(files, where, descriptor, raw, _NoDigest())
        transfer.convert(raw, "raw", target, fmt, spec.compress)
    finally:
        remove_file(raw)
    return file_digest(target, "sha256")


def _pull(files: DatastoreFiles, where: DatastorePath, descriptor: Descriptor, target: str, digest: Any) -> str:
    """The extents, one after the other, as a raw file at ``target``, sparse where the disk holds zeros; return
    its hash by ``digest``."""
    with open(target, "wb") as handle:
        for extent in descriptor.extents:
            files.read(where.sibling(extent.file), extent.size_bytes, partial(_write_sparse, handle), digest)
        handle.truncate()
    held: str = digest.hexdigest()
    return held


_ZEROS = bytes(CHUNK)


def _write_sparse(handle: IO[bytes], data: bytes) -> None:
    """Write ``data``, or seek past it when it is all zeros (reads of the hole give them back)."""
    if len(data) <= CHUNK and data == _ZEROS[:len(data)]:
        handle.seek(len(data), os.SEEK_CUR)
    else:
        handle.write(data)


# importing


def import_location(datastore: str, name: str) -> DatastorePath:
    """Where an imported disk's descriptor goes: ``[datastore] virtrigaud-disks/<name>/<name>.vmdk``."""
    return DatastorePath(datastore, "%s/%s/%s.vmdk" % (IMPORT_FOLDER, name, name))


def import_folder(descriptor: DatastorePath) -> DatastorePath:
    """The folder of an imported disk, which holds that disk's files only.

    Raises:
        ProviderError: the descriptor lies in no folder an import makes.
    """
    folder = descriptor.folder
    if folder.folder.path != IMPORT_FOLDER:
        raise ProviderError("%s is no disk this collection imported (those lie in %s/<name>/)"
                            % (descriptor, IMPORT_FOLDER))
    return folder


@dataclass
class Written:
    """What an import made on the backend so far, so that a failure can remove it: the folder of the disk's files
    (set before the first byte is put), and the template around the disk."""

    name: str
    folder: Optional[DatastorePath] = None
    template: Any = None


def import_disk(files: DatastoreFiles, placed: tuple[Any, Any, Optional[Any], Optional[Any]], named: Any,
                spec: ImportSpec, transfer: Transfer, written: Written) -> ImportedDisk:
    """The file as a flat vmdk on the datastore of ``placed`` (folder, resource pool, host, datastore), and a
    template of the same name holding it, which a VM's ``image`` can name.  ``named`` is what already has that
    name: a template is kept as it is; a VM that is no template is a conflict.  What is made enters ``written``,
    for ``undo_import`` when this fails.

    Raises:
        ConflictError: a VM that is no template, or a disk with other bytes, has the name already.
    """
    folder, pool, host, datastore = placed
    if datastore is None:
        raise SpecError("there is no datastore to import the disk to; name one", option="storage_hint")
    if named is not None and not named.config.template:
        raise ConflictError("a VM that is no template is named '%s'; import under another target_name" % spec.name)
    disk = store_disk(files, datastore.name, spec, transfer, written)
    if named is None:
        config = template_config(spec.name, parse_datastore_path(disk.path), disk.size_bytes)
        written.template = client.wait_for(folder.CreateVM_Task(config=config, pool=pool, host=host),
                                           Deadline(TASK_SECONDS), "import disk")
        written.template.MarkAsTemplate()
    return disk


def undo_import(failure: VirtrigaudError, content: Any, datacenter: Any, written: Written) -> None:
    """Remove what a failed import made (``remove_written``); ``failure`` then names what could not be removed."""
    left = remove_written(content, datacenter, written)
    if left:
        failure.msg = "%s; left behind: %s" % (failure.msg, "; ".join(left))
        failure.args = (failure.msg,)
        failure.details["left_behind"] = left


def remove_written(content: Any, datacenter: Any, written: Written) -> list[str]:
    """Remove the template, then the folder of the disk's files; what could not be removed, in words.  Missing
    ones are a success (vCenter removes a template's disk with it; vcsim does not)."""
    left: list[str] = []
    steps: list[tuple[str, Callable[[], Any]]] = []
    if written.template is not None:
        template = written.template
        steps.append(("the template '%s'" % written.name,
                      lambda: client.wait_for(template.Destroy_Task(), Deadline(TASK_SECONDS), "remove template")))
    if written.folder is not None:
        where = written.folder
        steps.append(("the disk's files in %s" % where, lambda: remove_folder(content, datacenter, where)))
    for what, step in steps:
        try:
            step()
        except NotFoundError:
            pass
        except (VirtrigaudError, vmodl.MethodFault) as err:
            left.append("%s (%s)" % (what, err.msg if isinstance(err, VirtrigaudError) else vs.translate(err).msg))
    return left


def remove_folder(content: Any, datacenter: Any, folder: DatastorePath) -> None:
    """Remove the folder and all it holds, through the FileManager: a DELETE through /folder removes nothing on
    vcsim.

    Raises:
        NotFoundError: there is no such folder.
    """
    client.wait_for(content.fileManager.DeleteDatastoreFile_Task(name=str(folder), datacenter=datacenter),
                    Deadline(TASK_SECONDS), "remove %s" % folder, content)


def holds_import(template: Any, folder: DatastorePath) -> bool:
    """Whether the template's disks all lie in the import's folder: a template of that name made otherwise is not
    the import's to remove."""
    files = [getattr(d.backing, "fileName", "") for d in template.config.hardware.device
             if isinstance(d, vim.vm.device.VirtualDisk)]
    return bool(files) and all(f and parse_datastore_path(f).folder == folder for f in files)


def template_config(name: str, disk: DatastorePath, size_bytes: int) -> Any:
    """A VM of one LSI Logic controller holding the disk as it is (no file operation), with the least hardware:
    a VM made from the template gets its own."""
    controller = vim.vm.device.VirtualLsiLogicController(key=-100, busNumber=0, sharedBus="noSharing")
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName=str(disk), diskMode="persistent")
    device = vim.vm.device.VirtualDisk(key=-1, controllerKey=-100, unitNumber=0, capacityInKB=size_bytes // 1024,
                                       backing=backing)
    return vim.vm.ConfigSpec(
        name=name, guestId="otherLinux64Guest", numCPUs=1, memoryMB=TEMPLATE_MEMORY_MIB,
        files=vim.vm.FileInfo(vmPathName="[%s]" % disk.datastore),
        deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="add", device=controller),
                      vim.vm.device.VirtualDeviceSpec(operation="add", device=device)])


def store_disk(files: DatastoreFiles, datastore: str, spec: ImportSpec, transfer: Transfer,
               written: Written) -> ImportedDisk:
    """The file as a flat vmdk on ``datastore``: fetched and verified here, converted to raw, written as the
    extent, read back whole, and only then given its descriptor.  A disk of that name is returned as it is,
    unless the caller's checksum says it holds other bytes.

    The checksum reported is the SHA-256 of the extent as the datastore serves it back, which is the disk's raw
    bytes: the same as a raw source's, and what a raw export of a VM made from it would give.
    """
    where = import_location(datastore, spec.name)
    extent = where.sibling("%s-flat.vmdk" % spec.name)
    existing = files.read_text(where)
    if existing is not None:
        return _existing(files, where, parse_descriptor(existing), spec)
    local = transfer.fetch(replace(spec.image(), format="raw"))
    try:
        given = local.converted_from or local.format
        if spec.format and spec.format != given:
            raise SpecError("the source is %s, not %s" % (given, spec.format), option="format")
        if local.size_bytes % SECTOR:
            raise SpecError("the raw disk is %d bytes, no whole number of %d-byte sectors" % (local.size_bytes, SECTOR),
                            option="source_url")
        size = local.size_bytes
        written.folder = import_folder(where)
        with open(local.path, "rb") as handle:
            files.write_file(extent, handle, size)
        # Bytes equal to a file whose SHA-256 was just verified have that SHA-256: no second hash of them.
        verified = spec.checksum is not None and spec.checksum.algorithm == "sha256" and not local.converted_from
        with open(local.path, "rb") as handle:
            held = _read_back(files, extent, size, handle, spec.checksum.digest if verified and spec.checksum else "")
    finally:
        transfer.discard(local)
    files.write_text(where, flat_descriptor(os.path.basename(extent.path), size, held[:8]))
    return ImportedDisk(disk_id=spec.name, path=str(where), format=HOLD_FORMAT, size_bytes=size, checksum=held)


def _read_back(files: DatastoreFiles, where: DatastorePath, size: int, sent: IO[bytes], known: str) -> str:
    """The SHA-256 of the extent as the datastore serves it, compared byte for byte with what was sent (a compare
    costs a fraction of a second hash); ``known`` is the SHA-256 of what was sent when it is verified already.

    Raises:
        ProviderError: the datastore holds other bytes; no descriptor is made over them.
    """
    offset = [0]

    def compare(data: bytes) -> None:
        if sent.read(len(data)) != data:
            raise ProviderError("%s reads back with other bytes than were written, from about byte %d; no descriptor "
                                "was made" % (where, offset[0]))
        offset[0] += len(data)

    digest: Any = _NoDigest() if known else hashlib.sha256()
    files.read(where, size, compare, digest)
    return known or digest.hexdigest()


class _NoDigest:
    def update(self, data: bytes) -> None:
        pass

    def hexdigest(self) -> str:
        return ""


def _digest(files: DatastoreFiles, where: DatastorePath, size: int) -> str:
    digest = hashlib.sha256()
    files.read(where, size, lambda data: None, digest)
    return digest.hexdigest()


def _existing(files: DatastoreFiles, where: DatastorePath, descriptor: Descriptor, spec: ImportSpec) -> ImportedDisk:
    if not descriptor.flat or len(descriptor.extents) != 1:
        raise ConflictError("%s exists already and is no disk this collection imported; import under another "
                            "target_name" % where)
    extent = descriptor.extents[0]
    held = _digest(files, where.sibling(extent.file), extent.size_bytes)
    comparable = spec.checksum is not None and spec.checksum.algorithm == "sha256" and spec.format in ("", "raw")
    if comparable and spec.checksum and held != spec.checksum.digest:
        raise ConflictError("disk '%s' exists already with other bytes (sha256 %s); import under another "
                            "target_name" % (spec.name, held))
    return ImportedDisk(disk_id=spec.name, path=str(where), format=HOLD_FORMAT, size_bytes=extent.size_bytes,
                        checksum=held)
