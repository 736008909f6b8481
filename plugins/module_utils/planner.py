# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired spec versus observed VM → an ordered list of actions.  Pure: no I/O.

Check mode reports the plan; a real run hands the same plan to the executor,
so a prediction and its result cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, Optional

from .errors import NotFoundError, PreconditionError, SpecError, UnsupportedError
from .images import FAILED, ImageSpec, PreparedImage, failed_import
from .providers import nics
from .providers.base import Capabilities, ObservedNIC, ObservedVM, Snapshot
from .spec import ConsoleSpec, NetworkSpec, Placement, VMSpec

STATES = ("present", "absent", "started", "stopped", "restarted")
SHUTDOWN_MODES = ("graceful", "hard", "graceful_then_hard")
NIC_ACTIONS = ("remove_network", "set_network", "set_mac_address", "set_ip_address", "add_network")
CONSOLE_ACTIONS = ("set_console", "rotate_console_password")
RECONFIGURE_ACTIONS = ("set_cpu", "set_memory", "resize_disk", "add_disk", "set_tags") + NIC_ACTIONS + CONSOLE_ACTIONS
_PLACEMENT_WORDS = {"resource_pool": "resource pool"}
MIGRATION_WORDS = {"host": "host", "datastore": "datastore", "cluster": "cluster", "folder": "folder",
                   "resource_pool": "resource pool"}


@dataclass(frozen=True)
class Policy:
    """How the user allows the plan to reach the desired state."""

    state: str = "present"
    allow_power_cycling: bool = False
    shutdown_mode: str = "graceful"
    delete_disks: bool = True
    clone_from: Optional[str] = None
    linked_clone: bool = False
    allow_migration: bool = False


@dataclass(frozen=True)
class Whereabouts:
    """Where an existing VM is (``Provider.where``), the placement keys its backend moves VMs between, and the
    backend's name for messages: what placement changes of ``virtrigaud_vm`` are planned against."""

    where: Placement
    movable: tuple[str, ...]
    backend: str


@dataclass(frozen=True)
class Action:
    """One step.  ``options`` carries what the executor needs but users need not see."""

    action: str
    target: str
    old: Any = None
    new: Any = None
    options: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    before: Optional[dict[str, Any]]
    after: Optional[dict[str, Any]]
    power_cycle: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    @property
    def diff(self) -> dict[str, Any]:
        return {"before": self.before or {}, "after": self.after or {}}

    @property
    def attaches_nics(self) -> bool:
        """Whether NICs of an existing VM are attached to networks, which must then exist."""
        return any(a.action in ("add_network", "set_network") for a in self.actions)


def observed_view(vm: ObservedVM) -> dict[str, Any]:
    """The observed VM in the shape of :meth:`VMSpec.view`, for diffs."""
    root = vm.disk("root")
    return {
        "name": vm.name,
        "cpu": vm.cpu,
        "memory_mib": vm.memory_mib,
        "firmware": vm.firmware,
        "secure_boot": vm.secure_boot,
        "root_disk_gib": root.size_gib if root else None,
        "disks": [{"name": d.name, "size_gib": d.size_gib} for d in vm.disks if d.name != "root"],
        "networks": [nics.nic_view(nic) for nic in vm.nics],
        "tags": list(vm.tags),
        "power_state": vm.power_state,
        **({"console": vm.console.view()} if vm.console else {}),
    }


def plan(
    desired: Optional[VMSpec],
    observed: Optional[ObservedVM],
    policy: Policy,
    capabilities: Capabilities,
    clone_source: Optional[ObservedVM] = None,
    whereabouts: Optional[Whereabouts] = None,
) -> Plan:
    """Decide what to do; raise SpecError or PreconditionError when it cannot be done safely.

    ``whereabouts``, given for an existing VM, lets a placement change become a ``migrate`` action (first in the
    plan) when ``policy.allow_migration``; without it, or without leave, a placement change is refused by name."""
    if policy.state == "absent" or desired is None:
        return _plan_absent(observed, policy)
    if desired.secure_boot and not capabilities.supports_secure_boot:
        raise UnsupportedError("this provider cannot create VMs with UEFI secure boot", option="secure_boot")
    if desired.console:
        _check_console(desired.console, capabilities)
    if observed is None:
        if policy.clone_from:
            return _plan_clone(desired, policy, capabilities, clone_source)
        return _plan_create(desired, policy)
    move = _placement_change(desired, observed, policy, whereabouts)
    rest = _plan_update(desired, observed, policy, capabilities)
    if move is None:
        return rest
    return replace(rest, actions=(move,) + rest.actions)


