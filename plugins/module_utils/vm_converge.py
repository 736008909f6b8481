# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vm on a backend: one VM observed, planned, placed, prepared and changed, and what the run returns."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from . import migration
from .errors import SpecError, VirtrigaudError
from .executor import Executor
from .image_transfer import Transfer
from .images import check_import_options, not_ready, parse_image
from .module import VirtrigaudRun
from .placement import Placed
from .placing import on_host, place, placed, read_policy, refuse_fixed_host, report
from .planner import Action, Plan, Policy, plan, plan_image
from .providers.base import ObservedVM, Provider
from .resilience import Deadline, poll
from .spec import Placement, VMSpec, parse_vm, parse_vm_name

POWER_BY_STATE = {"started": "On", "restarted": "On", "stopped": "Off"}


def refuse_backend_only(p: Mapping[str, Any], mode: str) -> None:
    """Refuse the options only a backend carries out, when the VM is a resource for VirtRigaud's manager."""
    if p["console"]:
        raise SpecError("a VirtualMachine resource has no console setting; drop it", option="console")
    if p["image_on_missing"] == "prepare" or p["image_source"]:
        raise SpecError("a VMImage's prepare.onMissing decides this with %s" % mode,
                        option="image_source" if p["image_source"] else "image_on_missing")


def converge(m: VirtrigaudRun, p: Mapping[str, Any]) -> dict[str, Any]:
    """Make the VM on the task's backend what ``p`` asks (``m.params``, or a manifest's options)."""
    _check_identity(p)
    observed = m.locate(p["name"], p["id"], moved_to=moved_to(p))
    provider = m.provider  # after locate, which may have followed the VM to the connection it was moved to
    desired = None
    if p["state"] != "absent":
        desired = parse_vm(dict(p, name=p["name"] or (observed.name if observed else None)),
                           POWER_BY_STATE.get(p["state"]))
    rules = read_policy(p, lambda: m.kube.get, frozenset(desired.tags or ())) if desired is not None else None
    placement = None
    if rules is not None and desired is not None:
        desired, placement = _placed(m, rules, desired, observed)

    source = None
    image_step = None
    progress: list[str] = []
    if observed is None and desired is not None:
        if p["clone_from"]:
            source = provider.find(p["clone_from"])
        else:
            image_step = missing_image(m, p, desired, progress.append)
            if image_step is None:
                provider.check_spec(desired)
            else:
                provider.check_networks(desired)
    the_plan = plan(desired, observed, _policy(p), provider.capabilities(), source,
                    migration.whereabouts(provider, observed, desired))
    if desired is not None and the_plan.attaches_nics:
        provider.check_networks(desired)
    phases = migration.PhaseLog()
    migration.check_plan(provider, observed, the_plan, phases)

    if m.check_mode:
        done = ([image_step] if image_step else []) + list(the_plan.actions)
        vm = observed
    else:
        done, vm = _apply(m, p, observed, image_step, the_plan, phases, progress.append)
    result = _result(m, p, the_plan, done, vm)
    if progress:
        result["image_progress"] = progress
    if phases.entries:
        result["migration"] = phases.to_dict()
    if placement is not None:
        result["placement"] = placement
    return result


def moved_to(p: Mapping[str, Any]) -> Optional[Placement]:
    """The host ``placement`` names, where a VM that the task's connection lacks may have been moved to."""
    host = (p.get("placement") or {}).get("host")
    return Placement(host=host) if host else None


def _check_identity(p: Mapping[str, Any]) -> None:
    if not (p["name"] or p["id"]):
        raise SpecError("set name (to create or find a VM by name) or id", option="name")
    if p["linked_clone"] and not p["clone_from"]:
        raise SpecError("a linked clone needs a source; set clone_from, or drop linked_clone", option="linked_clone")
    for option in ("name", "clone_from"):
        if p[option]:
            parse_vm_name(p[option], option=option)


def _policy(p: Mapping[str, Any]) -> Policy:
    return Policy(
        state=p["state"],
        allow_power_cycling=p["allow_power_cycling"],
        shutdown_mode=p["shutdown_mode"],
        delete_disks=p["delete_disks"],
        clone_from=p["clone_from"],
        linked_clone=p["linked_clone"],
        allow_migration=p["allow_migration"],
    )


