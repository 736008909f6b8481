# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VM sets, as upstream's VMSet describes them: replicas of one VM template, named ``<name>-<ordinal>``.

Everything here is pure: parse and check a set, tell its members apart from other VMs, and plan what to
create, remove, start and update.  Members carry two tags: ``vmset.<name>`` says which set they belong to
and ``vmset-rev.<hash>`` which revision of the template they were made or last updated from, so a set
needs one bulk listing to know where it stands.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .errors import SpecError
from .providers.base import ObservedVM
from .spec import VMSpec, parse_vm

SET_TAG = "vmset."
REVISION_TAG = "vmset-rev."
STRATEGIES = ("RollingUpdate", "OnDelete", "Recreate")
MAX_REPLICAS = 1000
_SET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$")
_PERCENT = re.compile(r"^([0-9]{1,3})%$")


@dataclass(frozen=True)
class Strategy:
    type: str = "RollingUpdate"
    max_unavailable: int = 1
    max_surge: int = 0
    partition: int = 0


@dataclass(frozen=True)
class SetSpec:
    name: str
    replicas: int
    start: int
    template: Mapping[str, Any]
    labels: Mapping[str, str] = field(default_factory=dict)
    strategy: Strategy = field(default_factory=Strategy)
    min_ready_seconds: int = 0
    require_ip: bool = False

    @property
    def ordinals(self) -> range:
        return range(self.start, self.start + self.replicas)

    @property
    def surge_ordinals(self) -> range:
        """Where surge members stand during a rolling update: just past the set's own ordinals."""
        end = self.start + self.replicas
        return range(end, end + self.strategy.max_surge)

    def member_name(self, ordinal: int) -> str:
        return "%s-%d" % (self.name, ordinal)

    @property
    def tags(self) -> tuple[str, ...]:
        """What marks a member of this set at this revision, besides the template's own tags."""
        labels = tuple("%s.%s" % (key, value) for key, value in sorted(self.labels.items()))
        return (SET_TAG + self.name, REVISION_TAG + self.revision) + labels

    @property
    def revision(self) -> str:
        """A digest of everything that makes a member: the normalised template and the labels."""
        view = dict(parse_vm(dict(self.template, name=self.name)).view(), name=None)
        document = json.dumps({"template": view, "labels": dict(self.labels)}, sort_keys=True, default=str)
        return hashlib.sha256(document.encode("utf-8")).hexdigest()[:10]

    def member_spec(self, ordinal: int) -> VMSpec:
        tags = sorted(set(self.template.get("tags") or ()) | set(self.tags))
        return parse_vm(dict(self.template, name=self.member_name(ordinal), tags=tags), "On")


def _count(value: Any, replicas: int, option: str, round_up: bool) -> int:
    """An int-or-percent of replicas, as Kubernetes resolves maxUnavailable (down) and maxSurge (up)."""
    if isinstance(value, bool):
        raise SpecError("expected a count or a percentage such as 25%%, got %s" % value, option=option)
    if isinstance(value, int):
        if value < 0:
            raise SpecError("%d is negative" % value, option=option)
        return value
    match = _PERCENT.fullmatch(str(value))
    if not match or int(match.group(1)) > 100:
        raise SpecError("'%s' is not a count or a percentage such as 25%%" % value, option=option)
    share = int(match.group(1)) * replicas / 100
    return math.ceil(share) if round_up else math.floor(share)


def _labels(labels: Optional[Mapping[str, Any]]) -> dict[str, str]:
    checked = {}
    for key, value in (labels or {}).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if not _LABEL.fullmatch(str(key)) or not _LABEL.fullmatch(text):
            raise SpecError("'%s: %s' cannot become a tag; keys and values take lower-case letters, digits, '-', "
                            "'_' and '.', starting and ending with a letter or digit" % (key, value), option="labels")
        checked[str(key)] = text
    return checked


