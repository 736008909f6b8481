# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One reconcile of vitistack Machines into VMs on one backend: read, plan, converge in parallel, write status.

The Machines come from one listing (a namespace, a label selector), their VMs from one bulk listing of the
backend. A no-op run writes nothing: no VM call, no finalizer, no status. Machines are planned one by one, and
converged on the VM-set runner: each worker on its own connection, at a bounded rate, and a Machine that fails
fails alone. The finalizer goes on before a VM is made, so a Machine deleted half-way still gets its VM removed.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import errors
from .executor import Executor
from .kube.client import Kube
from .kube.machine_status import differs, status_patch, wanted_status
from .kube.machine_translate import (
    FINALIZER,
    MachineRefused,
    field_of,
    machine_spec,
    made_for,
    provider_type_of,
    ref_of,
    references,
)
from .kube.machines import MachineStep, decide, reason_of, refused, with_changes
from .kube.resources import KINDS
from .planner import Policy, plan
from .providers.base import ObservedVM, Provider
from .resilience import Deadline, RateLimiter, poll
from .vmset_runner import ParallelRunner

# Errors that say the Machine asks what the backend cannot do; anything else (unreachable, refused credentials)
# fails the whole task, since no Machine could be served.
_MACHINE_ERRORS = (errors.SpecError, errors.NotFoundError, errors.UnsupportedError, errors.PreconditionError,
                   errors.AlreadyExistsError, errors.ConflictError)


@dataclass(frozen=True)
class Selection:
    """Which Machines a run serves, and how."""

    provider_type: str
    namespace: Optional[str] = None
    label_selector: Optional[str] = None
    default_network: Optional[str] = None
    power_state: str = "On"
    on_vm_vanished: str = "recreate"
    wait_for_ip: bool = True


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_machines(kube: Kube, selection: Selection) -> list[dict[str, Any]]:
    found = kube.list("Machine", selection.namespace, selection.label_selector)
    return sorted((m for m in found if provider_type_of(m) == selection.provider_type),
                  key=lambda m: ref_of(m).key)


def _classes(kube: Kube, machines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if not any((m.get("spec") or {}).get("machineClass") for m in machines):
        return {}
    return {c["metadata"]["name"]: c for c in kube.list("MachineClass")}


def _referenced(kube: Kube, machine: dict[str, Any]) -> dict[str, str]:
    """The cloud-init texts a Machine takes from Secrets and ConfigMaps of its namespace."""
    texts = {}
    namespace = ref_of(machine).namespace
    for where, (kind, name, key) in references(machine).items():
        found = kube.get(kind, name, namespace)
        data = (found or {}).get("data") or {}
        if key not in data:
            raise MachineRefused("CloudInitSourceNotFound", where,
                                 "%s %s/%s has no key %s" % (kind, namespace, name, key))
        texts[where] = base64.b64decode(data[key]).decode("utf-8") if kind == "Secret" else data[key]
    return texts


def _desired(kube: Kube, machine: dict[str, Any], classes: dict[str, Any], selection: Selection) -> Any:
    try:
        return machine_spec(machine, classes, _referenced(kube, machine), selection.default_network,
                            selection.power_state)
    except MachineRefused as err:
        return err


def _policy(selection: Selection) -> Policy:
    return Policy(state="started" if selection.power_state == "On" else "stopped", allow_power_cycling=True,
                  shutdown_mode="graceful_then_hard")


def observe(provider: Provider, machines: list[dict[str, Any]], parallelism: int,
            deadline: Deadline) -> list[ObservedVM]:
    """The Machines' VMs: one bulk listing where the backend has one; else each VM described, in parallel.

    A VM is looked up by the id its Machine's status holds, and by the Machine's name when that id is gone or
    names another VM (made again behind the Machine's back), or when the Machine has no id yet.
    """
    if not machines:
        return []
    if provider.lists_in_bulk:
        return provider.list_vms()
    runner = ParallelRunner(provider.config, parallelism, deadline, RateLimiter(1000.0, 1000))

    def one(machine: dict[str, Any]) -> Optional[ObservedVM]:
        ref = ref_of(machine)
        known = (machine.get("status") or {}).get("machineID")
        connection = runner.provider()
        vm = connection.describe(str(known)) if known else None
        return vm if vm is not None and vm.name == ref.name else connection.find(ref.name)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(machines)))) as pool:
            return [vm for vm in pool.map(one, machines) if vm is not None]
    finally:
        runner.close()


