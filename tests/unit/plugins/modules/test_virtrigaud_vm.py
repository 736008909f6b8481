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
