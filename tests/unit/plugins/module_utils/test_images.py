# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image specs from options and from upstream's VMImageSpec, and their plans."""

from __future__ import annotations

import json

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import NotFoundError, SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.images import (
    Checksum,
    ImageSpec,
    PreparedImage,
    parse_checksum,
    parse_image,
    parse_vmimage,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import plan_image

SHA256 = "a" * 64


@pytest.mark.parametrize("text, algorithm, expected", [
    ("sha256:" + SHA256.upper(), None, Checksum("sha256", SHA256)),
    ("md5:" + "0" * 32, None, Checksum("md5", "0" * 32)),
    (SHA256, "sha256", Checksum("sha256", SHA256)),
    ("", None, None),
])
def test_checksums(text, algorithm, expected):
    assert parse_checksum(text, algorithm) == expected


@pytest.mark.parametrize("text", ["sha256:abc", "crc32:" + "0" * 8, SHA256, "sha1:" + "g" * 40])
def test_bad_checksums_name_the_option(text):
    with pytest.raises(SpecError) as err:
        parse_checksum(text)
    assert err.value.option == "checksum"


@pytest.mark.parametrize("params, option", [
    ({"name": "x", "url": "ftp://host/x.img"}, "url"),
    ({"name": "x"}, "url"),
    ({"name": "x", "url": "http://h/x", "path": "/x"}, "path"),
    ({"name": "../x", "path": "/x"}, "name"),
    ({"name": "x", "path": "/x", "format": "vhd"}, "format"),
    ({"name": "x", "template": "9000", "checksum": "sha256:" + SHA256}, "checksum"),
    ({"name": "x", "path": "/x", "retries": 11}, "retries"),
])
def test_bad_options_are_named(params, option):
    with pytest.raises(SpecError) as err:
        parse_image(params)
    assert err.value.option == option


def test_absent_needs_no_source():
    assert parse_image({"name": "x", "state": "absent"}).source_option == "name"


def test_a_libvirt_vmimage_spec():
    spec = parse_vmimage(json.dumps({"source": {"libvirt": {
        "url": "http://h/x.qcow2", "format": "qcow2", "checksum": SHA256, "checksumType": "sha256",
        "storagePool": "images"}}}), "debian", "")
    assert spec == ImageSpec("debian", url="http://h/x.qcow2", checksum=Checksum("sha256", SHA256), format="qcow2",
                             storage="images")


def test_a_vsphere_ova_vmimage_spec():
    spec = parse_vmimage(json.dumps({"source": {"vsphere": {"ovaURL": "https://h/app.ova", "checksum": SHA256}}}),
                         "app", "")
    assert spec == ImageSpec("app", url="https://h/app.ova", checksum=Checksum("sha256", SHA256))


@pytest.mark.parametrize("document, option", [
    ("not json", "image_json"),
    ({"source": {"vsphere": {"ovaURL": "ftp://h/app.ova"}}}, "image_json.source.vsphere.ovaURL"),
    ({}, "image_json.source"),
    ({"source": {"libvirt": {"url": "x"}, "http": {"url": "http://h/x"}}}, "image_json.source"),
    ({"source": {"dataVolume": {"name": "golden"}}}, "image_json.source.dataVolume"),
    ({"source": {"http": {"url": "http://h/x", "checksum": "zz"}}}, "image_json.source.http.checksum"),
])
def test_vmimage_specs_refused_name_the_field(document, option):
    with pytest.raises(SpecError) as err:
        parse_vmimage(document if isinstance(document, str) else json.dumps(document), "x")
    assert err.value.option == option


def test_plans():
    spec = ImageSpec("x", url="http://h/x")
    image = PreparedImage("x", "x", "/p/x")
    assert [a.action for a in plan_image("present", spec, None).actions] == ["image_prepare"]
    assert not plan_image("present", spec, image).actions
    assert [a.action for a in plan_image("absent", spec, image).actions] == ["image_delete"]
    assert not plan_image("absent", spec, None).actions
    with pytest.raises(NotFoundError):
        plan_image("present", ImageSpec("x", template="9000"), None)