def _placement_change(desired: VMSpec, observed: ObservedVM, policy: Policy,
                      whereabouts: Optional[Whereabouts]) -> Optional[Action]:
    if whereabouts is None or not whereabouts.movable:
        _check_placement(desired.placement, observed.placement, "the VM is", "moving a VM")
        return None
    wanted = desired.placement
    current = replace(observed.placement, **{key: getattr(whereabouts.where, key) for key in whereabouts.movable})
    _check_placement(replace(wanted, **{key: None for key in whereabouts.movable}), current, "the VM is",
                     "moving a VM")
    movable = replace(Placement(), **{key: getattr(wanted, key) for key in whereabouts.movable})
    move = plan_migration(observed, current, movable, whereabouts.movable, True, "placement.", whereabouts.backend)
    if move is not None and not policy.allow_migration:
        key = next(iter(move.new))
        raise UnsupportedError(
            "VM '%s' is on %s '%s'; moving it to '%s' needs allow_migration=true (or use virtrigaud_vm_migration)"
            % (observed.name, MIGRATION_WORDS[key], move.old[key], move.new[key]),
            vm=observed.name, option="placement." + key)
    return move


@dataclass(frozen=True)
class Move:
    """Where a VM is and where it should go, for the placement keys that differ."""

    old: Mapping[str, str]
    new: Mapping[str, str]

    @property
    def target(self) -> Placement:
        return Placement(**self.new)


def placement_moves(wanted: Placement, current: Placement, movable: tuple[str, ...], prefix: str,
                    backend: str) -> Optional[Move]:
    """The keys of ``wanted`` that differ from ``current``, or None when the VM is already there.

    Raises:
        UnsupportedError: a key that differs is not one the backend moves VMs between, naming ``prefix + key``.
    """
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    for key in (f.name for f in fields(Placement)):
        there, here = getattr(wanted, key), getattr(current, key)
        if not there or there == here:
            continue
        if key not in movable:
            kinds = " and ".join(MIGRATION_WORDS[k] + "s" for k in movable) or "nothing"
            raise UnsupportedError("the %s backend cannot move a VM to another %s ('%s'); it moves VMs between %s"
                                   % (backend, MIGRATION_WORDS[key], there, kinds), option=prefix + key)
        if here is None:
            raise PreconditionError("the %s backend does not say which %s the VM is on, so it cannot be moved"
                                    % (backend, MIGRATION_WORDS[key]), option=prefix + key)
        old[key], new[key] = here, there
    return Move(old, new) if new else None


def plan_migration(vm: ObservedVM, where: Placement, wanted: Placement, movable: tuple[str, ...], online: bool,
                   prefix: str, backend: str) -> Optional[Action]:
    """The one ``migrate`` action that moves ``vm`` to ``wanted``, or None when it is there already.

    Raises:
        UnsupportedError: a key the backend cannot move, naming it.
        PreconditionError: the VM runs and ``online`` is false, naming ``online``.
    """
    move = placement_moves(wanted, where, movable, prefix, backend)
    if move is None:
        return None
    live = vm.power_state == "On"
    if live and not online:
        raise PreconditionError("VM '%s' is running and online=false asks for an offline move: stop the VM first, "
                                "or set online=true" % vm.name, vm=vm.name, option="online")
    return Action("migrate", vm.name, dict(move.old), dict(move.new), {"target": move.target, "live": live})


def _plan_absent(observed: Optional[ObservedVM], policy: Policy) -> Plan:
    if observed is None:
        return Plan((), None, None)
    actions = []
    if observed.power_state == "On":
        actions.append(Action("power_off", observed.name, "On", "Off", {"mode": "hard"}))
    actions.append(Action("delete", observed.name, "present", "absent", {"delete_disks": policy.delete_disks}))
    return Plan(tuple(actions), observed_view(observed), None)


def _plan_create(desired: VMSpec, policy: Policy) -> Plan:
    actions = [Action("create", desired.name, None, "present", {"spec": desired})]
    if policy.state != "stopped":
        actions.append(Action("power_on", desired.name, "Off", "On"))
    after = dict(desired.view(), power_state="Off" if policy.state == "stopped" else "On")
    return Plan(tuple(actions), None, after)


