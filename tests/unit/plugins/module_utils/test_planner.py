# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner decides everything a run will do; these tests pin those decisions."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import NotFoundError, PreconditionError, SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import (
    Policy,
    parse_snapshot_name,
    plan,
    plan_snapshot,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    Capabilities,
    ObservedDisk,
    ObservedNIC,
    ObservedVM,
    Snapshot,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

ONLINE = Capabilities(supports_reconfigure_online=True, supports_disk_expansion_online=True,
                      supports_linked_clones=True, supports_memory_snapshots=True)
OFFLINE = Capabilities()


def observed(power="On", cpu=2, memory=1024, max_cpu=8, max_memory=4096, data_gib=10, nics=1, tags=("a",)):
    return ObservedVM(
        id="vm-1", name="web", power_state=power, cpu=cpu, memory_mib=memory, max_cpu=max_cpu,
        max_memory_mib=max_memory, firmware="bios",
        disks=(ObservedDisk("root", 20), ObservedDisk("data", data_gib)),
        nics=tuple(ObservedNIC("nic%d" % i) for i in range(nics)), tags=tags,
    )


def desired(**params):
    base = {"name": "web", "cpu": 2, "memory": "1Gi", "disk_defaults": {"size": "20Gi"},
            "disks": [{"name": "data", "size": "10Gi"}], "networks": [{"name": "nic0", "network": "default"}],
            "tags": ["a"]}
    base.update(params)
    return parse_vm(base)


def kinds(result):
    return [a.action for a in result.actions]


def test_nothing_exists_so_create_and_start():
    result = plan(desired(), None, Policy(state="started"), ONLINE)
    assert kinds(result) == ["create", "power_on"]
    assert result.before is None and result.after["power_state"] == "On"


def test_create_stopped_does_not_start():
    assert kinds(plan(desired(), None, Policy(state="stopped"), ONLINE)) == ["create"]


@pytest.mark.parametrize("state, power", [("present", "On"), ("present", "Off"), ("started", "On"), ("stopped", "Off")])
def test_matching_vm_means_no_actions(state, power):
    result = plan(desired(), observed(power=power), Policy(state=state), ONLINE)
    assert not result.changed
    assert result.diff["before"] == result.diff["after"]


def test_growth_within_the_ceiling_happens_online():
    result = plan(desired(cpu=4, memory="2Gi", disks=[{"name": "data", "size": "20Gi"}]), observed(), Policy(), ONLINE)
    assert kinds(result) == ["set_cpu", "set_memory", "resize_disk"]
    assert all(a.options["live"] for a in result.actions)
    assert not result.power_cycle
    assert (result.after["cpu"], result.after["memory_mib"], result.after["disks"][0]["size_gib"]) == (4, 2048, 20)


def test_growth_beyond_the_ceiling_is_refused_without_power_cycling():
    with pytest.raises(PreconditionError) as caught:
        plan(desired(memory="8Gi"), observed(), Policy(), ONLINE)
    assert caught.value.option == "allow_power_cycling"
    assert "set_memory" in caught.value.message


def test_growth_beyond_the_ceiling_power_cycles_when_allowed():
    result = plan(desired(memory="8Gi"), observed(), Policy(allow_power_cycling=True), ONLINE)
    assert kinds(result) == ["power_off", "set_memory", "power_on"]
    assert result.power_cycle
    assert not result.actions[1].options["live"]


def test_a_backend_without_online_changes_needs_a_power_cycle():
    with pytest.raises(PreconditionError):
        plan(desired(cpu=3), observed(), Policy(), OFFLINE)


def test_a_stopped_vm_is_changed_offline_without_permission():
    result = plan(desired(cpu=16), observed(power="Off"), Policy(), OFFLINE)
    assert kinds(result) == ["set_cpu"]
    assert not result.power_cycle


def test_stopping_then_changing_needs_no_permission():
    result = plan(desired(memory="8Gi"), observed(), Policy(state="stopped", shutdown_mode="hard"), ONLINE)
    assert kinds(result) == ["power_off", "set_memory"]
    assert result.actions[0].options["mode"] == "hard"


def test_disks_never_shrink():
    with pytest.raises(SpecError) as caught:
        plan(desired(disks=[{"name": "data", "size": "5Gi"}]), observed(), Policy(), ONLINE)
    assert caught.value.option == "disks[0].size"


