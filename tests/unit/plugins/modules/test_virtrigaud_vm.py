# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vm run in-process on the mock provider, as Ansible would run it."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.modules import (
    virtrigaud_vm,
    virtrigaud_vm_info,
)

from .utils import VM, run


def test_create_predict_apply_repeat(connection, capsys):
    args = dict(connection, **VM)
    predicted = run(virtrigaud_vm, capsys, args, check_mode=True, diff=True)
    assert predicted["changed"]
    assert [c["action"] for c in predicted["changes"]] == ["create", "power_on"]
    created = run(virtrigaud_vm, capsys, args, diff=True)
    assert created["changes"] == predicted["changes"]
    assert created["diff"] == predicted["diff"]
    assert created["vm"]["power_state"] == "On" and created["vm"]["memory_mib"] == 1024
    again = run(virtrigaud_vm, capsys, args)
    assert not again["changed"] and again["changes"] == []


def test_bad_input_fails_naming_the_option_and_touches_nothing(connection, capsys):
    failed = run(virtrigaud_vm, capsys, dict(connection, name="web", memory="4GB"))
    assert failed["failed"] and "memory" in failed["msg"] and "'4Gi'" in failed["msg"]
    listed = run(virtrigaud_vm_info, capsys, connection)
    assert listed["vms"] == []


def test_power_cycle_needs_permission(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    refused = run(virtrigaud_vm, capsys, dict(connection, **dict(VM, memory="64Gi")))
    assert refused["failed"] and refused["error_code"] == "failed_precondition"
    assert "allow_power_cycling" in refused["msg"]
    done = run(virtrigaud_vm, capsys, dict(connection, allow_power_cycling=True, **dict(VM, memory="64Gi")))
    assert done["power_cycled_for_update"] and done["vm"]["memory_mib"] == 64 * 1024


def test_absent_twice(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    gone = run(virtrigaud_vm, capsys, dict(connection, name="web", state="absent"))
    assert [c["action"] for c in gone["changes"]] == ["power_off", "delete"]
    assert not run(virtrigaud_vm, capsys, dict(connection, name="web", state="absent"))["changed"]


def test_unknown_provider_type_is_refused(connection, capsys):
    failed = run(virtrigaud_vm, capsys, dict(connection, provider_type="hyperv", name="web"))
    assert failed["failed"] and "provider_type" in failed["msg"]


def test_a_placement_policy_picks_the_host_and_leaves_an_existing_vm_where_it_is(connection, capsys):
    policy = {"anti_affinity": [{"labels": {"app": "web"}, "required": True}], "preferred_hosts": ["mock-2"]}
    args = dict(connection, **dict(VM, tags=["app.web"], placement_policy=policy))
    predicted = run(virtrigaud_vm, capsys, args, check_mode=True)
    created = run(virtrigaud_vm, capsys, args)
    assert predicted["placement"] == created["placement"] == {"policy": "placement_policy", "hosts": {"web": "mock-2"},
                                                              "unmoved": []}
    assert created["vm"]["placement"]["host"] == "mock-2"
    moved_away = dict(policy, excluded_hosts=["mock-2"])
    kept = run(virtrigaud_vm, capsys, dict(args, placement_policy=moved_away))
    assert not kept["changed"] and kept["placement"]["unmoved"] == [
        {"name": "web", "host": "mock-2", "rule": "placement_policy.excluded_hosts"}]
    second = run(virtrigaud_vm, capsys, dict(args, name="web2"), check_mode=True)
    assert second["placement"]["hosts"] == {"web2": "mock-1"}


def test_a_placement_policy_no_host_satisfies_is_refused_before_anything_is_made(connection, capsys):
    args = dict(connection, **dict(VM, placement_policy={"hosts": ["mock-1"], "excluded_hosts": ["mock-1"]}))
    refused = run(virtrigaud_vm, capsys, args)
    assert refused["failed"] and refused["error_code"] == "failed_precondition"
    assert "placement_policy.hosts" in refused["msg"]
    assert run(virtrigaud_vm_info, capsys, connection)["vms"] == []
    both = run(virtrigaud_vm, capsys, dict(args, placement_policy_ref={"name": "p"}))
    assert both["failed"] and "placement_policy_ref" in both["msg"]
