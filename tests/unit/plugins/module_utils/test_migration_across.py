# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure part of a move across backends: the request, the target VM, the steps left."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import migration_across as across
from ansible_collections.virtrigaud.core.plugins.module_utils.disk_server import ServedFile
from ansible_collections.virtrigaud.core.plugins.module_utils.disks import ExportedDisk, ImportedDisk
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    ConflictError,
    NotFoundError,
    PreconditionError,
    ProviderError,
    SpecError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.image_transfer import Transfer
from ansible_collections.virtrigaud.core.plugins.module_utils.images import ImageSpec
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    ObservedNIC,
    ObservedVM,
    PowerOp,
    ProviderConfig,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.mock import MockProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import NetworkSpec, VMSpec

PARAMS = {"vm_name": "web", "target": {"provider_type": "proxmox"}, "network_map": {"default": "vmbr0"},
          "staging": {"serve_address": "127.0.0.1"}}
SOURCE = ObservedVM(id="u-1", name="web", power_state="On", cpu=2, memory_mib=512, firmware="bios",
                    nics=(ObservedNIC(name="nic0", mac_address="52:54:00:00:00:01", network="default"),))


def request(**extra):
    return across.parse_request(dict(PARAMS, **extra))


def test_the_request_takes_its_defaults():
    parsed = request()
    assert (parsed.target_name, parsed.source_power, parsed.shutdown_timeout, parsed.delete_source) == (
        "web", "shutdown", 120, False)


@pytest.mark.parametrize("extra, option", [
    ({"staging": {"serve_address": "127.0.0.1", "serve_port": 70000}}, "staging.serve_port"),
    ({"network_map": {"default": " "}}, "network_map"),
])
def test_bad_requests_name_the_option(extra, option):
    with pytest.raises(SpecError) as caught:
        request(**extra)
    assert caught.value.option == option


def test_the_target_vm_has_the_source_hardware_and_mapped_networks():
    spec = across.target_spec(SOURCE, request())
    assert (spec.name, spec.cpu, spec.memory_mib, spec.power_state) == ("web", 2, 512, "On")
    assert [(n.name, n.network, n.mac_address) for n in spec.networks] == [("nic0", "vmbr0", "52:54:00:00:00:01")]


def test_a_network_missing_from_the_map_is_refused():
    with pytest.raises(SpecError) as caught:
        across.target_spec(SOURCE, request(network_map={"other": "vmbr0"}))
    assert caught.value.option == "network_map" and "'default'" in caught.value.msg


@pytest.mark.parametrize("source, target, delete, steps", [
    (SOURCE, None, False, ["migrate_across"]),
    (SOURCE, None, True, ["migrate_across", "delete_source"]),
    (SOURCE, ObservedVM(id="100", name="web", power_state="On"), False, []),
    (SOURCE, ObservedVM(id="100", name="web", power_state="On"), True, ["delete_source"]),
    (None, ObservedVM(id="100", name="web", power_state="On"), True, []),
])
def test_the_steps_left(source, target, delete, steps):
    planned = across.plan(source, target, request(delete_source=delete), "libvirt")
    assert [step.action for step in planned] == steps


def test_a_stopped_vm_of_the_target_name_is_not_taken_for_the_result():
    with pytest.raises(ConflictError):
        across.plan(SOURCE, ObservedVM(id="100", name="web", power_state="Off"), request(), "libvirt")


def test_nothing_anywhere_is_not_found():
    with pytest.raises(NotFoundError):
        across.plan(None, None, request(), "libvirt")


def test_the_file_is_served_only_under_its_path_and_only_while_asked(tmp_path):
    disk = tmp_path / "disk.qcow2"
    disk.write_bytes(b"x" * 4096)
    with ServedFile(str(disk), "127.0.0.1") as served:
        with urllib.request.urlopen(served.url) as answer:
            assert answer.read() == b"x" * 4096
        root = served.url.rsplit("/", 2)[0] + "/"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(root)
        url = served.url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


class ExportingMock(MockProvider):
    """The mock backend with ExportDisk: the disk is ``payload``, and the checksum it reports can be wrong."""

    payload = b"disk bytes " * 1000
    reported = None

    def capabilities(self):
        return replace(super().capabilities(), supports_disk_export=True)

    def export_disk(self, spec, transfer):
        with open(spec.destination.path, "wb") as handle:
            handle.write(self.payload)
        digest = self.reported or hashlib.sha256(self.payload).hexdigest()
        return ExportedDisk("e", spec.destination.path, "qcow2", len(self.payload), digest)


def providers(tmp_path):
    source = ExportingMock(ProviderConfig(type="mock", uri="mock://%s" % (tmp_path / "source.json")))
    target = MockProvider(ProviderConfig(type="mock", uri="mock://%s" % (tmp_path / "target.json")))
    vm_id = source.create(VMSpec(name="web", cpu=2, memory_mib=512, networks_given=True,
                                 networks=(NetworkSpec(name="nic0", network="default"),)))[0]
    source.power(vm_id, PowerOp.ON)
    assert source.describe(vm_id).power_state == "On"
    return source, target


def migration(source, target, tmp_path):
    wanted = request(staging={"serve_address": "127.0.0.1", "dir": str(tmp_path / "staging")})
    return across.AcrossMigration(source, target, wanted, Transfer(lambda text: None, str(tmp_path / "work")),
                                  Deadline(30), lambda text: None)


