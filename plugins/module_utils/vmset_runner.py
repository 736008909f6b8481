# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a VM set's plan: members in parallel, each through the single-VM planner and executor.

Each worker thread has its own provider connection.  Member operations start no faster than the rate
limiter allows.  A rolling update takes members down in waves and never lets more than ``max_unavailable``
members be down, counting those that are down for other reasons; when it cannot go on, it stops and
says which members are in the way.  A failed member does not stop the others of its wave, and every
failure is reported by member.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any, Callable, Mapping, Optional

from . import errors
from .executor import Executor
from .placing import on_host
from .planner import Policy, plan
from .providers.base import ObservedVM, Provider, ProviderConfig
from .providers.registry import open_provider
from .resilience import Deadline, RateLimiter, poll
from .spec import VMSpec
from .vmset import Member, SetPlan, SetSpec, Step, members_of


class ParallelRunner:
    """Work on many VMs of one backend at once: each worker thread on its own provider connection, operations
    started no faster than the rate limiter allows, and each step's outcome recorded under its ``member``.

    A step is anything with a ``member`` (the key of its outcome) and a ``to_dict()``.
    """

    def __init__(self, config: ProviderConfig, parallelism: int, deadline: Deadline, limiter: RateLimiter,
                 shutdown_timeout: int = 120) -> None:
        self.config = config
        self.parallelism = max(1, parallelism)
        self.deadline = deadline
        self.limiter = limiter
        self.shutdown_timeout = shutdown_timeout
        self.outcomes: dict[str, dict[str, Any]] = {}
        self._local = threading.local()
        self._opened: list[Provider] = []
        self._lock = threading.Lock()

    def provider(self) -> Provider:
        """This thread's connection, opened on first use."""
        current = getattr(self._local, "provider", None)
        if current is None:
            current = open_provider(self.config)
            self._local.provider = current
            with self._lock:
                self._opened.append(current)
        return current

    def close(self) -> None:
        for provider in self._opened:
            provider.close()
        self._opened.clear()

    @property
    def failures(self) -> dict[str, str]:
        return {name: outcome["error"] for name, outcome in self.outcomes.items() if outcome["outcome"] == "failed"}

    def _parallel(self, steps: Any, work: Callable[[Any], None], record: bool = True) -> None:
        """Run ``work`` for every step, ``parallelism`` at a time; record each outcome by member."""
        steps = list(steps)
        if not steps:
            return
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(self.parallelism, len(steps))) as pool:
            futures = {pool.submit(self._guarded, step, work): step for step in steps}
            for future in concurrent.futures.as_completed(futures):
                step, error = futures[future], future.result()
                if error is not None or record:
                    self.outcomes[step.member] = dict(step.to_dict(), outcome="failed" if error else "done",
                                                      error=error)

    def _guarded(self, step: Any, work: Callable[[Any], None]) -> Optional[str]:
        try:
            self.limiter.acquire()
            work(step)
            return None
        except errors.VirtrigaudError as err:
            return err.message

    def delete_vm(self, vm: ObservedVM) -> None:
        """Remove one VM with its disks, powering it off first when it runs."""
        provider = self.provider()
        the_plan = plan(None, vm, Policy(state="absent"), provider.capabilities())
        Executor(provider, self.deadline, vm.id, self.shutdown_timeout).apply(the_plan)