def _plan_clone(
    desired: VMSpec, policy: Policy, capabilities: Capabilities, source: Optional[ObservedVM]
) -> Plan:
    if source is None:
        raise SpecError("no VM named '%s' to clone from" % policy.clone_from, option="clone_from")
    if policy.linked_clone and not capabilities.supports_linked_clones:
        raise SpecError("this provider cannot make linked clones", option="linked_clone")
    clone = Action(
        "clone", desired.name, source.name, "linked" if policy.linked_clone else "full",
        {"source_id": source.id, "linked": policy.linked_clone},
    )
    _check_placement(desired.placement, source.placement, "its source is", "placing a clone elsewhere")
    as_cloned = replace(source, id="", name=desired.name, power_state="Off", console_url=None, raw={})
    rest = _plan_update(desired, as_cloned, policy, capabilities)
    after = dict(rest.after or {}, name=desired.name)
    return Plan((clone,) + rest.actions, None, after, rest.power_cycle)


def _check_create_only(desired: VMSpec, observed: ObservedVM) -> None:
    """Firmware and secure boot are chosen when a VM is created: a VM that has them otherwise is refused, not kept."""
    for option, wanted, current in (("firmware", desired.firmware, observed.firmware),
                                    ("secure_boot", desired.secure_boot, observed.secure_boot)):
        if wanted is None or current is None or wanted == current:
            continue
        shown = ("on" if current else "off") if isinstance(current, bool) else current
        raise UnsupportedError(
            "%s is set when a VM is created, and VM '%s' has %s; changing it is not supported: leave the option "
            "out, give the current value, or recreate the VM" % (option, observed.name, shown),
            option=option,
        )


def _plan_update(desired: VMSpec, observed: ObservedVM, policy: Policy, capabilities: Capabilities) -> Plan:
    _check_create_only(desired, observed)
    running = observed.power_state == "On"
    changes = _reconfigure_actions(desired, observed, capabilities, running)
    offline = [a for a in changes if not a.options.get("live")]
    wants = _wanted_power(policy.state, observed.power_state)
    actions: list[Action] = []
    power_cycle = False
    stop = Action("power_off", observed.name, "On", "Off", {"mode": policy.shutdown_mode})
    start = Action("power_on", observed.name, "Off", "On")
    if running and offline and wants == "On":
        if not policy.allow_power_cycling:
            raise PreconditionError(
                "%s cannot be changed while the VM is running; set allow_power_cycling=true to let the module "
                "stop and start it, or stop the VM first" % ", ".join(sorted({a.action for a in offline})),
                vm=observed.name,
                option="allow_power_cycling",
            )
        power_cycle = True
        actions = [stop] + [_offline(a) for a in changes] + [start]
    elif running and wants == "Off":
        actions = [stop] + [_offline(a) for a in changes]
    elif not running and wants == "On":
        actions = changes + [start]
    else:
        actions = list(changes)
    if policy.state == "restarted" and running and not power_cycle:
        actions.append(Action("reboot", observed.name, "On", "On"))
    before = observed_view(observed)
    return Plan(tuple(actions), before, _after(before, actions), power_cycle)


def _check_console(console: ConsoleSpec, capabilities: Capabilities) -> None:
    if not capabilities.console_types:
        raise UnsupportedError("this provider offers no console the collection can open; drop it",
                               option="console.type")
    if console.type not in capabilities.console_types:
        raise UnsupportedError("this provider's consoles are of type: %s" % ", ".join(capabilities.console_types),
                               option="console.type")
    if console.listen and not capabilities.console_listen:
        raise UnsupportedError("this provider's console listens where the backend decides; drop it",
                               option="console.listen")


def _console_actions(desired: VMSpec, observed: ObservedVM, running: bool) -> list[Action]:
    """A graphics device put in place (offline: QEMU cannot plug one into a running VM), or a new password (live)."""
    wanted, current = desired.console, observed.console
    if wanted is None or current is None:
        return []
    if wanted.view() != current.view():
        return [Action("set_console", observed.name, current.view(), wanted.view(), {"live": False, "console": wanted})]
    if wanted.rotate_password:
        return [Action("rotate_console_password", observed.name, None, None, {"live": running})]
    return []


def _check_placement(wanted: Placement, current: Placement, where: str, what: str) -> None:
    """Refuse a placement the VM is not in, where the backend says where it is: nothing moves a VM yet."""
    for key in Placement.__dataclass_fields__:
        here, there = getattr(current, key), getattr(wanted, key)
        if there and here and there != here:
            raise UnsupportedError(
                "%s on %s '%s'; %s ('%s') is not supported yet: leave the option out or give the current value"
                % (where, _PLACEMENT_WORDS.get(key, key), here, what, there),
                option="placement." + key,
            )


def _wanted_power(state: str, current: str) -> str:
    if state in ("started", "restarted"):
        return "On"
    if state == "stopped":
        return "Off"
    return current


def _offline(action: Action) -> Action:
    return replace(action, options=dict(action.options, live=False))


