# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ExportDisk and ImportDisk requests as specs: what is served, and what is refused by field name."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.disks import (
    Location,
    parse_export,
    parse_import,
    parse_location,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.images import Checksum

SHA = "ab" * 32


@pytest.mark.parametrize("text, location", [
    ("/var/tmp/disk.qcow2", Location(path="/var/tmp/disk.qcow2")),
    ("/var/tmp/../tmp/disk.qcow2", Location(path="/var/tmp/disk.qcow2")),
    ("file:///var/tmp/a%20disk.raw", Location(path="/var/tmp/a disk.raw")),
    ("file://localhost/d.raw", Location(path="/d.raw")),
    ("https://store.example.com/up/d.qcow2", Location(url="https://store.example.com/up/d.qcow2")),
])
def test_locations_are_paths_or_http_urls(text, location):
    assert parse_location(text, "destination_url") == location


@pytest.mark.parametrize("text", ["", "disk.qcow2", "../d", "s3://bucket/d", "nfs://h/e/d", "file://host/d",
                                  "ftp://h/d", "http://"])
def test_other_locations_are_refused_by_name(text):
    with pytest.raises(SpecError) as raised:
        parse_location(text, "source_url")
    assert raised.value.option == "source_url"


def test_an_export_keeps_the_disk_format_unless_asked():
    spec = parse_export({"vm_id": "u-1", "destination_url": "/var/tmp/d", "disk_id": "data"})
    assert (spec.vm_id, spec.disk, spec.format, spec.compress, spec.destination.path) == (
        "u-1", "data", "", False, "/var/tmp/d")
    assert parse_export({"vm_id": "u", "destination_url": "/d", "format": "QCOW2", "compress": True,
                         "backend_type": "pvc", "transfer_mode": "auto", "storage_options_json": "{}"}).compress


def test_an_import_verifies_the_checksum_it_is_given_and_lands_as_qcow2():
    spec = parse_import({"source_url": "http://h/d.raw", "target_name": "d-1", "format": "raw",
                         "expected_checksum": SHA.upper(), "storage_hint": "fast"})
    assert (spec.name, spec.format, spec.checksum, spec.storage) == ("d-1", "raw", Checksum("sha256", SHA), "fast")
    image = spec.image()
    assert (image.url, image.path, image.format, image.checksum) == ("http://h/d.raw", None, "qcow2",
                                                                     Checksum("sha256", SHA))
    assert parse_import({"source_url": "/d", "target_name": "d", "expected_checksum": "sha512:" + "0" * 128}
                        ).checksum == Checksum("sha512", "0" * 128)


@pytest.mark.parametrize("parse, fields, option", [
    (parse_export, {"destination_url": "/d"}, "vm_id"),
    (parse_export, {"vm_id": "u", "destination_url": "/d", "snapshot_id": "s"}, "snapshot_id"),
    (parse_export, {"vm_id": "u", "destination_url": "/d", "format": "vhdx"}, "format"),
    (parse_export, {"vm_id": "u", "destination_url": "/d", "format": "raw", "compress": True}, "compress"),
    (parse_export, {"vm_id": "u", "destination_url": "/d", "backend_type": "s3"}, "backend_type"),
    (parse_export, {"vm_id": "u", "destination_url": "/d", "transfer_mode": "direct"}, "transfer_mode"),
    (parse_export, {"vm_id": "u", "destination_url": "/d", "credentials": {"token": "t"}}, "credentials"),
    (parse_export, {"vm_id": "u", "destination_url": "/d", "storage_options_json": "{x"}, "storage_options_json"),
    (parse_export, {"vm_id": "u", "destination_url": "/d", "storage_options_json": '{"bucket": "b"}'},
     "storage_options_json"),
    (parse_import, {"source_url": "/d", "target_name": "../d"}, "target_name"),
    (parse_import, {"source_url": "/d"}, "target_name"),
    (parse_import, {"target_name": "d"}, "source_url"),
    (parse_import, {"source_url": "/d", "target_name": "d", "verify_checksum": True}, "expected_checksum"),
    (parse_import, {"source_url": "/d", "target_name": "d", "expected_checksum": "xyz"}, "expected_checksum"),
    (parse_import, {"source_url": "/d", "target_name": "d", "format": "iso"}, "format"),
    (parse_import, {"source_url": "/d", "target_name": "d", "backend_type": "nfs"}, "backend_type"),
])
def test_what_an_export_or_import_cannot_do_is_refused_by_name(parse, fields, option):
    with pytest.raises(SpecError) as raised:
        parse(fields)
    assert raised.value.option == option
