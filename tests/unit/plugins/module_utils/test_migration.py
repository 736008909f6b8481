# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phases a move goes through, as results and failures report them (fake clock); a VM followed to the
connection a move took it to."""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    NotFoundError,
    PreconditionError,
    UnavailableError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.migration import (
    PHASES,
    WITHIN_BACKEND,
    PhaseLog,
    check_plan,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import Action, Plan
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ObservedVM
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import Placement


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


class Connection:
    """A provider's lookups and its ``elsewhere``: ``vms`` by name, ``others`` by the host they reach."""

    def __init__(self, vms=(), others=None):
        self.vms = {vm.name: vm for vm in vms}
        self.others = others or {}
        self.warnings = []
        self.closed = False

    def find(self, name):
        return self.vms.get(name)

    def describe(self, vm_id):
        return next((vm for vm in self.vms.values() if vm.id == vm_id), None)

    def elsewhere(self, target):
        return self.others.get(target.host)

    def close(self):
        self.closed = True


def run_on(provider):
    run = VirtrigaudRun({}, False, False, lambda _msg: None)
    run._provider = provider  # pylint: disable=protected-access  # the connection a task would have opened
    return run


def test_a_vm_moved_to_another_connection_is_found_there_and_the_run_serves_from_there():
    moved = ObservedVM(id="u1", name="db", power_state="On")
    there = Connection([moved])
    here = Connection(others={"qemu+ssh://b/system": there})
    here.warnings.append("old volumes left")
    run = run_on(here)
    assert run.locate("db", None, moved_to=Placement(host="qemu+ssh://b/system")) is moved
    assert run.provider is there and here.closed and there.warnings == ["old volumes left"]


def test_a_vm_found_nowhere_is_none_by_name_and_refused_by_id():
    there = Connection()
    run = run_on(Connection(others={"b": there}))
    assert run.locate("db", None, moved_to=Placement(host="b")) is None
    assert there.closed and not run.provider.closed
    with pytest.raises(NotFoundError) as err:
        run.locate(None, "u1", "vm_id", moved_to=Placement(host="b"))
    assert err.value.option == "vm_id"


def test_a_move_to_another_connection_is_the_plans_only_change():
    here = Connection(others={"b": Connection()})
    move = Action("migrate", "db", {"host": "a"}, {"host": "b"}, {"target": Placement(host="b"), "live": False})
    with pytest.raises(PreconditionError) as err:
        check_plan(here, ObservedVM(id="u1", name="db", power_state="Off"),
                   Plan((move, Action("power_on", "db", "Off", "On")), {}, {}), PhaseLog())
    assert err.value.option == "placement.host" and "power_on" in err.value.msg


class Silent(Connection):
    def find(self, name):
        raise UnavailableError("connection refused")


def test_a_connection_that_does_not_answer_is_named_by_the_option_that_gave_it():
    there = Silent()
    with pytest.raises(UnavailableError) as err:
        run_on(Connection(others={"b": there})).locate("db", None, moved_to=Placement(host="b"),
                                                       host_option="target.host")
    assert err.value.option == "target.host" and there.closed
