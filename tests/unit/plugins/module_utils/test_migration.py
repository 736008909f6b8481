# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phases a move goes through, as results and failures report them (fake clock)."""

from __future__ import annotations

import itertools

from ansible_collections.virtrigaud.core.plugins.module_utils.migration import PHASES, WITHIN_BACKEND, PhaseLog


def log_at(*stamps):
    ticks = itertools.chain(stamps, itertools.repeat(stamps[-1]))
    return PhaseLog(clock=lambda: next(ticks))


def test_phases_are_vmmigrations_and_a_move_within_a_backend_uses_a_subset_in_order():
    assert PHASES[0] == "Pending" and PHASES[-2:] == ("Ready", "Failed") and "Validating-Target" in PHASES
    assert [p for p in PHASES if p in WITHIN_BACKEND] == list(WITHIN_BACKEND)


def test_each_phase_records_when_it_began_and_how_long_it_took():
    log = log_at(0.0, 0.5, 3.0, 3.25)
    for phase in ("Validating", "Transferring", "Validating-Target", "Ready"):
        log.enter(phase)
    report = log.to_dict()
    assert report["phase"] == "Ready" and report["progress"] == {"currentPhase": "Ready", "percentage": 100}
    assert [(p["phase"], p["seconds"]) for p in report["phases"]] == [
        ("Validating", 0.5), ("Transferring", 2.5), ("Validating-Target", 0.25), ("Ready", 0.0)]
    assert report["phases"][0]["started"] == "1970-01-01T00:00:00Z"


def test_progress_counts_the_phases_finished():
    log = log_at(0.0)
    assert log.to_dict()["phase"] == "Pending" and log.to_dict()["progress"]["percentage"] == 0
    log.enter("Validating")
    log.enter("Transferring")
    assert log.to_dict()["progress"] == {"currentPhase": "Transferring", "percentage": 25}
    log.enter("Failed")
    assert log.to_dict()["phase"] == "Failed"
