# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import tarfile

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError, UnsupportedError
from ansible_collections.virtrigaud.core.plugins.module_utils.images import ImageSpec
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere.ovf import check_importable, read_ova


def _ova(path, members):
    with tarfile.open(path, "w") as ova:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            ova.addfile(info, io.BytesIO(data))


def test_an_ova_gives_its_descriptor_and_members(tmp_path):
    _ova(tmp_path / "a.ova", [("a.ovf", b"<Envelope/>"), ("a-disk1.vmdk", b"KDMV")])
    descriptor, members = read_ova(str(tmp_path / "a.ova"))
    assert descriptor == "<Envelope/>" and sorted(members) == ["a-disk1.vmdk", "a.ovf"]


@pytest.mark.parametrize("members", [[("a-disk1.vmdk", b"KDMV")]])
def test_an_ova_without_a_descriptor_is_refused(tmp_path, members):
    _ova(tmp_path / "a.ova", members)
    with pytest.raises(SpecError):
        read_ova(str(tmp_path / "a.ova"))


def test_not_a_tar_is_refused(tmp_path):
    (tmp_path / "a.ova").write_bytes(b"QFI\xfb" + b"\0" * 1024)
    with pytest.raises(SpecError):
        read_ova(str(tmp_path / "a.ova"))


@pytest.mark.parametrize("spec, error, option", [
    (ImageSpec("t", url="http://h/a.ova", format="qcow2"), UnsupportedError, "format"),
    (ImageSpec("t", url="http://h/a.qcow2"), SpecError, "url"),
    (ImageSpec("t", path="/srv/a.ovf"), SpecError, "path"),
])
def test_what_an_ova_import_cannot_do_is_refused_by_name(spec, error, option):
    with pytest.raises(error) as err:
        check_importable(spec)
    assert err.value.option == option
