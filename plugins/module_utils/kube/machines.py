# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one reconcile of vitistack Machines does to each Machine and its VM (pure: no I/O).

Each Machine gets one :class:`MachineStep`: the VM action (create, update, delete, or none), whether the
collection's finalizer is added or removed, and why. Machines another controller owns are skipped; a Machine
that asks for what cannot be made fails alone, with the reason in its status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..providers.base import ObservedVM
from ..spec import VMSpec
from .machine_translate import FINALIZER, MachineRefused, Ref, made_for, other_controller, ref_of, revision_of

VANISHED = ("recreate", "fail")
# VM actions, in the order the runner carries them out.
ACTIONS = ("delete", "create", "update")


@dataclass(frozen=True)
class MachineStep:
    """What happens to one Machine. ``member`` (namespace/name) keys its outcome in the runner."""

    ref: Ref
    action: Optional[str] = None
    reason: str = ""
    desired: Optional[VMSpec] = None
    vm: Optional[ObservedVM] = None
    finalizer: Optional[str] = None
    failure: Optional[tuple[str, str]] = None
    skipped: Optional[str] = None
    changes: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def member(self) -> str:
        return self.ref.key

    @property
    def deleting(self) -> bool:
        return self.action == "delete" or (self.finalizer == "remove")

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.ref.key, "action": self.action, "reason": self.reason, "finalizer": self.finalizer,
                "failure_reason": self.failure[0] if self.failure else None, "changes": list(self.changes)}


def decide(machine: Mapping[str, Any], vm: Optional[ObservedVM], desired: Any, on_vanished: str) -> MachineStep:
    """The step for one Machine, from its VM (found by name in one bulk listing) and what it asks.

    ``desired`` is the VM spec, or the :class:`MachineRefused` that translating the Machine raised.
    """
    ref = ref_of(machine)
    metadata = machine.get("metadata") or {}
    owner = other_controller(machine)
    if owner is not None:
        return MachineStep(ref, skipped="owned by another controller (%s)" % owner)
    ours = FINALIZER in (metadata.get("finalizers") or ())
    mine = vm if vm is not None and made_for(vm.tags, ref) else None
    if metadata.get("deletionTimestamp"):
        if not ours:
            return MachineStep(ref, skipped="being deleted, and not by this collection's finalizer")
        if mine is not None:
            return MachineStep(ref, "delete", "the Machine is being deleted", vm=mine, finalizer="remove")
        return MachineStep(ref, None, "the Machine is being deleted and has no VM", finalizer="remove")
    if vm is not None and mine is None:
        return _failed(ref, vm, ("VMNameTaken", "a VM named %s exists that was not made for a Machine of namespace "
                                 "%s; it is left alone" % (ref.name, ref.namespace)))
    if isinstance(desired, MachineRefused):
        return _failed(ref, mine, (desired.reason, desired.message))
    add = None if ours else "add"
    if mine is None:
        known = (machine.get("status") or {}).get("machineID")
        if ours and known:
            if on_vanished == "fail":
                return _failed(ref, None, ("VMVanished", "the VM %s was removed behind the Machine's back" % known))
            return MachineStep(ref, "create", "the VM vanished; made again", desired, finalizer=add)
        return MachineStep(ref, "create", "new Machine", desired, finalizer=add)
    if revision_of(mine.tags) != revision_of(desired.tags) or mine.power_state != desired.power_state:
        return MachineStep(ref, "update", "the Machine changed", desired, mine, finalizer=add)
    return MachineStep(ref, None, "", desired, mine, finalizer=add)


def _failed(ref: Ref, vm: Optional[ObservedVM], failure: tuple[str, str]) -> MachineStep:
    return MachineStep(ref, None, failure[1], vm=vm, failure=failure)


def refused(step: MachineStep, reason: str, message: str) -> MachineStep:
    """The step of a Machine the backend refused before anything was done: no VM action, no finalizer."""
    return MachineStep(step.ref, None, message, vm=step.vm if step.action == "update" else None,
                       failure=(reason, message))


def with_changes(step: MachineStep, changes: list[dict[str, Any]]) -> MachineStep:
    return MachineStep(step.ref, step.action if changes else None, step.reason if changes else "", step.desired,
                       step.vm, step.finalizer, step.failure, step.skipped, tuple(changes))


def reason_of(error_code: str) -> str:
    """A status reason (CamelCase) from the collection's error code: ``invalid_spec`` → ``InvalidSpec``."""
    return "".join(part.capitalize() for part in error_code.split("_")) or "Failed"
