# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring an image's bytes to where the caller runs: download (resumed with a byte range after an interruption),
verify the checksum, detect the format and convert it with ``qemu-img`` when asked.

Downloads go to ``work_dir`` as ``<key>.part``, the key derived from the URL, so the next attempt, or the next
run, resumes where the last one stopped.  A file that fails its checksum is removed, whatever it cost.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, Optional, Tuple

from .disks import Location
from .errors import PreconditionError, ProviderError, SpecError, UnavailableError
from .images import Checksum, ImageSpec

CHUNK = 1024 * 1024
MIB = 1024 * 1024
# Magic bytes at offset 0 of the formats this collection converts between; anything else is raw.
_MAGIC = ((b"QFI\xfb", "qcow2"), (b"KDMV", "vmdk"))


@dataclass(frozen=True)
class LocalImage:
    """The image's bytes as a file here, verified; ``temporary`` files are the transfer's to remove."""

    path: str
    format: str
    size_bytes: int
    resumed_from: int = 0
    temporary: bool = True
    converted_from: str = ""

    def report(self) -> dict[str, object]:
        return {"size_bytes": self.size_bytes, "format": self.format, "resumed_from": self.resumed_from,
                "converted_from": self.converted_from or None}


def default_work_dir() -> str:
    return os.path.join(tempfile.gettempdir(), "virtrigaud-images")


def detect_format(path: str) -> str:
    with open(path, "rb") as handle:
        head = handle.read(4)
    return next((fmt for magic, fmt in _MAGIC if head == magic), "raw")