def test_new_disks_and_nics_are_added():
    result = plan(desired(disks=[{"name": "data", "size": "10Gi"}, {"name": "logs", "size": "5Gi"}],
                          networks=[{"name": "nic0"}, {"name": "backup", "network": "b"}]),
                  observed(), Policy(), ONLINE)
    assert kinds(result) == ["add_disk", "add_network"]
    assert result.after["networks"] == 2


def test_tags_are_compared_as_sets():
    assert not plan(desired(tags=["a"]), observed(tags=("a",)), Policy(), ONLINE).changed
    result = plan(desired(tags=["b", "a"]), observed(tags=("a",)), Policy(), ONLINE)
    assert kinds(result) == ["set_tags"]
    assert result.actions[0].new == ["a", "b"]


def test_restarted_always_acts():
    assert kinds(plan(desired(), observed(), Policy(state="restarted"), ONLINE)) == ["reboot"]
    assert kinds(plan(desired(), observed(power="Off"), Policy(state="restarted"), ONLINE)) == ["power_on"]


@pytest.mark.parametrize("power, expected", [("On", ["power_off", "delete"]), ("Off", ["delete"])])
def test_absent_stops_hard_then_deletes(power, expected):
    result = plan(None, observed(power=power), Policy(state="absent", delete_disks=False), ONLINE)
    assert kinds(result) == expected
    assert result.actions[-1].options["delete_disks"] is False
    assert result.after is None


def test_absent_and_gone_is_a_no_op():
    assert not plan(None, None, Policy(state="absent"), ONLINE).changed


def test_clone_then_adjust_the_copy():
    source = observed(power="Off")
    result = plan(desired(cpu=1), None, Policy(state="started", clone_from="web-src", linked_clone=True), ONLINE, source)
    assert kinds(result) == ["clone", "set_cpu", "power_on"]
    assert result.actions[0].options == {"source_id": "vm-1", "linked": True}


def test_clone_needs_a_source_and_linked_support():
    with pytest.raises(SpecError) as caught:
        plan(desired(), None, Policy(clone_from="nope"), ONLINE, None)
    assert caught.value.option == "clone_from"
    with pytest.raises(SpecError) as caught:
        plan(desired(), None, Policy(clone_from="web", linked_clone=True), OFFLINE, observed(power="Off"))
    assert caught.value.option == "linked_clone"


SNAP = Snapshot(id="s-1", name="base", description="d")


def test_snapshot_create_is_skipped_when_it_exists():
    assert kinds(plan_snapshot("present", "base", observed(), [])) == ["snapshot_create"]
    assert not plan_snapshot("present", "base", observed(), [SNAP]).changed


def test_memory_is_only_in_snapshots_of_running_vms():
    assert plan_snapshot("present", "s", observed(), [], include_memory=True).after["has_memory"]
    assert not plan_snapshot("present", "s", observed(power="Off"), [], include_memory=True).after["has_memory"]


def test_memory_snapshots_need_the_capability():
    with pytest.raises(SpecError) as caught:
        plan_snapshot("present", "s", observed(), [], include_memory=True, capabilities=OFFLINE)
    assert caught.value.option == "include_memory"


def test_snapshot_delete_and_revert():
    assert kinds(plan_snapshot("absent", "base", observed(), [SNAP])) == ["snapshot_delete"]
    assert not plan_snapshot("absent", "base", observed(), []).changed
    assert not plan_snapshot("absent", "base", None, []).changed
    assert kinds(plan_snapshot("reverted", "base", observed(), [SNAP])) == ["snapshot_revert"]
    with pytest.raises(NotFoundError):
        plan_snapshot("reverted", "other", observed(), [SNAP])
    with pytest.raises(NotFoundError):
        plan_snapshot("present", "base", None, [])


@pytest.mark.parametrize("name, ok", [("base", True), ("before-change_2", True), ("1st", False), ("a b", False),
                                      ("x" * 41, False), (None, False)])
def test_snapshot_names(name, ok):
    if ok:
        assert parse_snapshot_name(name) == name
    else:
        with pytest.raises(SpecError):
            parse_snapshot_name(name)
