# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spec model: what it accepts, what it refuses, and how it says so."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError


@pytest.mark.parametrize("value, mib", [
    ("4Gi", 4096), ("512Mi", 512), ("1.5Gi", 1536), (1024, 1024), ("16Mi", 16), ("1Ti", 1048576), ("2097152Ki", 2048),
])
def test_memory_quantities(value, mib):
    assert spec.parse_memory_mib(value) == mib


@pytest.mark.parametrize("value, hint", [
    ("4GB", "'4Gi'"), ("4 Gi", "'4Gi'"), ("-1Gi", "'4Gi'"), ("0", "between 16 MiB"), ("8Mi", "between 16 MiB"),
    ("2Ti", "between 16 MiB"), ("1000000Ki", "whole number of MiB"), (True, "quantity"), ([4], "quantity"),
])
def test_bad_memory_names_the_option_and_the_accepted_form(value, hint):
    with pytest.raises(SpecError) as caught:
        spec.parse_memory_mib(value)
    assert caught.value.option == "memory"
    assert hint in caught.value.message


@pytest.mark.parametrize("value, gib", [("10Gi", 10), (20, 20), ("1Ti", 1024), ("1024Mi", 1)])
def test_disk_sizes_in_gib(value, gib):
    assert spec.parse_size_gib(value, "disks[0].size") == gib


@pytest.mark.parametrize("value", ["1.5Gi", "0Gi", "10GB", "100Mi", None])
def test_bad_disk_sizes(value):
    with pytest.raises(SpecError) as caught:
        spec.parse_size_gib(value, "disks[0].size")
    assert caught.value.option == "disks[0].size"


@pytest.mark.parametrize("name", ["a", "web-01", "db.example", "A_b-9", "x" * 80])
def test_vm_names(name):
    assert spec.parse_vm_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "a b", "x" * 81, 7, None, "é"])
def test_bad_vm_names(name):
    with pytest.raises(SpecError) as caught:
        spec.parse_vm_name(name)
    assert caught.value.option == "name"


@pytest.mark.parametrize("params, option", [
    ({"cpu": 0}, "cpu"),
    ({"cpu": -2}, "cpu"),
    ({"cpu": 129}, "cpu"),
    ({"cpu": "two"}, "cpu"),
    ({"firmware": "coreboot"}, "firmware"),
    ({"disk_defaults": {"type": "floppy"}}, "disk_defaults.type"),
    ({"disk_defaults": {"size": "1.5Gi"}}, "disk_defaults.size"),
    ({"disks": [{"name": "d", "size": "1Gi"}, {"name": "d", "size": "2Gi"}]}, "disks[1].name"),
    ({"disks": [{"name": "d"}]}, "disks[0].size"),
    ({"networks": [{"name": "n"}, {"name": "n"}]}, "networks[1].name"),
    ({"networks": [{"name": "n", "model": "ne2k"}]}, "networks[0].model"),
    ({"networks": [{"name": "n", "mac_address": "zz:00"}]}, "networks[0].mac_address"),
    ({"networks": [{"name": "n", "ip_address": "300.1.1.1"}]}, "networks[0].ip_address"),
    ({"tags": ["ok", 1]}, "tags"),
    ({"tags": "ok"}, "tags"),
    ({"placement": "here"}, "placement"),
    ({"cloud_init": {"user_data": 5}}, "cloud_init.user_data"),
])
def test_bad_specs_name_the_option(params, option):
    with pytest.raises(SpecError) as caught:
        spec.parse_vm(dict(params, name="vm"))
    assert caught.value.option == option
    assert caught.value.message.startswith(option + ": ")


def test_a_full_spec_is_normalised():
    vm = spec.parse_vm({
        "name": "web", "cpu": 2, "memory": "2Gi", "firmware": "uefi", "image": "base.qcow2",
        "disk_defaults": {"size": "20Gi", "type": "thick"},
        "disks": [{"name": "data", "size": "100Gi"}],
        "networks": [{"name": "lan", "network": "default", "model": "e1000"}],
        "placement": {"datastore": "fast"},
        "cloud_init": {"user_data": "#cloud-config\n"},
        "tags": ["b", "a", "b"],
    }, power_state="On")
    assert (vm.cpu, vm.memory_mib, vm.firmware, vm.root_disk_gib, vm.disk_type) == (2, 2048, "uefi", 20, "thick")
    assert vm.disks == (spec.DiskSpec("data", 100),)
    assert vm.networks[0].model == "e1000"
    assert vm.placement.datastore == "fast"
    assert vm.tags == ("a", "b")
    assert vm.power_state == "On"


def test_unknown_power_state_is_refused():
    with pytest.raises(SpecError) as caught:
        spec.parse_vm({"name": "vm"}, power_state="Sleeping")
    assert caught.value.option == "power_state"