def file_digest(path: str, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for data in iter(lambda: handle.read(CHUNK), b""):
            digest.update(data)
    return digest.hexdigest()


class Progress:
    """One line at most every ``interval`` seconds while bytes flow, and a last one if there were any."""

    def __init__(self, say: Callable[[str], None], what: str, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say
        self.what = what
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last = self.started
        self.lines = 0

    def update(self, done: int, total: Optional[int], final: bool = False) -> None:
        now = self.clock()
        if now - self.last < self.interval and not (final and self.lines):
            return
        self.last = now
        self.lines += 1
        rate = done / MIB / max(now - self.started, 1e-6)
        share = " of %.1f MiB (%d%%)" % (total / MIB, 100 * done // total) if total else ""
        self.say("%s: %.1f MiB%s, %.1f MiB/s" % (self.what, done / MIB, share, rate))


# A program's argv in, (rc, stdout, stderr) out: AnsibleModule.run_command's shape.
RunCommand = Callable[[list[str]], Tuple[int, str, str]]


class Transfer:
    """Fetch, verify and convert one ImageSpec's bytes; ``say`` hears the progress lines."""

    def __init__(self, say: Callable[[str], None], work_dir: Optional[str] = None, timeout: float = 60.0,
                 interval: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 run_command: Optional[RunCommand] = None) -> None:
        self.say = say
        # Whoever hosts the run starts programs: AnsibleModule.run_command in a module, the host's own elsewhere.
        self.run_command = run_command
        self.work_dir = work_dir or default_work_dir()
        self.timeout = timeout
        self.interval = interval
        self.clock = clock
        # What the last fetch brought, for results to report.
        self.fetched: Optional[LocalImage] = None

    def fetch(self, spec: ImageSpec) -> LocalImage:
        """The image as a local file in the format asked for.

        Raises:
            UnavailableError: the download stopped; the partial file stays for the next attempt to resume.
            PreconditionError: the checksum does not match; nothing is left behind.
        """
        if spec.url:
            local = self._download(spec.url, spec.retries)
        elif spec.path:
            if not os.path.isfile(spec.path):
                raise SpecError("'%s' is no file" % spec.path, option="path")
            local = LocalImage(spec.path, "", os.path.getsize(spec.path), temporary=False)
        else:
            raise SpecError("there are no bytes to fetch for a template", option="template")
        if spec.checksum:
            self._verify(local, spec.checksum, spec.url or spec.path or "")
        local = LocalImage(local.path, detect_format(local.path), local.size_bytes, local.resumed_from,
                           local.temporary)
        if spec.format and spec.format != local.format:
            local = self._convert(local, spec.format)
        self.fetched = local
        return local

    def discard(self, local: LocalImage) -> None:
        if local.temporary:
            remove_file(local.path)

    # downloading

    def _part_path(self, url: str) -> str:
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        return os.path.join(self.work_dir, hashlib.sha256(url.encode("utf-8")).hexdigest()[:24] + ".part")

    def _download(self, url: str, retries: int) -> LocalImage:
        part = self._part_path(url)
        for attempt in range(retries + 1):
            try:
                start = self._download_once(url, part)
                return LocalImage(part, "", os.path.getsize(part), resumed_from=start)
            except UnavailableError:
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _download_once(self, url: str, part: str) -> int:
        """Fetch what the part lacks; return the offset the server resumed from (0: the whole file)."""
        have = os.path.getsize(part) if os.path.exists(part) else 0
        request = urllib.request.Request(url, headers={"Range": "bytes=%d-" % have} if have else {})
        try:
            # An opener of its own, not ansible's open_url: the provider runtime runs this code without ansible-core.
            response = urllib.request.build_opener().open(request, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            if err.code == 416 and have:
                # The partial file is no prefix of what the server has now: start over.
                remove_file(part)
                return self._download_once(url, part)
            retry = err.code >= 500 or err.code == 429
            error = UnavailableError if retry else PreconditionError
            raise error("downloading %s: HTTP %d %s" % (url, err.code, err.reason), option="url") from None
        except (urllib.error.URLError, OSError) as err:
            raise UnavailableError("downloading %s: %s" % (url, getattr(err, "reason", err)), option="url") from None
        with response:
            start = have if response.status == 206 else 0
            self._copy(response, part, start, _total_size(response, start), url)
        return start

    def _copy(self, response: http.client.HTTPResponse, part: str, start: int, total: Optional[int],
              url: str) -> None:
        progress = Progress(self.say, "downloading %s" % url, self.interval, self.clock)
        done = start
        with open(part, "ab" if start else "wb") as handle:
            try:
                for data in iter(lambda: response.read(CHUNK), b""):
                    handle.write(data)
                    done += len(data)
                    progress.update(done, total)
            except (OSError, http.client.HTTPException) as err:
                raise UnavailableError("downloading %s stopped at %d bytes (%s); the next attempt resumes there"
                                       % (url, done, type(err).__name__), option="url") from None
        if total is not None and done < total:
            raise UnavailableError("downloading %s stopped at %d of %d bytes; the next attempt resumes there"
                                   % (url, done, total), option="url")
        progress.update(done, total, final=True)

    # verifying and converting

    def _verify(self, local: LocalImage, checksum: Checksum, source: str) -> None:
        actual = file_digest(local.path, checksum.algorithm)
        if actual != checksum.digest:
            self.discard(local)
            raise PreconditionError("%s has %s %s, not %s; nothing was kept" % (
                source, checksum.algorithm, actual, checksum.digest), option="checksum")

    def _convert(self, local: LocalImage, fmt: str) -> LocalImage:
        target = os.path.join(self.work_dir, os.path.basename(local.path) + ".converting." + fmt)
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        self.convert(local.path, local.format, target, fmt)
        self.discard(local)
        return LocalImage(target, fmt, os.path.getsize(target), local.resumed_from, converted_from=local.format)

    def convert(self, source: str, source_format: str, target: str, fmt: str, compress: bool = False) -> None:
        """Write ``source`` to ``target`` in format ``fmt`` with qemu-img, following any backing chain; a failure
        leaves no ``target``.

        Raises:
            PreconditionError: qemu-img cannot run here.
            ProviderError: qemu-img failed.
        """
        qemu_img = shutil.which("qemu-img")
        if qemu_img is None:
            raise PreconditionError("converting to %s needs qemu-img here (Debian: qemu-utils)" % fmt, option="format")
        if self.run_command is None:
            raise PreconditionError("converting to %s needs a host that can run qemu-img" % fmt, option="format")
        argv = [qemu_img, "convert", "-q", "-f", source_format, "-O", fmt] + (["-c"] if compress else [])
        rc, dummy, stderr = self.run_command(argv + [source, target])
        if rc != 0:
            remove_file(target)
            raise ProviderError("qemu-img could not convert the %s image to %s: %s"
                                % (source_format, fmt, stderr.strip()), option="format")

    # delivering (disk exports)

    def deliver(self, path: str, url: str) -> None:
        """PUT the file at ``path`` to ``url``, streamed.

        Raises:
            UnavailableError: the server is unreachable or failed (5xx); PreconditionError: it refused.
        """
        size = os.path.getsize(path)
        progress = Progress(self.say, "uploading to %s" % url, self.interval, self.clock)
        with open(path, "rb") as handle:
            request = urllib.request.Request(url, data=_Chunks(handle, size, progress), method="PUT", headers={
                "Content-Length": str(size), "Content-Type": "application/octet-stream"})
            try:
                urllib.request.build_opener().open(request, timeout=self.timeout).close()
            except urllib.error.HTTPError as err:
                error = UnavailableError if err.code >= 500 or err.code == 429 else PreconditionError
                raise error("uploading to %s: HTTP %d %s" % (url, err.code, err.reason),
                            option="destination_url") from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
                raise UnavailableError("uploading to %s: %s" % (url, getattr(err, "reason", err)),
                                       option="destination_url") from None
        progress.update(size, size, final=True)


class _Chunks:
    """A file as an iterable of chunks for urllib, reporting progress as they go."""

    def __init__(self, handle: BinaryIO, size: int, progress: Progress) -> None:
        self.handle = handle
        self.size = size
        self.progress = progress

    def __iter__(self) -> Iterator[bytes]:
        done = 0
        for data in iter(lambda: self.handle.read(CHUNK), b""):
            done += len(data)
            self.progress.update(done, self.size)
            yield data


def copy_with_digest(source: str, target: str, algorithm: str = "sha256") -> str:
    """Copy ``source`` to ``target`` and hash the bytes on the way, in one pass; return the hex digest."""
    digest = hashlib.new(algorithm)
    with open(source, "rb") as reader, open(target, "wb") as writer:
        for data in iter(lambda: reader.read(CHUNK), b""):
            digest.update(data)
            writer.write(data)
    return digest.hexdigest()


def _check_export_target(target: str, source: str = "") -> None:
    """A disk export may write ``target``: a new file in a folder that exists, not the disk itself.

    Raises:
        SpecError: naming ``destination_url``.
    """
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise SpecError("folder '%s' does not exist where the provider runs" % folder, option="destination_url")
    if os.path.isdir(target) or (source and os.path.realpath(target) == os.path.realpath(source)):
        raise SpecError("'%s' is a folder or the disk itself; name a new file" % target, option="destination_url")


def _export_staging_path(transfer: Transfer, key: str, fmt: str) -> str:
    """Where a disk export bound for a URL is written first: the transfer's work folder, named after ``key``."""
    os.makedirs(transfer.work_dir, mode=0o700, exist_ok=True)
    name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return os.path.join(transfer.work_dir, "%s.export.%s" % (name, fmt))


def land_export(transfer: Transfer, destination: Location, key: str, fmt: str, source: str,
                write: Callable[[str], str]) -> tuple[str, int]:
    """A disk export made by ``write`` (given the file to write, it returns the SHA-256 of what it wrote), put where
    ``destination`` says: a new file there, or a PUT to the URL from the work folder.  Nothing partial is left.
    Returns the checksum and the size in bytes.

    Raises:
        SpecError: the destination is no new file in a folder that exists (``source`` is the disk itself).
        PreconditionError: the export cannot be written.
    """
    target = destination.path or _export_staging_path(transfer, key, fmt)
    partial = target + ".part"
    if destination.path:
        _check_export_target(target, source)
    try:
        checksum = write(partial)
        os.replace(partial, target)
        size = os.path.getsize(target)
        if destination.url:
            transfer.deliver(target, destination.url)
    except OSError as err:
        raise PreconditionError("cannot write the export at %s: %s" % (target, err.strerror or err),
                                option="destination_url") from None
    finally:
        remove_file(partial)
        if destination.url:
            remove_file(target)
    return checksum, size


def remote_size(url: str, timeout: float = 30.0) -> Optional[int]:
    """The size a server announces for ``url`` (HEAD), or None when it does not say or cannot be asked."""
    try:
        with urllib.request.build_opener().open(urllib.request.Request(url, method="HEAD"), timeout=timeout) as answer:
            length = answer.headers.get("Content-Length")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return int(length) if length and length.isdigit() else None


def _total_size(response: http.client.HTTPResponse, start: int) -> Optional[int]:
    length = response.headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else None


def remove_file(path: str) -> None:
    """Remove a file; a missing one is no error."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