def plan_machines(kube: Kube, provider: Provider, machines: list[dict[str, Any]], vms: list[ObservedVM],
                  selection: Selection) -> list[MachineStep]:
    """Every Machine's step; what the backend refuses (checked before anything is made) fails that Machine alone."""
    classes = _classes(kube, machines)
    by_name = {vm.name: vm for vm in vms}
    claimed: set[str] = set()
    steps = []
    for machine in machines:
        step = decide(machine, by_name.get(ref_of(machine).name), _desired(kube, machine, classes, selection),
                      selection.on_vm_vanished)
        if step.action == "create" and step.ref.name in claimed:
            step = refused(step, "VMNameTaken", "another Machine of this run, in another namespace, has the name %s"
                           % step.ref.name)
        claimed.add(step.ref.name)
        steps.append(_checked(provider, step, selection))
    return steps


def _checked(provider: Provider, step: MachineStep, selection: Selection) -> MachineStep:
    """The step with the backend's own checks done, and an update's actions planned."""
    try:
        if step.action == "create" and step.desired is not None:
            provider.check_spec(step.desired)
            made = plan(step.desired, None, _policy(selection), provider.capabilities())
            return with_changes(step, [a.to_dict() for a in made.actions])
        if step.action == "update" and step.desired is not None and step.vm is not None:
            the_plan = plan(step.desired, step.vm, _policy(selection), provider.capabilities())
            return with_changes(step, [a.to_dict() for a in the_plan.actions])
    except _MACHINE_ERRORS as err:
        return refused(step, reason_of(err.error_code), _named(err))
    if step.action == "delete" and step.vm is not None:
        the_plan = plan(None, step.vm, Policy(state="absent"), provider.capabilities())
        return with_changes(step, [a.to_dict() for a in the_plan.actions])
    return step


def _named(err: errors.VirtrigaudError) -> str:
    """The backend's refusal, naming the Machine's field behind the option it names."""
    return "spec.%s: %s" % (field_of(err.option), err.msg) if err.option else err.msg


