# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local half of a transfer: verify, detect, convert, report progress (downloads run in integration)."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.disks import Location
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import PreconditionError, ProviderError, SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.image_transfer import (
    Progress,
    Transfer,
    copy_with_digest,
    detect_format,
    land_export,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.images import Checksum, ImageSpec
from ansible_collections.virtrigaud.core.plugins.plugin_utils.programs import run_program

RAW = b"\1" * 4096


def test_formats_are_read_from_the_header(tmp_path):
    for head, fmt in ((b"QFI\xfb", "qcow2"), (b"KDMV", "vmdk"), (b"\0\0\0\0", "raw")):
        path = tmp_path / fmt
        path.write_bytes(head + b"\0" * 60)
        assert detect_format(str(path)) == fmt


def test_a_bad_checksum_keeps_the_source_file_but_fails(tmp_path):
    source = tmp_path / "disk.img"
    source.write_bytes(RAW)
    spec = ImageSpec("x", path=str(source), checksum=Checksum("sha1", "0" * 40))
    with pytest.raises(PreconditionError) as err:
        Transfer(lambda line: None, str(tmp_path / "work")).fetch(spec)
    assert err.value.option == "checksum" and source.exists()


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")
def test_conversion_makes_a_temporary_file_in_the_asked_format(tmp_path):
    source = tmp_path / "disk.img"
    source.write_bytes(RAW)
    transfer = Transfer(lambda line: None, str(tmp_path / "work"), run_command=run_program)
    spec = ImageSpec("x", path=str(source), checksum=Checksum("sha256", hashlib.sha256(RAW).hexdigest()),
                     format="qcow2")
    local = transfer.fetch(spec)
    assert (local.format, local.converted_from, local.temporary) == ("qcow2", "raw", True)
    assert detect_format(local.path) == "qcow2"
    transfer.discard(local)
    assert not list((tmp_path / "work").iterdir()) and source.exists()


def test_progress_speaks_at_most_once_an_interval_and_at_the_end():
    now = [0.0]
    lines: list[str] = []
    progress = Progress(lines.append, "downloading u", interval=10, clock=lambda: now[0])
    for second in range(1, 26):
        now[0] = float(second)
        progress.update(second * 1024 * 1024, 25 * 1024 * 1024)
    progress.update(25 * 1024 * 1024, 25 * 1024 * 1024, final=True)
    assert len(lines) == 3 and lines[-1].startswith("downloading u: 25.0 MiB of 25.0 MiB (100%)")


def test_a_short_transfer_says_nothing():
    lines: list[str] = []
    progress = Progress(lines.append, "downloading u", interval=10, clock=lambda: 0.0)
    progress.update(10, 10, final=True)
    assert not lines


def test_a_copy_hashes_what_it_writes(tmp_path):
    source, target = tmp_path / "a", tmp_path / "b"
    source.write_bytes(RAW * 300)
    assert copy_with_digest(str(source), str(target)) == hashlib.sha256(RAW * 300).hexdigest()
    assert target.read_bytes() == RAW * 300


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")
def test_a_compressed_conversion_is_qcow2_and_a_failed_one_leaves_nothing(tmp_path):
    source = tmp_path / "disk.img"
    source.write_bytes(RAW)
    transfer = Transfer(lambda line: None, str(tmp_path / "work"), run_command=run_program)
    transfer.convert(str(source), "raw", str(tmp_path / "out.qcow2"), "qcow2", compress=True)
    assert detect_format(str(tmp_path / "out.qcow2")) == "qcow2"
    with pytest.raises(ProviderError):
        transfer.convert(str(source), "qcow2", str(tmp_path / "bad.raw"), "raw")
    assert not (tmp_path / "bad.raw").exists()


def _write(data):
    def write(partial):
        with open(partial, "wb") as handle:
            handle.write(data)
        return hashlib.sha256(data).hexdigest()
    return write


def test_an_export_lands_whole_at_its_path(tmp_path):
    target = tmp_path / "disk.raw"
    checksum, size = land_export(Transfer(print, work_dir=str(tmp_path / "w")), Location(path=str(target)), "vm/root",
                                 "raw", "", _write(b"disk"))
    assert (checksum, size, target.read_bytes()) == (hashlib.sha256(b"disk").hexdigest(), 4, b"disk")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk.raw"]


class _Delivering(Transfer):
    def deliver(self, path, url):
        self.delivered = (url, open(path, "rb").read())


def test_an_export_to_a_url_goes_from_the_work_folder_and_leaves_nothing(tmp_path):
    transfer = _Delivering(print, work_dir=str(tmp_path / "w"))
    land_export(transfer, Location(url="http://staging.example/disk.raw"), "vm/root", "raw", "", _write(b"disk"))
    assert transfer.delivered == ("http://staging.example/disk.raw", b"disk")
    assert list((tmp_path / "w").iterdir()) == []


def test_a_failed_export_leaves_no_partial_file(tmp_path):
    def fail(partial):
        open(partial, "wb").close()
        raise ProviderError("qemu-img failed")

    with pytest.raises(ProviderError):
        land_export(Transfer(print), Location(path=str(tmp_path / "disk.raw")), "vm/root", "raw", "", fail)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["missing/disk.raw", ".", "source.raw"])
def test_an_export_names_a_new_file_in_a_folder_that_exists(tmp_path, name):
    (tmp_path / "source.raw").write_bytes(b"x")
    with pytest.raises(SpecError) as failure:
        land_export(Transfer(print), Location(path=str(tmp_path / name)), "vm/root", "raw",
                    str(tmp_path / "source.raw"), _write(b"disk"))
    assert failure.value.option == "destination_url"
