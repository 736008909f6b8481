# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a VM within one backend (VMMigration's within-one-backend kind): host to host, storage to storage.

Deciding what moves is pure (:func:`planner.plan_migration`); carrying it out walks
VMMigration's phases (:class:`PhaseLog`, :func:`carry_out`), so a result and a
failure both say how far the move got.  The backend does the move itself
(RelocateVM_Task, PVE's migrate, a libvirt pool copy) and, when it fails,
leaves the VM running where it was with nothing left on the target side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import PreconditionError, ProviderError, VirtrigaudError
from .planner import MIGRATION_WORDS, Action, Plan, Whereabouts
from .providers.base import ObservedVM, Provider, TaskRef
from .resilience import Clock
from .spec import Placement, VMSpec

# VMMigration's status.phase values, in order (reference/virtrigaud/crds/infra.virtrigaud.io_vmmigrations.yaml).
PHASES = ("Pending", "Validating", "Snapshotting", "Exporting", "Transferring", "Converting", "Importing",
          "Creating", "Validating-Target", "Ready", "Failed")
# The phases a move within one backend goes through: the backend transfers, nothing is exported or converted.
WITHIN_BACKEND = ("Pending", "Validating", "Transferring", "Validating-Target", "Ready")
# The phases a move across backends goes through (migration_across), in the order their work is done: the disk is
# converted before it travels, so that only the target's format crosses the network.
ACROSS_BACKENDS = ("Pending", "Validating", "Snapshotting", "Exporting", "Converting", "Transferring", "Importing",
                   "Creating", "Validating-Target", "Ready")


@dataclass
class PhaseLog:
    """The phases a migration went through, with when each began and how long it took, as a result shows them."""

    clock: Clock = time.time
    entries: list[dict[str, Any]] = field(default_factory=list)
    steps: tuple[str, ...] = WITHIN_BACKEND

    @property
    def phase(self) -> str:
        return self.entries[-1]["phase"] if self.entries else "Pending"

    def enter(self, phase: str) -> None:
        now = self.clock()
        if self.entries and self.entries[-1]["seconds"] is None:
            self.entries[-1]["seconds"] = round(now - self.entries[-1]["started"], 3)
        self.entries.append({"phase": phase, "started": now, "seconds": 0.0 if phase in ("Ready", "Failed")
                             else None})

    def to_dict(self) -> dict[str, Any]:
        """``phase``, ``progress`` (VMMigration's status.progress fields) and every phase passed."""
        steps = [p for p in self.steps if p != "Pending"]
        reached = steps.index(self.phase) + 1 if self.phase in steps else 0
        percentage = 100 if self.phase == "Ready" else int(100 * max(reached - 1, 0) / len(steps))
        return {
            "phase": self.phase,
            "progress": {"currentPhase": self.phase, "percentage": percentage},
            "phases": [dict(entry, started=_iso(entry["started"])) for entry in self.entries],
        }


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def check(provider: Provider, vm: ObservedVM, action: Action, prefix: str, log: Optional[PhaseLog] = None) -> None:
    """The Validating phase, in check mode as in a real run: the target exists and the move is allowed.

    Raises:
        SpecError: the target names something the backend does not have, naming ``prefix + key``.
        PreconditionError: the backend would refuse the move.
    """
    if log is not None:
        log.enter("Validating")
    failing(log, lambda: provider.check_migration(vm.id, action.options["target"], action.options["live"], prefix))


def carry_out(provider: Provider, vm_id: str, action: Action, log: PhaseLog, wait: bool,
              wait_task: Callable[[TaskRef], None]) -> None:
    """The Transferring and Validating-Target phases, after :func:`check`; ``log`` ends Ready, or Failed with the
    error raised, which then carries the phases in its details."""
    target: Placement = action.options["target"]
    log.enter("Transferring")
    failing(log, lambda: wait_task(provider.migrate(vm_id, target, action.options["live"])))
    if not wait:
        return
    log.enter("Validating-Target")
    failing(log, lambda: _arrived(provider, vm_id, action))
    log.enter("Ready")


def _arrived(provider: Provider, vm_id: str, action: Action) -> None:
    there = provider.elsewhere(action.options["target"])
    try:
        _arrived_at(there or provider, vm_id, action)
    finally:
        if there is not None:
            there.close()


def _arrived_at(provider: Provider, vm_id: str, action: Action) -> None:
    vm = provider.describe(vm_id)
    wanted = "On" if action.options["live"] else "Off"
    if vm is None:
        raise ProviderError("after the move the VM is gone, not %s as before" % wanted)
    where = provider.where(vm)
    missed = {key: getattr(where, key) for key in action.new if getattr(where, key) != action.new[key]}
    if missed:
        raise ProviderError("the backend reported the move done, but the VM is on %s"
                            % ", ".join("%s '%s'" % (MIGRATION_WORDS[k], v) for k, v in missed.items()))
    if vm.power_state != wanted:
        raise ProviderError("after the move the VM is %s, not %s as before" % (vm.power_state, wanted))


def failing(log: Optional[PhaseLog], step: Callable[[], None]) -> None:
    """Run ``step``; an error it raises ends ``log`` Failed and carries the phases in its details."""
    try:
        step()
    except VirtrigaudError as err:
        if log is not None:
            failed_in = log.phase
            log.enter("Failed")
            err.details.setdefault("failed_phase", failed_in)
            err.details.setdefault("migration", log.to_dict())
        raise


def whereabouts(provider: Provider, observed: Optional[ObservedVM], desired: Optional[VMSpec]) -> Optional[Whereabouts]:
    """Where an existing VM is, read only when the desired placement names a key its backend moves VMs between."""
    if observed is None or desired is None:
        return None
    if not any(getattr(desired.placement, key) for key in provider.migration_keys):
        return None
    return Whereabouts(provider.where(observed), provider.migration_keys, provider.type_name)


def check_plan(provider: Provider, observed: Optional[ObservedVM], plan: Plan, log: PhaseLog) -> None:
    """The Validating phase of a plan's ``migrate`` action, if it has one (``virtrigaud_vm``)."""
    for action in plan.actions:
        if action.action == "migrate" and observed is not None:
            _alone_to_another_connection(provider, plan, action)
            check(provider, observed, action, "placement.", log)


def _alone_to_another_connection(provider: Provider, plan: Plan, move: Action) -> None:
    """A move to another connection of the backend (libvirt: another libvirtd) is the run's only change: what
    follows it in the plan would be carried out where the VM no longer is."""
    there = provider.elsewhere(move.options["target"])
    if there is None:
        return
    there.close()
    others = sorted({action.action for action in plan.actions if action is not move})
    if others:
        raise PreconditionError("the move to host '%s' is made alone; this run would also %s: move the VM first, "
                                "then change it in another run" % (move.options["target"].host, ", ".join(others)),
                                vm=move.target, option="placement.host")
