# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which disk of a libvirt VM an ExportDisk or GetDiskInfo means, and the bytes of a disk libvirtd holds elsewhere."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import NotFoundError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt import translate as dx
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt.disks import disk_ref, volume_digest

ROOT = dx.DiskRef("root", "vda", "/pool/vm-root.qcow2")
DATA = dx.DiskRef("data", "vdb", "/pool/vm-data.qcow2")


def facts(disks: tuple[dx.DiskRef, ...], paths: dict[str, str]) -> dx.DomainFacts:
    return dx.DomainFacts(name="vm", uuid="u-1", cpu=1, max_cpu=4, memory_mib=512, max_memory_mib=2048,
                          firmware="BIOS", disk_paths=paths, secure_boot=False, nics=(),
                          metadata=dx.Metadata(disks=disks))


@pytest.mark.parametrize("asked, found", [("", ROOT), ("root", ROOT), ("vdb", DATA), ("data", DATA)])
def test_a_disk_is_named_by_spec_name_or_device_and_the_root_by_default(asked, found):
    assert disk_ref(facts((DATA, ROOT), {}), asked) == found


def test_a_domain_this_collection_did_not_make_offers_its_devices():
    assert disk_ref(facts((), {"vda": "/images/a.raw"}), "") == dx.DiskRef("vda", "vda", "/images/a.raw")


def test_a_missing_disk_is_not_found():
    with pytest.raises(NotFoundError):
        disk_ref(facts((ROOT,), {}), "logs")


class FakeStream:
    """A libvirt stream handing out the chunks it was given, as recvAll does."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.finished = False

    def recvAll(self, handler, opaque):  # noqa: N802 - libvirt's name
        for chunk in self.chunks:
            handler(self, chunk, opaque)

    def finish(self) -> None:
        self.finished = True


def test_a_volume_out_of_reach_is_hashed_through_a_libvirt_stream(tmp_path):
    stream = FakeStream([b"QFI\xfb", b"\0" * 1000, b"tail"])
    volume = SimpleNamespace(path=lambda: str(tmp_path / "on-another-host.qcow2"),
                             download=lambda *args: None)
    storage = SimpleNamespace(client=SimpleNamespace(conn=SimpleNamespace(newStream=lambda flags: stream)))
    assert volume_digest(storage, volume) == hashlib.sha256(b"QFI\xfb" + b"\0" * 1000 + b"tail").hexdigest()
    assert stream.finished
