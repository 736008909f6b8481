# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin's pure parts: source checks, host variables, ansible_host, groups, host names."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.plugin_utils import inventory

RECORD = {
    "id": "vm-1", "name": "web-1", "power_state": "On", "cpu": 2, "memory_mib": 2048, "firmware": "bios",
    "disks": [{"name": "root", "size_gib": 10}], "tags": ["prod", "web"], "console_url": None,
    "ip_addresses": ["127.0.0.1", "fe80::1", "10.0.0.5", "192.168.1.5"],
    "nics": [
        {"name": "mgmt", "network": "mgmt-net", "ip_addresses": ["127.0.0.1", "fe80::1", "10.0.0.5"]},
        {"name": "lan", "network": "lan-net", "ip_addresses": ["192.168.1.5", "2001:db8::5"]},
    ],
}


def test_host_vars_are_prefixed_and_pick_the_first_ipv4():
    variables = inventory.host_vars(RECORD, "lab", "libvirt", full=True)
    assert variables["virtrigaud_provider"] == "lab"
    assert variables["virtrigaud_provider_type"] == "libvirt"
    assert variables["virtrigaud_cpu"] == 2
    assert variables["ansible_host"] == "10.0.0.5"
    assert all(key.startswith("virtrigaud_") or key == "ansible_host" for key in variables)


def test_basic_host_vars_are_what_it_takes_to_connect_and_group():
    variables = inventory.host_vars(RECORD, "lab", "libvirt")
    assert set(variables) == {"virtrigaud_provider", "virtrigaud_provider_type", "virtrigaud_id", "virtrigaud_name",
                              "virtrigaud_power_state", "virtrigaud_ip_addresses", "virtrigaud_tags", "ansible_host"}
    assert variables["ansible_host"] == "10.0.0.5"


def test_a_full_only_host_name_choice_is_refused_by_the_option_it_needs():
    inventory.check_choices(["console_url"], {}, full=True)
    with pytest.raises(SpecError, match="host_variables: full") as caught:
        inventory.check_choices(["name", "console_url"], {}, full=False)
    assert caught.value.option == "hostnames[1]"


@pytest.mark.parametrize("preference, expected", [
    ({"networks": ["lan-net"]}, "192.168.1.5"),
    ({"networks": ["missing", "mgmt-net"]}, "10.0.0.5"),
    ({"cidrs": ["2001:db8::/32"]}, "2001:db8::5"),
    ({"cidrs": ["172.16.0.0/12"]}, "10.0.0.5"),
])
def test_ansible_host_preference(preference, expected):
    assert inventory.ansible_host(RECORD["nics"], preference) == expected


def test_never_loopback_or_link_local():
    nics = [{"name": "lo", "ip_addresses": ["127.0.0.1", "169.254.3.3", "fe80::2"]}]
    assert inventory.ansible_host(nics, {}) is None


def test_default_groups():
    variables = inventory.host_vars(RECORD, "lab", "libvirt")
    assert inventory.default_groups(variables) == ["virtrigaud", "virtrigaud_provider_lab", "virtrigaud_power_on",
                                                   "virtrigaud_tag_prod", "virtrigaud_tag_web"]


def test_hostname_takes_the_first_non_empty_choice():
    variables = dict(inventory.host_vars(RECORD, "lab", "libvirt", full=True), virtrigaud_console_url="")

    def render(template, data):
        return template.replace("{{ virtrigaud_name }}", data["virtrigaud_name"])

    assert inventory.hostname(variables, ["console_url", "{{ virtrigaud_name }}.example"], render) == \
        "web-1.example"
    assert inventory.hostname(variables, ["id"], render) == "vm-1"
    assert inventory.hostname(variables, ["nothing"], render) is None


@pytest.mark.parametrize("sources, option, text", [
    ([], "sources", "at least one source"),
    ("libvirt", "sources", "at least one source"),
    ([5], "sources[0]", "dictionary"),
    ([{"type": "hyperv"}], "sources[0]", "type"),
    ([{"type": "mock", "colour": "blue"}], "sources[0]", "colour"),
    ([{"type": "mock", "name": "a"}, {"type": "mock", "name": "a"}], "sources[].name", "'a'"),
    ([{"type": "mock", "name": {"a": 1}}], "sources[0].name", "a dictionary"),
    ([{"type": "kubernetes", "namespaces": ["Team_A"]}], "sources[0].namespaces[0]", "Team_A"),
])
def test_bad_sources_name_the_key(sources, option, text):
    with pytest.raises(SpecError) as caught:
        inventory.check_sources(sources)
    assert caught.value.option == option and text in caught.value.msg


def test_sources_get_names_and_their_own_environment(monkeypatch):
    monkeypatch.setenv("VMWARE_HOST", "vc.example.com")
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "qemu+ssh://kvm.example.com/system")
    checked = inventory.check_sources([{"type": "mock"}, {"type": "vsphere", "name": "vc"}])
    assert [s["name"] for s in checked] == ["mock-0", "vc"]
    assert inventory.source_connection(checked[1]).config.uri == "vc.example.com"
    assert inventory.source_connection(checked[0]).config.uri is None


@pytest.mark.parametrize("hostnames, preference, option", [
    ([{"name": "x"}], {}, "hostnames[0]"),
    (["colour"], {}, "hostnames[0]"),
    (["name"], {"cidrs": ["10.0.0.0/99"]}, "ip_preference.cidrs[0]"),
    (["name"], {"cidrs": ["10.0.0.0/8", "$(reboot)"]}, "ip_preference.cidrs[1]"),
])
def test_choices_that_cannot_work_are_refused_before_any_source(hostnames, preference, option):
    with pytest.raises(SpecError) as caught:
        inventory.check_choices(hostnames, preference)
    assert caught.value.option == option


def test_choices_that_work():
    inventory.check_choices(["name", "virtrigaud_id", "{{ virtrigaud_name }}.lab"], {"cidrs": ["10.20.0.0/16"]})


def test_ansible_host_is_a_host_name_choice_in_either_mode():
    inventory.check_choices(["ansible_host", "name"], {}, full=False)
    inventory.check_choices(["ansible_host"], {}, full=True)