def test_view_shows_cloud_init_only_as_a_digest():
    vm = spec.parse_vm({"name": "vm", "cloud_init": {"user_data": "password: hunter2"}})
    view = vm.view()
    assert "hunter2" not in repr(view)
    assert view["cloud_init"].startswith("sha256:")


def test_cloud_init_digest_is_stable_and_sensitive():
    one = spec.CloudInit(user_data="a", meta_data="b")
    assert one.digest() == spec.CloudInit(user_data="a", meta_data="b").digest()
    assert one.digest() != spec.CloudInit(user_data="a", meta_data="c").digest()
    assert spec.CloudInit().digest() is None


# Found by the bad-input corpus (tests/integration/targets/bad_input): each once passed or crashed.
@pytest.mark.parametrize("params, option", [
    ({"name": "web\n"}, "name"),
    ({"name": "a", "memory": "²"}, "memory"),
    ({"name": "a", "memory": "٥١٢"}, "memory"),
    ({"name": "a", "memory": "9" * 5000}, "memory"),
    ({"name": "a", "memory": "9" * 5000 + "Mi"}, "memory"),
    ({"name": "a", "cpu": "²"}, "cpu"),
    ({"name": "a", "disks": [{"name": "d", "size": "³"}]}, "disks[0].size"),
    ({"name": "a", "disks": [{"name": "d", "size": "9" * 5000}]}, "disks[0].size"),
    ({"name": "a", "disks": [{"name": "d\n", "size": 1}]}, "disks[0].name"),
    ({"name": "a", "networks": [{"name": "lan", "mac_address": "52:54:00:00:00:01\n"}]}, "networks[0].mac_address"),
    ({"name": "a", "networks": [{"name": "lan", "ip_address": "10.0.0.1\n"}]}, "networks[0].ip_address"),
    ({"name": "a", "networks": [{"name": "lan", "dns": ["$(reboot)"]}]}, "networks[0].dns"),
    ({"name": "a", "networks": [{"name": "lan", "dns": ["10.0.0.53\nruncmd: [reboot]"]}]}, "networks[0].dns"),
    ({"name": "a", "tags": ["['web']"]}, "tags"),
    ({"name": "a", "tags": ["<x>"]}, "tags"),
    ({"name": "a", "image": "base\x00junk"}, "image"),
    ({"name": "a", "placement": {"datastore": "pool\n"}}, "placement.datastore"),
])
def test_refused_after_the_corpus_found_them(params, option):
    with pytest.raises(SpecError) as caught:
        spec.parse_vm(params)
    assert caught.value.option == option
    assert len(caught.value.message) < 400


def test_free_text_keeps_its_newlines_and_dns_takes_ipv6():
    parsed = spec.parse_vm({"name": "a", "cloud_init": {"user_data": "#cloud-config\nruncmd: [true]\n"},
                            "networks": [{"name": "lan", "dns": ["10.0.0.53", "2001:db8::53"]}]})
    assert parsed.cloud_init.user_data.endswith("\n")
    assert parsed.networks[0].dns == ("10.0.0.53", "2001:db8::53")


@pytest.mark.parametrize("params", [
    {"secure_boot": True},
    {"secure_boot": True, "firmware": "bios"},
    {"secure_boot": "yes", "firmware": "uefi"},
])
def test_secure_boot_needs_uefi_and_a_boolean(params):
    with pytest.raises(SpecError) as caught:
        spec.parse_vm(dict({"name": "web"}, **params))
    assert caught.value.option == "secure_boot"


def test_secure_boot_is_kept_as_given():
    assert spec.parse_vm({"name": "web", "firmware": "uefi", "secure_boot": True}).secure_boot is True
    assert spec.parse_vm({"name": "web", "firmware": "bios", "secure_boot": False}).secure_boot is False
    assert spec.parse_vm({"name": "web"}).secure_boot is None


@pytest.mark.parametrize("console, option", [
    ({}, "console.type"),
    ({"type": "rdp"}, "console.type"),
    ({"type": "webmks", "listen": "127.0.0.1"}, "console.listen"),
    ({"type": "vnc", "listen": "kvm1.example.com"}, "console.listen"),
    ({"type": "none", "rotate_password": True}, "console.rotate_password"),
    ({"type": "vnc", "rotate_password": "yes"}, "console.rotate_password"),
])
def test_bad_consoles_name_the_option(console, option):
    with pytest.raises(SpecError) as caught:
        spec.parse_vm({"name": "web", "console": console})
    assert caught.value.option == option


def test_a_display_listens_on_loopback_unless_told_and_shows_in_the_view():
    vnc = spec.parse_vm({"name": "web", "console": {"type": "vnc"}}).console
    assert vnc is not None and vnc.address == "127.0.0.1"
    assert spec.parse_vm({"name": "web", "console": {"type": "vnc"}}).view()["console"] == {
        "type": "vnc", "listen": "127.0.0.1"}
    assert spec.parse_console({"type": "webmks"}).address is None  # type: ignore[union-attr]
    assert "console" not in spec.parse_vm({"name": "web"}).view()