class SetRunner(ParallelRunner):
    def __init__(self, config: ProviderConfig, spec: SetSpec, parallelism: int, deadline: Deadline,
                 limiter: RateLimiter, shutdown_timeout: int = 120,
                 sleep: Callable[[float], None] = time.sleep, hosts: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(config, parallelism, deadline, limiter, shutdown_timeout)
        self.spec = spec
        self.sleep = sleep
        # Where a placement policy put the members this run makes.
        self.hosts = dict(hosts or {})

    def run(self, the_plan: SetPlan, members: list[Member], inventory: Callable[[], list[ObservedVM]]) -> None:
        by_name = {member.name: member for member in members}
        self._parallel(the_plan.deletes, lambda step: self._delete(by_name[step.member]))
        self._parallel(the_plan.starts, lambda step: self._converge(step, by_name[step.member].vm))
        self._parallel(the_plan.creates, lambda step: self._converge(step, None))
        if not the_plan.updates or self.failures:
            return
        if self.spec.strategy.type == "Recreate":
            self._parallel(the_plan.updates, lambda step: self._delete(by_name[step.member]), record=False)
            self._parallel([step for step in the_plan.updates if step.member not in self.failures],
                           lambda step: self._converge(step, None))
        else:
            self._parallel(the_plan.surges, lambda step: self._converge(step, _vm(by_name.get(step.member))))
            if self.failures:
                return
            self._roll(list(the_plan.updates), by_name, inventory)
            if not self.failures:
                self._parallel(the_plan.retires, self._retire)

    def _delete(self, member: Member) -> None:
        self.delete_vm(member.vm)

    def _retire(self, step: Step) -> None:
        vm = self.provider().find(step.member)
        if vm is not None:
            self._delete(Member(step.ordinal, vm, None))

    def _converge(self, step: Step, known: Optional[ObservedVM]) -> None:
        """Create the member, or bring an existing one to the template (power-cycling it if a change needs
        that), then wait until it is ready."""
        provider = self.provider()
        desired: VMSpec = self.spec.member_spec(step.ordinal)
        observed = provider.describe(known.id) if known is not None else None
        if observed is None and step.member in self.hosts:
            desired = on_host(desired, self.hosts[step.member])
        policy = Policy(state="started", allow_power_cycling=True, shutdown_mode="graceful_then_hard")
        executor = Executor(provider, self.deadline, observed.id if observed else None, self.shutdown_timeout)
        executor.apply(plan(desired, observed, policy, provider.capabilities()))
        vm_id = executor.vm_id or (observed.id if observed else None)
        if vm_id:
            self._wait_ready(provider, vm_id, step.member)

    def _wait_ready(self, provider: Provider, vm_id: str, name: str) -> None:
        def ready() -> Optional[ObservedVM]:
            vm = provider.describe(vm_id)
            if vm is None:
                raise errors.NotFoundError("member %s vanished while it was being brought up" % name)
            return vm if vm.power_state == "On" and (vm.ip_addresses or not self.spec.require_ip) else None
        poll(ready, self.deadline, "member %s to be ready" % name)

    def _roll(self, pending: list[Step], by_name: dict[str, Member], inventory: Callable[[], list[ObservedVM]]) -> None:
        """Update members in waves, so that at most max_unavailable members are down at any time, and as many
        more as there are ready surge members standing in for them."""
        while pending and not self.failures:
            found = members_of(self.spec, inventory())
            now = {m.name: m for m in found if m.ordinal in self.spec.ordinals}
            down = {name for name, member in now.items() if not member.ready(self.spec.require_ip)}
            standing_in = sum(1 for m in found
                              if m.ordinal in self.spec.surge_ordinals and m.ready(self.spec.require_ip))
            budget = self.spec.strategy.max_unavailable + standing_in
            # Members that are down already go first: updating them takes nothing more down.
            pending.sort(key=lambda step: (step.member not in down, -step.ordinal))
            wave: list[Step] = []
            cost = len(down)
            for step in pending:
                if len(wave) >= self.parallelism:
                    break
                if step.member in down:
                    wave.append(step)
                elif cost < budget:
                    wave.append(step)
                    cost += 1
            if not wave:
                message = _stopped(self.spec.strategy.max_unavailable, standing_in, sorted(down))
                for step in pending:
                    self.outcomes[step.member] = dict(step.to_dict(), outcome="failed", error=message)
                return
            pending = [step for step in pending if step not in wave]
            self._parallel(wave, lambda step: self._converge(step, by_name[step.member].vm))
            if self.spec.min_ready_seconds and pending and not self.failures:
                self.sleep(self.spec.min_ready_seconds)
        for step in pending:
            self.outcomes.setdefault(step.member, dict(step.to_dict(), outcome="skipped",
                                                       error="not updated: an earlier member failed"))


def _vm(member: Optional[Member]) -> Optional[ObservedVM]:
    return member.vm if member is not None else None


def _stopped(max_unavailable: int, standing_in: int, blocking: list[str]) -> str:
    """Why a rolling update cannot take another member down."""
    budget = "max_unavailable is %d" % max_unavailable
    if standing_in:
        budget += " with %d surge member%s ready" % (standing_in, "s" if standing_in > 1 else "")
    if not blocking:
        return "the rolling update stopped: %s and no surge member is ready; nothing more was taken down" % budget
    return "the rolling update stopped: %s and %s %s not ready; nothing more was taken down" % (
        budget, ", ".join(blocking), "is" if len(blocking) == 1 else "are")
