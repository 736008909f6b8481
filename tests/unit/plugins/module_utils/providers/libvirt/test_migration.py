# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moves to another libvirtd: the streamed copy and its checksum (fake streams), and which connection a target
names (no connection opened)."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ObservedVM, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import Placement, VMSpec

libvirt = pytest.importorskip("libvirt")

# pylint: disable=wrong-import-position  # after the skip: the module needs libvirt-python
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt import migration  # noqa: E402
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt.provider import (  # noqa: E402
    LibvirtProvider,
)


class Stream:
    """A libvirt stream: ``recv`` hands out ``data`` in pieces, ``send`` takes at most ``most`` bytes a call."""

    def __init__(self, data=b"", piece=3, most=2, fail_after=None):
        self.data, self.piece, self.most, self.fail_after = data, piece, most, fail_after
        self.received = bytearray()
        self.finished = self.aborted = False

    def recv(self, _size):
        if self.fail_after is not None and len(self.received) >= self.fail_after:
            raise libvirt.libvirtError("stream cut")
        chunk, self.data = self.data[:self.piece], self.data[self.piece:]
        return chunk

    def send(self, chunk):
        if self.fail_after is not None and len(self.received) >= self.fail_after:
            raise libvirt.libvirtError("target full")
        self.received += chunk[:self.most]
        return min(len(chunk), self.most)

    def finish(self):
        self.finished = True

    def abort(self):
        self.aborted = True


class Volume:
    """A volume whose downloads read ``data``; ``uploaded`` is the stream of its last upload."""

    def __init__(self, data=b"", fail_after=None):
        self.data, self.fail_after = data, fail_after
        self.uploaded = None

    def connect(self):
        return self

    def newStream(self, _flags):  # noqa: N802 - libvirt's name
        return Stream(fail_after=self.fail_after)

    def download(self, stream, *_args):
        stream.data = self.data

    def upload(self, stream, *_args):
        self.uploaded = stream


def test_a_volume_is_copied_whole_through_streams_and_hashed_on_the_way():
    data = bytes(range(256)) * 5
    source, target = Volume(data), Volume()
    size, digest = migration.stream_copy(source, target)
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert bytes(target.uploaded.received) == data and target.uploaded.finished


def test_a_cut_upload_is_aborted_and_the_error_goes_up():
    source, target = Volume(b"x" * 10), Volume(fail_after=4)
    with pytest.raises(libvirt.libvirtError):
        migration.stream_copy(source, target)
    assert target.uploaded.aborted and not target.uploaded.finished


def test_the_digest_reads_the_volume_back():
    assert migration.stream_digest(Volume(b"abc")) == (3, hashlib.sha256(b"abc").hexdigest())


def libvirt_provider(uri="qemu:///system"):
    return LibvirtProvider(ProviderConfig(type="libvirt", uri=uri, username="u", password="secret",
                                          options={"storage_pool": "virtrigaud"}))


def test_another_uri_is_another_connection_without_this_ones_credentials():
    here = libvirt_provider()
    assert here.elsewhere(Placement(datastore="x")) is None
    assert here.elsewhere(Placement(host="qemu:///system")) is None
    there = here.elsewhere(Placement(host="qemu+ssh://kvm-02/system"))
    assert there.client.uri == "qemu+ssh://kvm-02/system"
    assert (there.config.username, there.config.password) == (None, None)
    assert there.config.options == {"storage_pool": "virtrigaud"}


def test_the_host_a_vm_is_on_is_the_connections_uri():
    vm = ObservedVM(id="1", name="a", power_state="Off", placement=Placement(datastore="virtrigaud"))
    assert libvirt_provider("qemu+unix:///system?socket=/s").where(vm) == Placement(
        host="qemu+unix:///system?socket=/s", datastore="virtrigaud")


def test_a_new_vm_at_another_libvirtd_is_refused_by_name():
    with pytest.raises(SpecError) as err:
        libvirt_provider().check_spec(VMSpec(name="a", placement=Placement(host="qemu+ssh://kvm-02/system")))
    assert err.value.option == "placement.host"
