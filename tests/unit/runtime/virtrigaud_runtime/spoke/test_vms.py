# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from virtrigaud_runtime.spoke import vms

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    ObservedDisk,
    ObservedNIC,
    ObservedVM,
)

CATALOGUE = {"ubuntu": "registry.example.com/ubuntu:22.04"}


def test_payload_onto_the_spec():
    spec = vms.create_spec({"name": "web", "namespace": "team", "template_name": "ubuntu", "cpu": 2,
                            "memory": "2Gi", "storage": "20Gi", "labels": {"app": "web"}, "annotations": {},
                            "network_name": "lan"}, CATALOGUE)
    assert (spec.cpu, spec.memory_mib, spec.root_disk_gib, spec.image) == (2, 2048, 20, CATALOGUE["ubuntu"])
    assert spec.tags == ("app=web",) and spec.networks[0].network == "lan"


@pytest.mark.parametrize("payload,option", [
    ({"name": "web", "template_name": "windows"}, "template_name"),
    ({"name": "web", "storage": "lots"}, "storage"),
    ({"name": "web", "network_name": 5}, "network_name"),
    ({"name": "web", "annotations": {"a": "b"}}, "annotations"),
    ({"name": "web", "labels": ["a"]}, "labels"),
    ({"name": "web", "memory": "1.5Ki"}, "memory"),
])
def test_bad_payloads_name_the_payload_field(payload, option):
    with pytest.raises(SpecError) as raised:
        vms.create_spec(payload, CATALOGUE)
    assert raised.value.option.startswith(option)


def test_vm_status():
    vm = ObservedVM(id="team/web", name="web", power_state="On", cpu=2, memory_mib=2048,
                    disks=(ObservedDisk("root", 20),), nics=(ObservedNIC("nic0", ip_addresses=("10.0.0.5",)),),
                    tags=("app=web", "flag"), details={"namespace": "team", "node": "node-1"})
    status = vms.vm_status(vm, "default", "2025-01-01T00:00:00Z")
    assert status["namespace"] == "team" and status["node_name"] == "node-1" and status["ip_address"] == "10.0.0.5"
    assert (status["status"], status["cpu"], status["memory"], status["storage"]) == ("running", "2", "2048Mi", "20Gi")
    assert status["labels"] == {"app": "web", "flag": ""}
