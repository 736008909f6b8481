# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mock provider honours the contract, and the executor carries plans out on it."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    ConflictError,
    DeadlineExceededError,
    NotFoundError,
    PreconditionError,
    SpecError,
    UnsupportedError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.executor import Executor
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import Policy, plan
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    PowerOp,
    ProviderConfig,
    Reconfiguration,
    TaskRef,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.mock import MockProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import PROVIDER_TYPES, open_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline
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


def run(provider, desired, policy, **executor_args):
    observed = provider.find(desired.name if desired else "web")
    the_plan = plan(desired, observed, policy, provider.capabilities())
    executor = Executor(provider, Deadline(30), vm_id=observed.id if observed else None, **executor_args)
    return the_plan, executor.apply(the_plan)


def test_executor_does_the_plan_and_a_second_plan_is_empty(provider):
    the_plan, done = run(provider, SPEC, Policy(state="started"))
    assert done == list(the_plan.actions)
    assert not run(provider, SPEC, Policy(state="started"))[0].changed


def test_executor_batches_online_changes_into_one_reconfigure(provider):
    run(provider, SPEC, Policy(state="started"))
    calls = []
    original = provider.reconfigure
    provider.reconfigure = lambda vm_id, change: calls.append(change) or original(vm_id, change)
    desired = parse_vm({"name": "web", "cpu": 3, "memory": "2Gi", "disks": [{"name": "data", "size": "6Gi"}],
                        "tags": ["t", "u"]})
    the_plan, done = run(provider, desired, Policy())
    assert len(done) == 4 and len(calls) == 1
    assert calls[0].live and calls[0].cpu == 3 and calls[0].tags == ("t", "u")


def test_graceful_then_hard_falls_back_when_the_guest_ignores_the_button(provider):
    run(provider, SPEC, Policy(state="started"))
    original = provider.power

    def stubborn(vm_id, op, graceful_timeout=60):
        if op is PowerOp.SHUTDOWN_GRACEFUL:
            raise DeadlineExceededError("ignored")
        return original(vm_id, op, graceful_timeout)

    provider.power = stubborn
    run(provider, SPEC, Policy(state="stopped", shutdown_mode="graceful_then_hard"))
    assert provider.find("web").power_state == "Off"


def test_failures_say_what_was_done_and_what_failed(provider):
    run(provider, SPEC, Policy(state="stopped"))

    def broken(vm_id, op, graceful_timeout=60):
        raise PreconditionError("no power today")

    provider.power = broken
    desired = parse_vm({"name": "web", "cpu": 3})
    with pytest.raises(PreconditionError) as caught:
        run(provider, desired, Policy(state="started"))
    details = caught.value.details
    assert [a["action"] for a in details["completed_actions"]] == ["set_cpu"]
    assert details["failed_action"]["action"] == "power_on"
    assert caught.value.operation == "power_on"


def test_nic_changes_converge_in_one_reconfigure_and_keep_the_names(provider):
    start = parse_vm({"name": "web", "networks": [{"name": "lan", "network": "default"},
                                                  {"name": "backup", "bridge": "br0"}]})
    run(provider, start, Policy(state="started"))
    calls = []
    original = provider.reconfigure
    provider.reconfigure = lambda vm_id, change: calls.append(change) or original(vm_id, change)
    desired = parse_vm({"name": "web", "networks": [
        {"name": "lan", "network": "other", "mac_address": "52:54:00:00:00:aa", "ip_address": "192.0.2.40",
         "gateway": "192.0.2.1"},
        {"name": "wan", "bridge": "br1"}]})
    the_plan, done = run(provider, desired, Policy())
    assert [a.action for a in done] == ["remove_network", "set_network", "set_mac_address", "set_ip_address",
                                        "add_network"]
    assert len(calls) == 1 and calls[0].live
    assert [(c.network.name, c.fields) for c in calls[0].change_networks] == [
        ("lan", ("network", "mac_address", "ip_address"))]
    assert calls[0].remove_networks == ("backup",) and calls[0].networks == desired.networks
    vm = provider.find("web")
    assert [(n.name, n.network, n.bridge) for n in vm.nics] == [("lan", "other", None), ("wan", None, "br1")]
    assert (vm.nics[0].mac_address, vm.nics[0].static_ip, vm.nics[0].ip_addresses) == (
        "52:54:00:00:00:aa", "192.0.2.40/24", ("192.0.2.40",))
    again = run(provider, desired, Policy())[0]
    assert not again.changed
    assert the_plan.after["networks"][0] == again.before["networks"][0]  # the diff predicted the NIC changed in place


def test_placement_is_recorded_and_a_move_refused(provider):
    run(provider, SPEC, Policy(state="stopped"))
    assert provider.find("web").placement.datastore == "mock-datastore"
    with pytest.raises(UnsupportedError) as caught:
        run(provider, parse_vm({"name": "web", "placement": {"datastore": "fast"}}), Policy())
    assert caught.value.option == "placement.datastore"