def test_the_disk_reaches_the_target_and_the_vm_runs_there(tmp_path):
    source, target = providers(tmp_path)
    vm = source.find("web")
    move = migration(source, target, tmp_path)
    moved = move.run(vm, move.validate(vm))
    assert moved.power_state == "On" and moved.cpu == 2 and move.log.phase == "Ready"
    assert target.find_image(ImageSpec("web-migrated.qcow2")).size_bytes == len(ExportingMock.payload)
    assert source.find("web").power_state == "Off" and os.listdir(tmp_path / "staging") == []


def test_a_checksum_that_does_not_match_undoes_the_move(tmp_path):
    source, target = providers(tmp_path)
    source.reported = "0" * 64
    vm = source.find("web")
    move = migration(source, target, tmp_path)
    with pytest.raises(PreconditionError) as caught:
        move.run(vm, move.validate(vm))
    assert caught.value.details["failed_phase"] == "Exporting"
    assert source.find("web").power_state == "On" and target.find("web") is None, caught.value.details
    assert os.listdir(tmp_path / "staging") == []


def test_a_move_that_would_not_wait_is_refused():
    with pytest.raises(SpecError) as caught:
        request(wait=False)
    assert caught.value.option == "wait"


class ListingMock(MockProvider):
    """The mock backend listing import formats, the one it holds first."""

    formats: tuple = ()

    def capabilities(self):
        return replace(super().capabilities(), supported_import_formats=self.formats)


@pytest.mark.parametrize("formats, travels", [((), "qcow2"), (("raw", "qcow2", "vmdk"), "raw"),
                                              (("qcow2", "raw"), "qcow2")])
def test_the_disk_travels_in_the_first_format_the_target_lists(tmp_path, formats, travels):
    source = providers(tmp_path)[0]
    target = ListingMock(ProviderConfig(type="mock", uri="mock://%s" % (tmp_path / "listing.json")))
    target.formats = formats
    assert migration(source, target, tmp_path)._target_format() == travels


class ImportingMock(MockProvider):
    """The mock backend with ImportDisk: it fetches the file and keeps its SHA-256; ``removable`` says whether it
    can remove an imported disk, as an in-process vSphere target can and a remote one cannot."""

    imports_copy_image = True
    removable = True
    fail_create = False

    def __init__(self, config):
        super().__init__(config)
        self.disks = {}

    def capabilities(self):
        return replace(super().capabilities(), supports_disk_import=True, supports_image_import=False)

    def import_disk(self, spec, transfer):
        with urllib.request.urlopen(spec.source.url) as answer:
            digest = hashlib.sha256(answer.read()).hexdigest()
        self.disks[spec.name] = ImportedDisk(spec.name, "[ds] virtrigaud-disks/%s" % spec.name, "vmdk", 1, digest)
        return self.disks[spec.name]

    def delete_disk(self, disk):
        if not self.removable:
            super().delete_disk(disk)
        self.disks.pop(disk.disk_id, None)

    def create(self, spec):
        if self.fail_create:
            raise ProviderError("no room")
        return super().create(spec)


def importing_target(tmp_path, **attributes):
    target = ImportingMock(ProviderConfig(type="mock", uri="mock://%s" % (tmp_path / "importing.json")))
    for key, value in attributes.items():
        setattr(target, key, value)
    return target


def test_the_imported_disk_is_removed_once_the_target_vm_runs(tmp_path):
    source = providers(tmp_path)[0]
    target = importing_target(tmp_path)
    vm = source.find("web")
    move = migration(source, target, tmp_path)
    assert move.run(vm, move.validate(vm)).power_state == "On" and target.disks == {}


@pytest.mark.parametrize("removable, left", [
    (True, []),
    (False, ["the imported disk web-migrated.qcow2: the mock backend cannot remove a disk it imported; remove "
             "[ds] virtrigaud-disks/web-migrated.qcow2 by hand"]),
])
def test_a_failed_move_removes_the_imported_disk_where_the_target_can(tmp_path, removable, left):
    source = providers(tmp_path)[0]
    target = importing_target(tmp_path, removable=removable, fail_create=True)
    vm = source.find("web")
    move = migration(source, target, tmp_path)
    with pytest.raises(ProviderError) as caught:
        move.run(vm, move.validate(vm))
    assert caught.value.details.get("left_behind", []) == left
    assert (target.disks == {}) is removable and source.find("web").power_state == "On"


class ListingExporter(ExportingMock):
    """The exporting mock, listing the formats it writes and keeping the one it was asked for."""

    writes: tuple = ()
    asked = None

    def capabilities(self):
        return replace(super().capabilities(), supported_export_formats=self.writes)

    def export_disk(self, spec, transfer):
        type(self).asked = spec.format
        return replace(super().export_disk(spec, transfer), format=spec.format or "vmdk")


@pytest.mark.parametrize("writes, asked", [(("vmdk", "raw", "qcow2"), "qcow2"), (("vmdk",), "")])
def test_the_source_writes_the_target_format_when_it_can_so_the_disk_is_converted_once(tmp_path, writes, asked):
    source = ListingExporter(ProviderConfig(type="mock", uri="mock://%s" % (tmp_path / "exporter.json")))
    source.writes = writes
    exported = migration(source, MockProvider(ProviderConfig(type="mock", uri="mock://%s" % (tmp_path / "t.json"))),
                         tmp_path)._export(ObservedVM(id="u-1", name="web", power_state="Off"))
    assert ListingExporter.asked == asked and exported.format == (asked or "vmdk")
