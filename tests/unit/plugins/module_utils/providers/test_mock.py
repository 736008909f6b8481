# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mock provider honours the contract."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    ConflictError,
    NotFoundError,
    PreconditionError,
    SpecError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    PowerOp,
    ProviderConfig,
    Reconfiguration,
    TaskRef,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.mock import MockProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import PROVIDER_TYPES, open_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import DiskSpec, parse_vm

SPEC = parse_vm({"name": "web", "cpu": 2, "memory": "1Gi", "disks": [{"name": "data", "size": "5Gi"}],
                 "networks": [{"name": "lan", "network": "default"}], "tags": ["t"]})


@pytest.fixture
def provider():
    return MockProvider(ProviderConfig(type="mock"))


def test_registry_knows_its_types_and_refuses_others():
    assert {"libvirt", "mock"} <= set(PROVIDER_TYPES)
    with pytest.raises(SpecError) as caught:
        open_provider(ProviderConfig(type="hyperv"))
    assert caught.value.option == "provider_type"


def test_create_is_idempotent_by_name(provider):
    first, task = provider.create(SPEC)
    assert task == TaskRef()
    assert provider.create(SPEC)[0] == first
    vm = provider.find("web")
    assert (vm.id, vm.power_state, vm.cpu, vm.memory_mib) == (first, "Off", 2, 1024)
    assert [d.name for d in vm.disks] == ["root", "data"]
    assert provider.describe("nope") is None and provider.find("nope") is None


def test_power_and_delete(provider):
    vm_id = provider.create(SPEC)[0]
    provider.power(vm_id, PowerOp.ON)
    assert provider.describe(vm_id).ip_addresses
    with pytest.raises(PreconditionError):
        provider.delete(vm_id)
    provider.power(vm_id, PowerOp.SHUTDOWN_GRACEFUL)
    provider.delete(vm_id)
    assert provider.list_vms() == []
    assert provider.delete(vm_id) == TaskRef()


def test_reconfigure_respects_the_hotplug_ceiling(provider):
    vm_id = provider.create(SPEC)[0]
    provider.power(vm_id, PowerOp.ON)
    provider.reconfigure(vm_id, Reconfiguration(cpu=4, disk_sizes_gib={"data": 8}, add_disks=(DiskSpec("logs", 1),),
                                                tags=("a", "b"), live=True))
    vm = provider.describe(vm_id)
    assert (vm.cpu, vm.disk("data").size_gib, vm.disk("logs").size_gib, vm.tags) == (4, 8, 1, ("a", "b"))
    with pytest.raises(PreconditionError):
        provider.reconfigure(vm_id, Reconfiguration(memory_mib=64 * 1024, live=True))


def test_snapshots_revert_state(provider):
    vm_id = provider.create(SPEC)[0]
    provider.snapshot_create(vm_id, "base", "first")
    provider.reconfigure(vm_id, Reconfiguration(cpu=3))
    provider.snapshot_revert(vm_id, "base")
    assert provider.describe(vm_id).cpu == 2
    assert [s.name for s in provider.snapshot_list(vm_id)] == ["base"]
    with pytest.raises(NotFoundError):
        provider.snapshot_revert(vm_id, "other")
    provider.snapshot_delete(vm_id, "base")
    provider.snapshot_delete(vm_id, "base")
    assert provider.snapshot_list(vm_id) == []


def test_clone_gets_new_identity_and_refuses_taken_names(provider):
    vm_id = provider.create(SPEC)[0]
    copy_id = provider.clone(vm_id, "copy", linked=True)[0]
    source, copy = provider.describe(vm_id), provider.describe(copy_id)
    assert copy.name == "copy" and copy.cpu == source.cpu
    assert copy.nics[0].mac_address != source.nics[0].mac_address
    with pytest.raises(ConflictError):
        provider.clone(vm_id, "copy")


def test_missing_things_are_spec_errors(provider):
    with pytest.raises(SpecError) as caught:
        provider.check_spec(parse_vm({"name": "x", "image": "missing-image"}))
    assert caught.value.option == "image"


def test_state_file_is_shared_between_instances(tmp_path):
    uri = "mock://%s" % (tmp_path / "state.json")
    vm_id = MockProvider(ProviderConfig(type="mock", uri=uri)).create(SPEC)[0]
    assert MockProvider(ProviderConfig(type="mock", uri=uri)).describe(vm_id).name == "web"