def check_run_options(params: Mapping[str, Any]) -> None:
    """How the members are converged: a parallelism of 0 or a rate of 0 per second cannot do what they say."""
    parallelism = params.get("parallelism")
    if parallelism is not None and parallelism < 1:
        raise SpecError("%d is not a number of members at once (1 or more)" % parallelism, option="parallelism")
    rate = params.get("rate_limit") or {}
    qps = rate.get("qps")
    if qps is not None and not (math.isfinite(qps) and qps > 0):
        raise SpecError("%s is not a rate; give operations per second above 0" % qps, option="rate_limit.qps")
    burst = rate.get("burst")
    if burst is not None and burst < 1:
        raise SpecError("%d is not a burst; give 1 or more" % burst, option="rate_limit.burst")


def parse_set(params: Mapping[str, Any]) -> SetSpec:
    """Check a set's options (virtrigaud_vmset's shape) and its template, before anything is touched."""
    name = params.get("name") or ""
    if not _SET_NAME.fullmatch(name):
        raise SpecError("'%s' is not a set name: 1-50 lower-case letters, digits and '-', starting and ending with "
                        "a letter or digit (members are <name>-<ordinal>)" % name, option="name")
    replicas = params.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= MAX_REPLICAS:
        raise SpecError("%r is not a replica count from 0 to %d" % (replicas, MAX_REPLICAS), option="replicas")
    start = (params.get("ordinals") or {}).get("start") or 0
    if not isinstance(start, int) or not 0 <= start <= 999999:
        raise SpecError("%r is not an ordinal from 0 to 999999" % (start,), option="ordinals.start")
    template = dict(params.get("template") or {})
    if "name" in template:
        raise SpecError("members are named <name>-<ordinal>; leave name out of the template", option="template.name")
    update = params.get("update_strategy") or {}
    kind = update.get("type") or "RollingUpdate"
    if kind not in STRATEGIES:
        raise SpecError("'%s' is not one of: %s" % (kind, ", ".join(STRATEGIES)), option="update_strategy.type")
    rolling = update.get("rolling_update") or {}
    unavailable = _count(rolling.get("max_unavailable", 1), replicas, "update_strategy.rolling_update.max_unavailable",
                         round_up=False)
    surge = _count(rolling.get("max_surge", 0), replicas, "update_strategy.rolling_update.max_surge", round_up=True)
    partition = rolling.get("partition") or 0
    if not isinstance(partition, int) or partition < 0:
        raise SpecError("%r is not an ordinal" % (partition,), option="update_strategy.rolling_update.partition")
    check_run_options(params)
    min_ready = params.get("min_ready_seconds") or 0
    if not isinstance(min_ready, int) or not 0 <= min_ready <= 3600:
        raise SpecError("%r is not from 0 to 3600" % (min_ready,), option="min_ready_seconds")
    # As Kubernetes has it, both may not be zero; with no surge, at least one member may be down.
    spec = SetSpec(name=name, replicas=replicas, start=start, template=template, labels=_labels(params.get("labels")),
                   strategy=Strategy(kind, unavailable if surge else max(unavailable, 1), surge, partition),
                   min_ready_seconds=min_ready, require_ip=bool(params.get("ready_requires_ip")))
    parse_vm(dict(template, name=spec.member_name(spec.start + max(replicas - 1, 0))), "On")
    return spec


@dataclass(frozen=True)
class Member:
    """An existing member: a VM of the set, with its ordinal and the revision it carries."""

    ordinal: int
    vm: ObservedVM
    revision: Optional[str]

    @property
    def name(self) -> str:
        return self.vm.name

    def ready(self, require_ip: bool) -> bool:
        return self.vm.power_state == "On" and (not require_ip or bool(self.vm.ip_addresses))

    def to_dict(self, require_ip: bool) -> dict[str, Any]:
        return {"name": self.name, "ordinal": self.ordinal, "id": self.vm.id, "revision": self.revision,
                "power_state": self.vm.power_state, "ready": self.ready(require_ip),
                "ip_addresses": list(self.vm.ip_addresses), "host": self.vm.placement.host}