def _reconfigure_actions(
    desired: VMSpec, observed: ObservedVM, capabilities: Capabilities, running: bool
) -> list[Action]:
    online = capabilities.supports_reconfigure_online and running
    grow_online = capabilities.supports_disk_expansion_online and running
    actions = []
    if desired.cpu is not None and desired.cpu != observed.cpu:
        live = online and observed.max_cpu is not None and desired.cpu <= observed.max_cpu
        actions.append(Action("set_cpu", observed.name, observed.cpu, desired.cpu, {"live": live}))
    if desired.memory_mib is not None and desired.memory_mib != observed.memory_mib:
        live = online and observed.max_memory_mib is not None and desired.memory_mib <= observed.max_memory_mib
        actions.append(Action("set_memory", observed.name, observed.memory_mib, desired.memory_mib, {"live": live}))
    actions.extend(_disk_actions(desired, observed, grow_online, online))
    if desired.networks_given:
        actions.extend(_nic_actions(desired.networks, observed, capabilities, running))
    if desired.tags is not None and tuple(desired.tags) != tuple(sorted(observed.tags)):
        actions.append(Action("set_tags", observed.name, list(observed.tags), list(desired.tags), {"live": running}))
    actions.extend(_console_actions(desired, observed, running))
    return actions


def _disk_actions(desired: VMSpec, observed: ObservedVM, grow_online: bool, online: bool) -> list[Action]:
    wanted = [("root", desired.root_disk_gib, "disk_defaults.size")]
    wanted += [(d.name, d.size_gib, "disks[%d].size" % i) for i, d in enumerate(desired.disks)]
    actions = []
    for name, size, option in wanted:
        current = observed.disk(name)
        if size is None:
            continue
        if current is None:
            if name != "root":
                disk = next(d for d in desired.disks if d.name == name)
                actions.append(Action("add_disk", name, None, size, {"live": online, "disk": disk}))
        elif size < current.size_gib:
            raise SpecError(
                "disk '%s' is %d GiB and cannot shrink to %d GiB" % (name, current.size_gib, size), option=option
            )
        elif size > current.size_gib:
            actions.append(Action("resize_disk", name, current.size_gib, size, {"live": grow_online}))
    return actions


def _nic_actions(
    desired: tuple[NetworkSpec, ...], observed: ObservedVM, capabilities: Capabilities, running: bool
) -> list[Action]:
    """Remove, change in place, then add, NICs matched by name; each live when the backend does it live."""
    diff = nics.diff_nics(desired, observed.nics)
    index = {network.name: i for i, network in enumerate(desired)}
    have = {nic.name: nic for nic in observed.nics}
    common = {"networks": desired}
    actions = []
    for name in diff.removed:
        live = _nic_live("remove_network", capabilities, running, "networks")
        old = have[name].network or have[name].bridge or have[name].mac_address
        actions.append(Action("remove_network", name, old, None, dict(common, live=live)))
    for change in diff.changed:
        network, nic = change.network, have[change.network.name]
        for nic_field in change.fields:
            kind = nics.SETTERS[nic_field]
            option = "networks[%d].%s" % (index[network.name], _option_of(nic_field, network))
            old, new = _nic_values(nic_field, nic, network)
            live = _nic_live(kind, capabilities, running, option)
            actions.append(Action(kind, network.name, old, new, dict(common, live=live, network=network)))
    for network in diff.added:
        live = capabilities.supports_reconfigure_online and running
        if network.ip_address:
            option = "networks[%d].ip_address" % index[network.name]
            live = _nic_live("set_ip_address", capabilities, running, option) and live
        actions.append(Action("add_network", network.name, None, index[network.name],
                              dict(common, live=live, network=network)))
    return actions


def _nic_live(kind: str, capabilities: Capabilities, running: bool, option: str) -> bool:
    mode = capabilities.nic_changes.get(kind)
    if mode is None:
        raise UnsupportedError("this provider cannot %s of an existing VM" % _NIC_WORDS[kind], option=option)
    return running and mode == "live"


_NIC_WORDS = {"remove_network": "remove a NIC", "set_network": "change the network or bridge of a NIC",
              "set_mac_address": "change the MAC address of a NIC",
              "set_ip_address": "set or change a static address on a NIC"}


def _option_of(field: str, network: NetworkSpec) -> str:
    if field == "network":
        return "network" if network.network else "bridge"
    return field


def _nic_values(field: str, nic: ObservedNIC, network: NetworkSpec) -> tuple[Any, Any]:
    """(old, new) of one NIC change, as results and diffs show them."""
    if field == "network":
        return nics.attachment_of(nic, network), nics.attachment(network)
    if field == "mac_address":
        return nic.mac_address, network.mac_address
    return (nics.static_view(nic.static_ip, nic.gateway, nic.dns),
            nics.static_view(nics.static_ip(network), network.gateway, network.dns or nic.dns))