class MachineRunner(ParallelRunner):
    """Deletes, creates and updates of Machines' VMs, in parallel; the error code of each failure is kept."""

    def __init__(self, *args: Any, selection: Selection, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.selection = selection
        self.codes: dict[str, str] = {}

    def run(self, steps: list[MachineStep]) -> None:
        self._parallel([s for s in steps if s.action == "delete"], self._coded(self._delete))
        self._parallel([s for s in steps if s.action in ("create", "update")], self._coded(self._converge))

    def _coded(self, work: Callable[[MachineStep], None]) -> Callable[[MachineStep], None]:
        def run(step: MachineStep) -> None:
            try:
                work(step)
            except errors.VirtrigaudError as err:
                self.codes[step.member] = reason_of(err.error_code)
                raise
        return run

    def _delete(self, step: MachineStep) -> None:
        if step.vm is not None:
            self.delete_vm(step.vm)

    def _converge(self, step: MachineStep) -> None:
        provider = self.provider()
        if step.desired is None:
            raise errors.ProviderError("no VM spec for Machine %s" % step.member)
        observed = provider.describe(step.vm.id) if step.vm is not None else None
        executor = Executor(provider, self.deadline, observed.id if observed else None, self.shutdown_timeout)
        try:
            executor.apply(plan(step.desired, observed, _policy(self.selection), provider.capabilities()))
        except errors.VirtrigaudError:
            if step.action == "create":
                self._remove_half_made(provider, step)
            raise
        vm_id = executor.vm_id or (observed.id if observed else None)
        if vm_id and self.selection.wait_for_ip and step.desired.power_state == "On" and step.desired.networks:
            self._wait_for_address(provider, vm_id, step.ref.name)

    def _wait_for_address(self, provider: Provider, vm_id: str, name: str) -> None:
        """Until the running VM reports an address, so that the status written next has it."""
        def addressed() -> Optional[ObservedVM]:
            vm = provider.describe(vm_id)
            if vm is None:
                raise errors.NotFoundError("the VM %s vanished while it was being brought up" % name)
            return vm if vm.power_state == "On" and vm.ip_addresses else None
        poll(addressed, self.deadline, "VM %s to report an IP address" % name)

    def _remove_half_made(self, provider: Provider, step: MachineStep) -> None:
        """Nothing half-made stays: a VM that a failed create left behind goes."""
        try:
            left = provider.find(step.ref.name)
            if left is not None and made_for(left.tags, step.ref):
                self.delete_vm(left)
        except errors.VirtrigaudError as err:
            raise errors.ProviderError("the VM %s was left half-made and could not be removed: %s"
                                       % (step.ref.name, err.message)) from None


def set_finalizer(kube: Kube, machine: dict[str, Any], add: bool) -> None:
    """Add or remove the collection's finalizer by JSON patch, leaving every other finalizer as it is."""
    ref = ref_of(machine)
    present = list((machine.get("metadata") or {}).get("finalizers") or ())
    if add:
        ops: list[dict[str, Any]] = ([{"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}] if present
                                     else [{"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}])
    else:
        index = present.index(FINALIZER)
        path = "/metadata/finalizers/%d" % index
        ops = [{"op": "test", "path": path, "value": FINALIZER}, {"op": "remove", "path": path}]
    kube.request("PATCH", KINDS["Machine"].path(ref.namespace, ref.name), body=ops,
                 content_type="application/json-patch+json", what="Machine %s" % ref.key)


def write_status(kube: Kube, machine: dict[str, Any], wanted: dict[str, Any], when: str) -> None:
    ref = ref_of(machine)
    kube.request("PATCH", KINDS["Machine"].path(ref.namespace, ref.name, "status"), body=status_patch(wanted, when),
                 content_type="application/merge-patch+json", what="status of Machine %s" % ref.key)


def status_of(step: MachineStep, machine: dict[str, Any], vm: Optional[ObservedVM], provider_type: str,
              failure: Optional[tuple[str, str]], when: str) -> Optional[dict[str, Any]]:
    """The status to write for this Machine, or None when it holds it already (or is skipped or going away)."""
    if step.skipped or step.deleting:
        return None
    stored = machine.get("status") or {}
    wanted = wanted_status(vm, provider_type, failure, stored, when)
    return wanted if differs(wanted, stored) else None


def _entry(step: MachineStep, status: bool) -> dict[str, Any]:
    return dict(step.to_dict(), status=status)


def predicted(steps: list[MachineStep], machines: list[dict[str, Any]], selection: Selection) -> dict[str, Any]:
    """The plan (each Machine with something to do) and the Machines as they would stand; the same in both modes."""
    by_key = {ref_of(m).key: m for m in machines}
    when = now()
    plan_entries, served = [], []
    for step in steps:
        writes = step.action in ("create", "update") or status_of(
            step, by_key[step.member], step.vm, selection.provider_type, step.failure, when) is not None
        if not step.skipped and (step.action or step.finalizer or writes):
            plan_entries.append(_entry(step, writes))
        served.append(_served(step, step.vm, step.failure, None))
    return {"plan": plan_entries, "machines": served}


def _served(step: MachineStep, vm: Optional[ObservedVM], failure: Optional[tuple[str, str]],
            outcome: Optional[str]) -> dict[str, Any]:
    phase = None if step.skipped or step.deleting else ("Failed" if failure else wanted_status(
        vm, "", None, {}, "").get("phase"))
    return {"machine": step.member, "action": step.action, "outcome": "skipped" if step.skipped else outcome,
            "phase": phase, "machine_id": vm.id if vm is not None else None,
            "failure_reason": failure[0] if failure else None, "failure_message": failure[1] if failure else None,
            "skipped": step.skipped}


@dataclass(frozen=True)
class RunOptions:
    parallelism: int = 4
    qps: float = 10.0
    burst: int = 20
    shutdown_timeout: int = 120


def apply_steps(kube: Kube, provider: Provider, steps: list[MachineStep], machines: list[dict[str, Any]],
                vms: list[ObservedVM], selection: Selection, options: RunOptions,
                deadline: Deadline) -> list[dict[str, Any]]:
    """Carry the steps out: finalizers on, VMs removed, made and updated in parallel, finalizers off, statuses."""
    by_key = {ref_of(m).key: m for m in machines}
    for step in steps:
        if step.finalizer == "add":
            set_finalizer(kube, by_key[step.member], add=True)
    runner = MachineRunner(provider.config, options.parallelism, deadline, RateLimiter(options.qps, options.burst),
                           options.shutdown_timeout, selection=selection)
    try:
        runner.run(steps)
    finally:
        runner.close()
    failures = runner.failures
    for step in steps:
        if step.finalizer == "remove" and step.member not in failures:
            set_finalizer(kube, by_key[step.member], add=False)
    if any(step.action for step in steps):
        # The steps are in the Machines' order.
        kept = [m for m, step in zip(machines, steps) if not step.skipped and not step.deleting]
        vms = observe(provider, kept, options.parallelism, deadline)
    after = {vm.name: vm for vm in vms}
    when = now()
    served = []
    for step in steps:
        vm = after.get(step.ref.name)
        vm = vm if vm is not None and made_for(vm.tags, step.ref) else None
        failure = step.failure
        if step.member in failures:
            failure = (runner.codes.get(step.member, "Failed"), failures[step.member])
        wanted = status_of(step, by_key[step.member], vm, selection.provider_type, failure, when)
        if wanted is not None:
            write_status(kube, by_key[step.member], wanted, when)
        outcome = "failed" if step.member in failures else ("done" if step.action or step.finalizer else None)
        served.append(_served(step, vm, failure, outcome))
    return served
