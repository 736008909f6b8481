# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VirtualMachine objects: what is written from the spec, and what the manager cannot do."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import vm
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm


def vm_spec(**changes):
    base = {"name": "web", "cpu": 2, "memory": "2Gi", "image": "9000",
            "networks": [{"name": "lan", "bridge": "vmbr0"}, {"name": "mgmt"}],
            "cloud_init": {"user_data": "#cloud-config\n", "meta_data": None, "network_config": None}}
    base.update(changes)
    return parse_vm(base, "On")


def test_vm_objects_follow_the_provider_type():
    objects = vm.vm_objects(vm_spec(), "apps", vm.References("pve", "infra", "proxmox"))
    kinds = [obj["kind"] for obj in objects]
    assert kinds == ["VMClass", "VMImage", "VMNetworkAttachment", "Secret", "VirtualMachine"]
    assert objects[0]["spec"]["memory"] == "2048Mi"
    assert objects[1]["spec"]["source"] == {"proxmox": {"templateID": 9000}}
    assert objects[2]["spec"]["network"]["proxmox"] == {"bridge": "vmbr0"}
    machine = objects[-1]["spec"]
    assert machine["providerRef"] == {"name": "pve", "namespace": "infra"}
    assert machine["networks"] == [{"name": "lan", "networkRef": {"name": "web-lan"}}, {"name": "mgmt"}]
    assert machine["powerState"] == "On"


def test_vm_objects_need_a_class():
    with pytest.raises(SpecError) as caught:
        vm.vm_objects(vm_spec(cpu=None), "apps", vm.References("pve", None, "proxmox"))
    assert caught.value.option == "cpu"
    objects = vm.vm_objects(vm_spec(cpu=None), "apps", vm.References("pve", None, "proxmox", class_name="small"))
    assert objects[-1]["spec"]["classRef"] == {"name": "small"}


def test_observed_reads_the_status():
    assert vm.observed({"metadata": {"name": "web"}, "status": {}}) is None
    seen = vm.observed({"metadata": {"name": "web"}, "status": {"id": "101", "powerState": "On", "ips": ["10.0.0.5"]}})
    assert seen["ip_addresses"] == ["10.0.0.5"] and seen["id"] == "101"


@pytest.mark.parametrize("changes, option", [
    ({"state": "restarted"}, "state"),
    ({"id": "vm-1"}, "id"),
    ({"clone_from": "golden"}, "clone_from"),
    ({"linked_clone": True}, "linked_clone"),
    ({"allow_power_cycling": True}, "allow_power_cycling"),
    ({"delete_disks": False}, "delete_disks"),
    ({"shutdown_timeout": 30}, "shutdown_timeout"),
    ({"shutdown_mode": "graceful_then_hard"}, "shutdown_mode"),
    ({"placement": {"host": "esx-1"}}, "placement.host"),
    ({"placement": {"resource_pool": "gold"}}, "placement.resource_pool"),
    ({"networks": [{"name": "lan", "network": "default", "mac_address": "52:54:00:00:00:01"}]},
     "networks[0].mac_address"),
    ({"cloud_init": {"user_data": "#cloud-config\n", "network_config": "version: 2\n"}}, "cloud_init.network_config"),
])
def test_what_the_manager_cannot_do_is_refused_by_name(changes, option):
    params = dict(LIFECYCLE_DEFAULTS, **changes)
    with pytest.raises(SpecError) as caught:
        vm.check_resource_options(params, vm_spec(**{k: v for k, v in changes.items() if k in SPEC_KEYS}))
    assert caught.value.option == option


def test_defaults_are_accepted_and_a_stop_is_graceful_unless_hard():
    vm.check_resource_options(LIFECYCLE_DEFAULTS, vm_spec())
    vm.check_resource_options(LIFECYCLE_DEFAULTS, None)
    assert vm.resource_power_state("stopped", "graceful") == "OffGraceful"
    assert vm.resource_power_state("stopped", "hard") == "Off"
    assert vm.resource_power_state("started", "graceful") == "On"
    assert vm.resource_power_state("present", "graceful") is None


LIFECYCLE_DEFAULTS = {"state": "present", "id": None, "clone_from": None, "linked_clone": False,
                      "allow_power_cycling": False, "delete_disks": True, "shutdown_timeout": 120,
                      "shutdown_mode": "graceful"}
SPEC_KEYS = ("placement", "networks", "cloud_init")
