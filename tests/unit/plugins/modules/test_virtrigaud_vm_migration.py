# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vm_migration, and virtrigaud_vm's allow_migration, run in-process on the mock provider."""

from __future__ import annotations

import json

from ansible_collections.virtrigaud.core.plugins.modules import (
    virtrigaud_vm,
    virtrigaud_vm_migration,
)

from .utils import VM, run


def test_a_move_is_predicted_made_and_then_left_alone(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM, placement={"host": "h1"}))
    args = dict(connection, vm_name="web", target={"host": "h2", "datastore": "fast"})
    runs = [run(virtrigaud_vm_migration, capsys, args, check_mode=check, diff=True)
            for check in (True, False, True, False)]
    assert [r["changed"] for r in runs] == [True, True, False, False]
    assert runs[0]["changes"] == runs[1]["changes"] == [
        {"action": "migrate", "target": "web", "old": {"host": "h1", "datastore": "mock-datastore"},
         "new": {"host": "h2", "datastore": "fast"}}]
    assert runs[0]["diff"] == runs[1]["diff"]
    assert runs[0]["migration"]["phase"] == "Validating"
    assert [p["phase"] for p in runs[1]["migration"]["phases"]] == [
        "Validating", "Transferring", "Validating-Target", "Ready"]
    assert runs[1]["migration"]["progress"] == {"currentPhase": "Ready", "percentage": 100}
    assert runs[3]["placement"] == {"host": "h2", "datastore": "fast"} and runs[3]["vm"]["power_state"] == "On"


def test_refusals_name_their_option(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    cases = [({"target": {"host": "h2", "provider_type": "proxmox"}}, "invalid_spec", "target.connection.api_host"),
             ({"target": {"host": "h2"}, "network_map": {"a": "b"}}, "invalid_spec", "network_map"),
             ({"target": {"host": "h2", "name": "x"}}, "invalid_spec", "target.name"),
             ({"target": {}}, "invalid_spec", "target"),
             ({"target": {"host": "missing-host"}}, "invalid_spec", "target.host"),
             ({"target": {"host": "h2"}, "online": False}, "failed_precondition", "online"),
             ({"target": {"provider_type": "proxmox"}, "online": False}, "invalid_spec", "online")]
    for extra, code, option in cases:
        failed = run(virtrigaud_vm_migration, capsys, dict(connection, vm_name="web", **extra))
        assert failed["failed"] and failed["error_code"] == code and failed["details"]["option"] == option, failed


def test_a_failed_validation_reports_the_failed_phase(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    failed = run(virtrigaud_vm_migration, capsys, dict(connection, vm_name="web", target={"datastore": "missing-x"}),
                 check_mode=True)
    assert failed["details"]["failed_phase"] == "Validating"
    assert failed["details"]["migration"]["phase"] == "Failed"


def test_virtrigaud_vm_moves_only_with_allow_migration(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM, placement={"host": "h1"}))
    moved = dict(connection, **VM, placement={"host": "h2"})
    refused = run(virtrigaud_vm, capsys, moved)
    assert refused["error_code"] == "unsupported" and refused["details"]["option"] == "placement.host"
    assert "allow_migration" in refused["msg"]
    runs = [run(virtrigaud_vm, capsys, dict(moved, allow_migration=True, cpu=3), check_mode=check)
            for check in (True, False, True, False)]
    assert [r["changed"] for r in runs] == [True, True, False, False]
    assert [c["action"] for c in runs[1]["changes"]] == ["migrate", "set_cpu"]
    assert runs[0]["changes"] == runs[1]["changes"]
    assert runs[1]["migration"]["phase"] == "Ready" and "migration" not in runs[3]


def test_a_target_secret_stays_out_of_the_result(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    secret = "vr-target-secret-1234"
    failed = run(virtrigaud_vm_migration, capsys, dict(connection, vm_name="web", target={
        "provider_type": "proxmox", "connection": {"api_password": secret, "uri": "https://127.0.0.1:1"}}))
    assert failed["failed"] and secret not in json.dumps(failed)
