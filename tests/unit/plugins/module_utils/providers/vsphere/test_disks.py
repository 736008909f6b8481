# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A vSphere disk's files: datastore paths, descriptors, extents read whole, and which disk of a VM is meant."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    NotFoundError,
    PreconditionError,
    ProviderError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import disks

# As vcsim writes a VM's disk, and as ESXi writes a snapshot's delta disk.
VCSIM_DESCRIPTOR = '''# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=00000000
parentCID=00000000
createType="vmfs"

# Extent description (10.0GB capacity)
RW 20971520 VMFS "disk1-flat.vmdk"

# The Disk Data Base
#DDB
'''
DELTA_DESCRIPTOR = '''# Disk DescriptorFile
version=1
CID=5f3a2b1c
parentCID=9e8d7c6b
createType="vmfsSparse"
parentFileNameHint="web.vmdk"
# Extent description
RW 41943040 VMFSSPARSE "web-000001-delta.vmdk"
'''


def test_a_datastore_path_splits_and_names_its_siblings():
    path = disks.parse_datastore_path("[LocalDS_0] web/web.vmdk")
    assert (path.datastore, path.path) == ("LocalDS_0", "web/web.vmdk")
    assert str(path.sibling("web-flat.vmdk")) == "[LocalDS_0] web/web-flat.vmdk"


@pytest.mark.parametrize("text", ["", "web/web.vmdk", "[LocalDS_0]", "[] x"])
def test_a_path_without_a_datastore_is_refused(text):
    with pytest.raises(ProviderError):
        disks.parse_datastore_path(text)


def test_a_flat_descriptor_gives_its_extent_and_capacity():
    descriptor = disks.parse_descriptor(VCSIM_DESCRIPTOR)
    assert descriptor.create_type == "vmfs" and descriptor.flat
    assert descriptor.extents == (disks.Extent(20971520, "VMFS", "disk1-flat.vmdk"),)
    assert descriptor.capacity_bytes == 10 * 1024 ** 3


def test_a_delta_disk_is_no_flat_disk():
    descriptor = disks.parse_descriptor(DELTA_DESCRIPTOR)
    assert descriptor.parent == "web.vmdk" and not descriptor.flat


def test_an_empty_descriptor_is_no_flat_disk():
    assert not disks.parse_descriptor("").flat


def test_the_descriptor_of_an_import_reads_back_as_one_flat_extent():
    text = disks.flat_descriptor("d-flat.vmdk", 1024 * 1024, "0a1b2c3d")
    assert disks.parse_descriptor(text) == disks.Descriptor("vmfs", (disks.Extent(2048, "VMFS", "d-flat.vmdk"),))


def test_the_file_url_quotes_the_path_and_names_datacenter_and_datastore():
    files = disks.DatastoreFiles("vc.example", 443, "DC 0", "cookie", True)
    assert files.url(disks.DatastorePath("Local DS", "virtrigaud-disks/a b/a b.vmdk")) == (
        "https://vc.example:443/folder/virtrigaud-disks/a%20b/a%20b.vmdk?dcPath=DC+0&dsName=Local+DS")


def feed(chunks, size):
    written, digest = [], hashlib.sha256()
    disks.feed_extent(chunks, size, written.append, digest, "[ds] x-flat.vmdk")
    return b"".join(written), digest.hexdigest()


def test_a_short_extent_reads_as_zeros_up_to_its_size():
    data, digest = feed([b"ab", b"c"], 3 * 1024 * 1024 + 1)
    expected = b"abc" + bytes(3 * 1024 * 1024 - 2)
    assert data == expected and digest == hashlib.sha256(expected).hexdigest()


def test_an_extent_longer_than_its_descriptor_says_is_refused():
    with pytest.raises(ProviderError, match="more than the 2 bytes"):
        feed([b"ab", b"c"], 2)


def test_imports_go_to_a_folder_of_their_own():
    assert str(disks.import_location("LocalDS_0", "web-root")) == "[LocalDS_0] virtrigaud-disks/web-root/web-root.vmdk"


vim = pytest.importorskip("pyVmomi").vim


def disk(key, unit, file_name):
    return vim.vm.device.VirtualDisk(
        key=key, unitNumber=unit, controllerKey=1000, capacityInKB=1024,
        deviceInfo=vim.Description(label="Hard disk %d" % (unit + 1), summary=""),
        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName=file_name, diskMode="persistent"))


def props(state="poweredOff"):
    return {"runtime.powerState": state,
            "config.hardware.device": [disk(2000, 0, "[ds] web/web.vmdk"), disk(2001, 1, "[ds] web/web_1.vmdk")],
            "config.extraConfig": [vim.option.OptionValue(key="virtrigaud.disk.data", value="2001")]}


@pytest.mark.parametrize("asked, path", [("", "web/web.vmdk"), ("root", "web/web.vmdk"), ("data", "web/web_1.vmdk"),
                                         ("2001", "web/web_1.vmdk")])
def test_a_disk_is_named_by_spec_name_or_key_and_the_root_by_default(asked, path):
    assert disks.vm_disk("web", props(), asked).path.path == path


def test_a_missing_disk_is_not_found():
    with pytest.raises(NotFoundError, match="no disk 'logs'"):
        disks.vm_disk("web", props(), "logs")


@pytest.mark.parametrize("state", ["poweredOn", "suspended"])
def test_exporting_needs_a_stopped_vm(state):
    with pytest.raises(PreconditionError, match="VM 'web' is %s; stop it before exporting" % state):
        disks.vm_disk("web", props(state), "", "exporting")
    assert disks.vm_disk("web", props(state), "").name == "root"


def test_a_disk_reads_through_its_parents_nearest_first():
    device = disk(2000, 0, "[ds] c/c-000002.vmdk")
    device.backing.parent = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
        fileName="[ds] c/c-000001.vmdk", parent=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName="[ds] t/t.vmdk"))
    assert disks.VmDisk("root", device, disks.parse_datastore_path("[ds] c/c-000002.vmdk")).chain == (
        "[ds] c/c-000001.vmdk", "[ds] t/t.vmdk")


def test_zeros_are_left_as_a_hole_and_read_back_as_zeros(tmp_path):
    path = tmp_path / "disk.raw"
    with open(path, "wb") as handle:
        for data in (b"ab",) + (bytes(1024 * 1024),) * 3 + (b"cd", bytes(1024)):
            disks._write_sparse(handle, data)  # pylint: disable=protected-access
        handle.truncate()
    assert path.read_bytes() == b"ab" + bytes(3 * 1024 * 1024) + b"cd" + bytes(1024)
    assert path.stat().st_blocks * 512 < 1024 * 1024