def members_of(spec: SetSpec, vms: list[ObservedVM]) -> list[Member]:
    """The set's members among a provider's VMs: named <name>-<ordinal> and tagged as the set's."""
    pattern = re.compile(r"^%s-(0|[1-9][0-9]*)$" % re.escape(spec.name))
    found: dict[int, Member] = {}
    for vm in vms:
        match = pattern.fullmatch(vm.name)
        if not match or SET_TAG + spec.name not in vm.tags:
            continue
        revision = next((tag[len(REVISION_TAG):] for tag in vm.tags if tag.startswith(REVISION_TAG)), None)
        found.setdefault(int(match.group(1)), Member(int(match.group(1)), vm, revision))
    return [found[ordinal] for ordinal in sorted(found)]


@dataclass(frozen=True)
class Step:
    """What happens to one member: create, delete, start, update (in place) or recreate."""

    member: str
    ordinal: int
    action: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "ordinal": self.ordinal, "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class SetPlan:
    deletes: tuple[Step, ...]
    starts: tuple[Step, ...]
    creates: tuple[Step, ...]
    updates: tuple[Step, ...]
    surges: tuple[Step, ...] = ()
    retires: tuple[Step, ...] = ()

    @property
    def steps(self) -> tuple[Step, ...]:
        """In the order they run: scale down first (highest ordinal first), then start, create, add surge
        members, update, and retire the surge members."""
        return self.deletes + self.starts + self.creates + self.surges + self.updates + self.retires


def plan_set(spec: SetSpec, members: list[Member]) -> SetPlan:
    wanted = set(spec.ordinals)
    present = {member.ordinal: member for member in members}
    revision = spec.revision
    extra = sorted((m for m in members if m.ordinal not in wanted), key=lambda m: -m.ordinal)
    creates = tuple(Step(spec.member_name(o), o, "create", "missing") for o in sorted(wanted - set(present)))
    outdated = [m for m in sorted(members, key=lambda m: -m.ordinal)
                if m.ordinal in wanted and m.revision != revision]
    if spec.strategy.type == "OnDelete":
        outdated = []
    elif spec.strategy.type == "RollingUpdate":
        outdated = [m for m in outdated if m.ordinal >= spec.strategy.partition]
    action = "recreate" if spec.strategy.type == "Recreate" else "update"
    updates = tuple(Step(m.name, m.ordinal, action, "revision %s -> %s" % (m.revision or "none", revision))
                    for m in outdated)
    updating = {step.ordinal for step in updates}
    starts = tuple(Step(m.name, m.ordinal, "start", "not running") for m in members
                   if m.ordinal in wanted and m.ordinal not in updating and m.vm.power_state != "On")
    # Surge members stand in while members that run are updated in place, and go when the roll is done.
    in_place = [m for m in outdated if m.vm.power_state == "On"] if action == "update" else []
    surge_at = list(spec.surge_ordinals)[:len(in_place)]
    kept = set(surge_at)
    deletes = tuple(Step(m.name, m.ordinal, "delete",
                         "below ordinals.start" if m.ordinal < spec.start else "scale down")
                    for m in extra if m.ordinal not in kept)
    surges = tuple(Step(spec.member_name(o), o, "surge", "stands in during the rolling update")
                   for o in surge_at if o not in present or present[o].revision != revision
                   or present[o].vm.power_state != "On")
    retires = tuple(Step(spec.member_name(o), o, "retire", "the rolling update is done") for o in reversed(surge_at))
    return SetPlan(deletes, starts, creates, updates, surges, retires)


def set_status(spec: SetSpec, members: list[Member]) -> dict[str, Any]:
    """What upstream's VMSet status holds, computed from the members."""
    revision = spec.revision
    wanted = [m for m in members if m.ordinal in spec.ordinals]
    revisions = sorted({m.revision or "none" for m in wanted})
    current = (max(revisions, key=lambda r: sum(1 for m in wanted if (m.revision or "none") == r)) if revisions
               else revision)
    return {
        "replicas": len(wanted),
        "desired_replicas": spec.replicas,
        "ready_replicas": sum(1 for m in wanted if m.ready(spec.require_ip)),
        "current_replicas": sum(1 for m in wanted if (m.revision or "none") == current),
        "updated_replicas": sum(1 for m in wanted if m.revision == revision),
        "current_revision": current,
        "update_revision": revision,
        "revisions": revisions,
    }