def _apply(m: VirtrigaudRun, p: Mapping[str, Any], observed: Optional[ObservedVM], image_step: Optional[Action],
           the_plan: Plan, phases: migration.PhaseLog,
           progress: Callable[[str], None]) -> tuple[list[Action], Optional[ObservedVM]]:
    """Carry the plan out (the image first when it is missing); the actions done and the VM as it is after."""
    provider = m.provider
    done: list[Action] = []
    if image_step is not None:
        provider.prepare_image(image_step.options["spec"], Transfer(progress, run_command=m.run_command))
        done.append(image_step)
    executor = Executor(
        provider, m.deadline(), observed.id if observed else None, p["shutdown_timeout"], wait=p["wait"],
        phases=phases,
    )
    done += executor.apply(the_plan)
    vm = observed
    if done:
        vm = provider.describe(executor.vm_id) if executor.vm_id and p["state"] != "absent" else None
        if vm is None and executor.vm_id and p["state"] != "absent":
            vm = m.follow(moved_to(p) or Placement(), None, executor.vm_id)
    if vm is not None and p["wait"] and p["wait_for_ip_address"] and vm.power_state == "On":
        vm = wait_for_ip(m.provider, vm.id, m.deadline())
    return done, vm


def _result(m: VirtrigaudRun, p: Mapping[str, Any], the_plan: Plan, done: list[Action],
            vm: Optional[ObservedVM]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "changed": bool(done),
        "changes": [a.to_dict() for a in done],
        "vm": vm.to_dict() if vm else None,
        "power_cycled_for_update": the_plan.power_cycle,
    }
    if p["console"] and vm is not None and not m.check_mode:
        access = m.provider.open_console(vm.id)
        if access is not None:
            result["console"] = access.to_dict()
    if m.diff_mode:
        result["diff"] = the_plan.diff
    return result


def _placed(m: VirtrigaudRun, policy: Any, desired: VMSpec,
            observed: Optional[ObservedVM]) -> tuple[VMSpec, dict[str, Any]]:
    """A new VM on the host the policy chooses; an existing one stays where it is, said so when the policy
    would not put it there now."""
    refuse_fixed_host(desired, "placement.host")
    group = frozenset(desired.tags or ())
    vms = m.provider.list_vms()
    if observed is None:
        choice = place(m.provider, policy, placed(vms, [desired.name]), [Placed(desired.name, None, group)], group)
        return on_host(desired, choice.host_of(desired.name)), dict(report(policy, choice), unmoved=[])
    choice = place(m.provider, policy, placed(vms), [], group)
    unmoved = [item for item in choice.unmoved if item["name"] == observed.name]
    for item in unmoved:
        m.warn("VM %s stays on %s, where %s would not put it now; nothing moves an existing VM"
               % (item["name"], item["host"], item["rule"]))
    return desired, dict(report(policy, choice), unmoved=unmoved)


def missing_image(m: VirtrigaudRun, p: Mapping[str, Any], desired: VMSpec,
                  progress: Callable[[str], None]) -> Optional[Action]:
    """The image_prepare step when the image is missing and may be prepared; None when nothing is to do.  An
    import found still running is waited for first (not in check mode), as no change of this run."""
    if p["image_source"] and p["image_on_missing"] != "prepare":
        raise SpecError("is used only with image_on_missing=prepare", option="image_source")
    if not desired.image or p["image_on_missing"] != "prepare":
        return None
    try:
        spec = parse_image(dict(p["image_source"] or {}, name=desired.image))
        if spec.imports:
            capabilities = m.provider.capabilities()
            check_import_options(spec, capabilities.image_import_options, m.provider.type_name)
        found = m.provider.find_image(spec)
        if found is not None and not found.ready:
            plan_image("present", spec, found)  # refuses an import that failed
            if m.check_mode:
                m.warn(not_ready(found))
            else:
                m.provider.prepare_image(spec, Transfer(progress, run_command=m.run_command))
    except VirtrigaudError as err:
        if err.option:
            err.option = "image" if err.option == "name" else "image_source.%s" % err.option
        raise
    if found is not None:
        return None
    return plan_image("present", spec, None).actions[0]


def wait_for_ip(provider: Provider, vm_id: str, deadline: Deadline) -> Optional[ObservedVM]:
    def addressed() -> Optional[ObservedVM]:
        vm = provider.describe(vm_id)
        return vm if vm is None or vm.ip_addresses else None

    return poll(addressed, deadline, "an IP address")