def _after(before: dict[str, Any], actions: list[Action]) -> dict[str, Any]:
    after = dict(before, disks=[dict(d) for d in before["disks"]], networks=list(before["networks"]))
    for action in actions:
        if action.action == "set_cpu":
            after["cpu"] = action.new
        elif action.action == "set_memory":
            after["memory_mib"] = action.new
        elif action.action == "resize_disk" and action.target == "root":
            after["root_disk_gib"] = action.new
        elif action.action == "resize_disk":
            next(d for d in after["disks"] if d["name"] == action.target)["size_gib"] = action.new
        elif action.action == "add_disk":
            after["disks"].append({"name": action.target, "size_gib": action.new})
        elif action.action in NIC_ACTIONS:
            after["networks"] = _networks_after(after["networks"], action)
        elif action.action == "set_tags":
            after["tags"] = action.new
        elif action.action == "set_console":
            after["console"] = action.new
        elif action.action in ("power_on", "power_off"):
            after["power_state"] = action.new
    return after


def _networks_after(views: list[dict[str, Any]], action: Action) -> list[dict[str, Any]]:
    if action.action == "remove_network":
        return [view for view in views if view["name"] != action.target]
    network = action.options["network"]
    if action.action == "add_network":
        return views + [network.view()]
    field = next(f for f, kind in nics.SETTERS.items() if kind == action.action)
    return [nics.apply_to_view(view, field, network) if view["name"] == action.target else view for view in views]


SNAPSHOT_STATES = ("present", "absent", "reverted")
_SNAPSHOT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


def parse_snapshot_name(name: Any) -> str:
    """Snapshot names every backend accepts (Proxmox is the strictest)."""
    if not isinstance(name, str) or not _SNAPSHOT_NAME.fullmatch(name):
        raise SpecError(
            "%r is not a snapshot name: 1-40 letters, digits, '_' or '-', starting with a letter" % (name,),
            option="name",
        )
    return name


def plan_snapshot(
    state: str,
    name: str,
    vm: Optional[ObservedVM],
    snapshots: list[Snapshot],
    description: str = "",
    include_memory: bool = False,
    capabilities: Optional[Capabilities] = None,
) -> Plan:
    """Snapshot create/delete/revert.  A revert is always carried out, like a restart."""
    existing = next((s for s in snapshots if s.name == name), None)
    before = existing.to_dict() if existing else None
    if state == "absent":
        if vm is None or existing is None:
            return Plan((), before, None)
        return Plan((Action("snapshot_delete", name, "present", "absent", {"snapshot_id": existing.id}),), before, None)
    if vm is None:
        raise NotFoundError("the VM does not exist", option="vm_name / vm_id")
    if state == "reverted":
        if existing is None:
            raise NotFoundError("VM '%s' has no snapshot named '%s'" % (vm.name, name), option="name")
        action = Action("snapshot_revert", name, None, "reverted", {"snapshot_id": existing.id})
        return Plan((action,), before, before)
    if existing is not None:
        return Plan((), before, before)
    if include_memory and capabilities is not None and not capabilities.supports_memory_snapshots:
        raise SpecError("this provider cannot include memory in snapshots", option="include_memory")
    memory = include_memory and vm.power_state == "On"
    after = {"name": name, "description": description, "has_memory": memory}
    action = Action("snapshot_create", name, None, "present",
                    {"description": description, "include_memory": include_memory})
    return Plan((action,), None, after)


def plan_image(state: str, spec: ImageSpec, observed: Optional[PreparedImage]) -> Plan:
    """Prepare a missing image, remove a present one; an image of that name already there counts as prepared.
    One whose import is still running is no change either: the run waits for it, and changes nothing by that.

    Raises:
        NotFoundError: a template to use does not exist (it cannot be made from nothing).
        ProviderError: the image's import failed (before this run), naming ``name``.
    """
    before = observed.to_dict() if observed else None
    if state == "absent":
        if observed is None:
            return Plan((), None, None)
        return Plan((Action("image_delete", spec.name, "present", "absent"),), before, None)
    if observed is not None and observed.phase == FAILED:
        raise failed_import(observed.message)
    if observed is not None:
        return Plan((), before, before)
    if not spec.imports:
        raise NotFoundError("the backend holds no template '%s'" % spec.template, option="template")
    after = {"name": spec.name, "format": spec.format, "storage": spec.storage}
    return Plan((Action("image_prepare", spec.name, None, "present", {"spec": spec}),), None, after)
