# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a plan on a provider, in order, waiting for each backend task.

On a failure the error says which actions completed and which one failed, so
nothing is left half-done without the user being told.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from . import migration
from .errors import DeadlineExceededError, PreconditionError, ProviderError, VirtrigaudError
from .planner import RECONFIGURE_ACTIONS, Action, Plan
from .providers.base import NicChange, PowerOp, Provider, Reconfiguration, TaskRef
from .providers.nics import SETTERS
from .resilience import Deadline, Sleep, poll


class Executor:
    """Runs actions against one VM; ``vm_id`` is learnt from create or clone."""

    def __init__(
        self,
        provider: Provider,
        deadline: Deadline,
        vm_id: Optional[str] = None,
        shutdown_timeout: int = 120,
        wait: bool = True,
        sleep: Sleep = time.sleep,
        phases: Optional[migration.PhaseLog] = None,
    ) -> None:
        self.wait = wait
        # The VMMigration phases of a migrate action, for its result.
        self.phases = phases or migration.PhaseLog()
        self.provider = provider
        self.deadline = deadline
        self.vm_id = vm_id
        self.shutdown_timeout = shutdown_timeout
        self.sleep = sleep

    def apply(self, plan: Plan) -> list[Action]:
        """Execute every action of the plan and return those done (equal to ``plan.actions``)."""
        done: list[Action] = []
        batch: list[Action] = []
        for action in plan.actions:
            if action.action in RECONFIGURE_ACTIONS and (not batch or _same_mode(batch[0], action)):
                batch.append(action)
                continue
            self._run_batch(batch, done)
            batch = [action] if action.action in RECONFIGURE_ACTIONS else []
            if not batch:
                self._guarded(action, done, lambda: self._run(action))  # noqa: B023 - called at once
        self._run_batch(batch, done)
        return done

    def _run_batch(self, batch: list[Action], done: list[Action]) -> None:
        if batch:
            self._guarded(batch[0], done,
                          lambda: self._wait(self.provider.reconfigure(self._id, _reconfiguration(batch))))
            done.extend(batch[1:])

    def _guarded(self, action: Action, done: list[Action], run: Callable[[], None]) -> None:
        try:
            run()
        except VirtrigaudError as err:
            err.details.setdefault("completed_actions", [a.to_dict() for a in done])
            err.details.setdefault("failed_action", action.to_dict())
            # add_context returns err: this raises the caught error again, there is no other cause to chain.
            raise err.add_context(vm=action.target if action.action in ("create", "clone") else None,  # noqa: B904
                                  provider=self.provider.config.label, operation=action.action)
        done.append(action)

    @property
    def _id(self) -> str:
        if not self.vm_id:
            raise ProviderError("no VM id known for this action")
        return self.vm_id

    def _run(self, action: Action) -> None:
        kind = action.action
        if kind == "create":
            self.vm_id, task = self.provider.create(action.options["spec"])
            self._wait(task)
        elif kind == "clone":
            self.vm_id, task = self.provider.clone(action.options["source_id"], action.target, action.options["linked"])
            self._wait(task)
        elif kind == "delete":
            self._wait(self.provider.delete(self._id, action.options.get("delete_disks", True)))
        elif kind == "power_on":
            self._wait(self.provider.power(self._id, PowerOp.ON))
        elif kind == "reboot":
            self._wait(self.provider.power(self._id, PowerOp.REBOOT))
        elif kind == "power_off":
            self._power_off(action.options.get("mode", "graceful"))
        elif kind == "migrate":
            migration.carry_out(self.provider, self._id, action, self.phases, self.wait, self._wait)
        elif kind == "snapshot_create":
            _snapshot_id, task = self.provider.snapshot_create(
                self._id, action.target, action.options["description"], action.options["include_memory"]
            )
            self._wait(task)
        elif kind == "snapshot_delete":
            self._wait(self.provider.snapshot_delete(self._id, action.options["snapshot_id"]))
        elif kind == "snapshot_revert":
            self._wait(self.provider.snapshot_revert(self._id, action.options["snapshot_id"]))
        else:
            raise ProviderError("unknown action '%s'" % kind)

    def _power_off(self, mode: str) -> None:
        if mode == "hard":
            self._wait(self.provider.power(self._id, PowerOp.OFF))
            return
        try:
            self._wait(self.provider.power(self._id, PowerOp.SHUTDOWN_GRACEFUL, self.shutdown_timeout))
        except (DeadlineExceededError, PreconditionError):
            # Too slow, or the guest cannot be asked at all (no VMware Tools, say).
            if mode != "graceful_then_hard":
                raise
            self._wait(self.provider.power(self._id, PowerOp.OFF))

    def _wait(self, task: TaskRef) -> None:
        if self.wait:
            wait_task(self.provider, task, self.deadline, self.sleep)


def wait_task(provider: Provider, task: TaskRef, deadline: Deadline, sleep: Sleep = time.sleep) -> None:
    """Until the backend's task is done (a task without an id is done already).

    Raises:
        ProviderError: the task failed, with the backend's words.
        DeadlineExceededError: ``deadline`` passed first.
    """
    if not task.id:
        return

    def finished() -> Optional[bool]:
        status = provider.task_status(task)
        if status.error:
            raise ProviderError("task %s failed: %s" % (task.id, status.error))
        return True if status.done else None

    poll(finished, deadline, "task %s" % task.id, sleep=sleep)


def _same_mode(first: Action, action: Action) -> bool:
    return bool(first.options.get("live")) == bool(action.options.get("live"))


def _reconfiguration(batch: list[Action]) -> Reconfiguration:
    by_kind = {a.action: a for a in batch}
    return Reconfiguration(
        cpu=by_kind["set_cpu"].new if "set_cpu" in by_kind else None,
        memory_mib=by_kind["set_memory"].new if "set_memory" in by_kind else None,
        disk_sizes_gib={a.target: a.new for a in batch if a.action == "resize_disk"},
        add_disks=tuple(a.options["disk"] for a in batch if a.action == "add_disk"),
        add_networks=tuple(a.options["network"] for a in batch if a.action == "add_network"),
        change_networks=_nic_changes(batch),
        remove_networks=tuple(a.target for a in batch if a.action == "remove_network"),
        networks=next((a.options["networks"] for a in batch if "networks" in a.options), None),
        tags=tuple(by_kind["set_tags"].new) if "set_tags" in by_kind else None,
        console=by_kind["set_console"].options["console"] if "set_console" in by_kind else None,
        rotate_console_password="rotate_console_password" in by_kind,
        live=bool(batch[0].options.get("live")),
    )


def _nic_changes(batch: list[Action]) -> tuple[NicChange, ...]:
    """The batch's in-place NIC changes, one per NIC with every value that changes."""
    fields = {kind: field for field, kind in SETTERS.items()}
    changes: dict[str, NicChange] = {}
    for action in batch:
        if action.action in fields:
            known = changes.get(action.target)
            done = known.fields if known else ()
            changes[action.target] = NicChange(action.options["network"], done + (fields[action.action],))
    return tuple(changes.values())
