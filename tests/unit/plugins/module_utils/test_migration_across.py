# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure part of a move across backends: the request, the target VM, the steps left."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import migration_across as across
from ansible_collections.virtrigaud.core.plugins.module_utils.disk_server import ServedFile
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import ConflictError, NotFoundError, SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ObservedNIC, ObservedVM

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
