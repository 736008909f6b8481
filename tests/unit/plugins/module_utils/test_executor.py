# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The executor carries plans out, here on the mock provider."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    DeadlineExceededError,
    PreconditionError,
    UnsupportedError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.executor import Executor
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import Policy, plan
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    PowerOp,
    ProviderConfig,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.mock import MockProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

SPEC = parse_vm({"name": "web", "cpu": 2, "memory": "1Gi", "disks": [{"name": "data", "size": "5Gi"}],
                 "networks": [{"name": "lan", "network": "default"}], "tags": ["t"]})


@pytest.fixture
def provider():
    return MockProvider(ProviderConfig(type="mock"))


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
