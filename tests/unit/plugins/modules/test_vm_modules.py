# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three VM modules run in-process on the mock provider, as Ansible would run them."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import PreconditionError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.mock import MockProvider
from ansible_collections.virtrigaud.core.plugins.modules import (
    virtrigaud_vm,
    virtrigaud_vm_info,
    virtrigaud_vm_snapshot,
)

CANARY = "vr-canary-unit-7f3e"


@pytest.fixture
def connection(tmp_path):
    return {"provider_type": "mock", "uri": "mock://%s" % (tmp_path / "state.json"), "password": CANARY}


def run(module, capsys, args, check_mode=False, diff=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    out = capsys.readouterr().out
    assert CANARY not in out
    return json.loads(out)


VM = {"name": "web", "cpu": 2, "memory": "1Gi", "disks": [{"name": "data", "size": "5Gi"}],
      "networks": [{"name": "lan", "network": "default"}], "state": "started", "tags": ["unit"]}


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


def test_info_by_name_and_all(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    one = run(virtrigaud_vm_info, capsys, dict(connection, name="web"))
    assert [v["name"] for v in one["vms"]] == ["web"]
    assert run(virtrigaud_vm_info, capsys, dict(connection, name="nope"))["vms"] == []


def test_snapshot_module_present_reverted_absent(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    args = dict(connection, vm_name="web", name="base", include_memory=True)
    assert run(virtrigaud_vm_snapshot, capsys, args, check_mode=True)["changed"]
    taken = run(virtrigaud_vm_snapshot, capsys, args)
    assert taken["changed"] and taken["snapshot"]["has_memory"]
    assert not run(virtrigaud_vm_snapshot, capsys, args)["changed"]
    assert run(virtrigaud_vm_snapshot, capsys, dict(args, state="reverted"))["changed"]
    assert run(virtrigaud_vm_snapshot, capsys, dict(args, state="absent"))["changed"]
    assert not run(virtrigaud_vm_snapshot, capsys, dict(args, state="absent"))["changed"]


def test_absent_twice(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    gone = run(virtrigaud_vm, capsys, dict(connection, name="web", state="absent"))
    assert [c["action"] for c in gone["changes"]] == ["power_off", "delete"]
    assert not run(virtrigaud_vm, capsys, dict(connection, name="web", state="absent"))["changed"]


def test_unknown_provider_type_is_refused(connection, capsys):
    failed = run(virtrigaud_vm, capsys, dict(connection, provider_type="hyperv", name="web"))
    assert failed["failed"] and "provider_type" in failed["msg"]


def test_a_snapshot_the_backend_could_not_revert_is_refused_before_anything_changes(connection, capsys, monkeypatch):
    run(virtrigaud_vm, capsys, dict(connection, **VM))

    def refuse(provider, vm_id, include_memory=False):
        raise PreconditionError("QEMU could not load this memory state again", option="include_memory")

    monkeypatch.setattr(MockProvider, "check_snapshot", refuse)
    args = dict(connection, vm_name="web", name="base", include_memory=True)
    for check_mode in (True, False):
        refused = run(virtrigaud_vm_snapshot, capsys, args, check_mode=check_mode)
        assert refused["failed"] and refused["error_code"] == "failed_precondition"
        assert "include_memory" in refused["msg"]
    monkeypatch.undo()
    assert not run(virtrigaud_vm_snapshot, capsys, dict(args, state="absent"))["changed"]
