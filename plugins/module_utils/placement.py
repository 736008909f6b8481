# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement policies, as upstream's VMPlacementPolicy describes them, and the choice of a host for new VMs.

Pure: a policy (from the modules' ``placement_policy`` option or a VMPlacementPolicy's spec), the hosts a backend
offers and the VMs already on them go in; a host per new VM comes out, or a ``PreconditionError`` that names
the rule no host could satisfy.  A VM's labels are its tags ``<key>.<value>``, as VM sets write them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from .errors import PreconditionError, SpecError

INLINE = "placement_policy"
TOPOLOGIES = {"host": "host", "node": "host", "kubernetes.io/hostname": "host", "cluster": "cluster"}


@dataclass(frozen=True)
class Term:
    """An (anti-)affinity term: the VMs whose tags hold every one of ``tags``, counted per ``topology``."""

    rule: str
    tags: frozenset[str]
    topology: str = "host"
    required: bool = False
    weight: int = 1


@dataclass(frozen=True)
class Spread:
    """At most ``max_skew`` more matching VMs in one topology domain than in the emptiest allowed one."""

    rule: str
    max_skew: int
    topology: str = "host"
    tags: Optional[frozenset[str]] = None  # None: the VMs placed together (the set's members)


@dataclass(frozen=True)
class Policy:
    name: str = INLINE
    hosts: tuple[str, ...] = ()
    excluded_hosts: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    excluded_clusters: tuple[str, ...] = ()
    preferred_hosts: tuple[str, ...] = ()
    preferred_clusters: tuple[str, ...] = ()
    max_vms_per_host: Optional[int] = None
    max_vms_per_cluster: Optional[int] = None
    affinity: tuple[Term, ...] = ()
    anti_affinity: tuple[Term, ...] = ()
    spread: tuple[Spread, ...] = ()
    # Where a named policy holds each list and limit (spec.hard.hosts ...); the option's names otherwise.
    paths: Mapping[str, str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return INLINE if self.name == INLINE else "VMPlacementPolicy '%s'" % self.name

    def rule(self, path: str) -> str:
        """How a message names one of the policy's rules."""
        path = self.paths.get(path, path)
        return "%s.%s" % (INLINE, path) if self.name == INLINE else "%s %s" % (self.subject, path)


@dataclass(frozen=True)
class Host:
    """Where a VM can go: a vSphere host (with its cluster), a Proxmox VE node, a libvirt URI."""

    name: str
    cluster: Optional[str] = None


@dataclass(frozen=True)
class Placed:
    """A VM that is, or will be, on ``host``, with its tags."""

    name: str
    host: Optional[str]
    tags: frozenset[str] = field(default_factory=frozenset)


# parsing


def label_tags(labels: Optional[Mapping[str, Any]], option: str) -> frozenset[str]:
    if not isinstance(labels, Mapping) or not labels:
        raise SpecError("give the labels (a mapping of key to value) of the VMs the rule is about", option=option)
    return frozenset("%s.%s" % (key, value) for key, value in labels.items())


def _names(value: Any, option: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
        raise SpecError("give a list of names", option=option)
    return tuple(value)


def _topology(value: Any, option: str) -> str:
    key = TOPOLOGIES.get(str(value or "host"))
    if key is None:
        raise SpecError("'%s' is not a topology key here; give one of: %s" % (value, ", ".join(TOPOLOGIES)),
                        option=option)
    return key


def _count(value: Any, option: str, low: int = 1) -> Optional[int]:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise SpecError("%r is not a whole number of %d or more" % (value, low), option=option)
    return value


def _terms(items: Any, path: str) -> tuple[Term, ...]:
    terms = []
    for index, item in enumerate(items or ()):
        rule = "%s[%d]" % (path, index)
        terms.append(Term(rule, label_tags(item.get("labels"), "%s.%s.labels" % (INLINE, rule)),
                          _topology(item.get("topology_key"), "%s.%s.topology_key" % (INLINE, rule)),
                          bool(item.get("required")),
                          _count(item.get("weight", 1), "%s.%s.weight" % (INLINE, rule)) or 1))
    return tuple(terms)


def parse_inline(params: Mapping[str, Any]) -> Policy:
    """The ``placement_policy`` option (its argument spec has checked the types)."""
    spreads = []
    for index, item in enumerate(params.get("spread") or ()):
        rule = "spread[%d]" % index
        labels = item.get("labels")
        spreads.append(Spread(rule, _count(item.get("max_skew"), "%s.%s.max_skew" % (INLINE, rule)) or 1,
                              _topology(item.get("topology_key"), "%s.%s.topology_key" % (INLINE, rule)),
                              label_tags(labels, "%s.%s.labels" % (INLINE, rule)) if labels else None))
    return Policy(
        hosts=_names(params.get("hosts"), INLINE + ".hosts"),
        excluded_hosts=_names(params.get("excluded_hosts"), INLINE + ".excluded_hosts"),
        clusters=_names(params.get("clusters"), INLINE + ".clusters"),
        excluded_clusters=_names(params.get("excluded_clusters"), INLINE + ".excluded_clusters"),
        preferred_hosts=_names(params.get("preferred_hosts"), INLINE + ".preferred_hosts"),
        preferred_clusters=_names(params.get("preferred_clusters"), INLINE + ".preferred_clusters"),
        max_vms_per_host=_count(params.get("max_vms_per_host"), INLINE + ".max_vms_per_host"),
        max_vms_per_cluster=_count(params.get("max_vms_per_cluster"), INLINE + ".max_vms_per_cluster"),
        affinity=_terms(params.get("affinity"), "affinity"),
        anti_affinity=_terms(params.get("anti_affinity"), "anti_affinity"),
        spread=tuple(spreads),
    )


# choosing


@dataclass(frozen=True)
class Choice:
    """Where each new VM goes, and the existing VMs that stand where the policy would not put them now."""

    hosts: Mapping[str, str]
    unmoved: tuple[dict[str, Any], ...] = ()
    # False when the backend has one host: the choice confirms it, and nothing needs to be set on the VM.
    pinned: bool = True

    def host_of(self, name: str) -> Optional[str]:
        return self.hosts.get(name) if self.pinned else None


class _Board:
    """The VMs per host as the choice goes on, with the topology of each host."""

    def __init__(self, hosts: Iterable[Host], placed: Iterable[Placed]) -> None:
        self.hosts = {host.name: host for host in hosts}
        only = next(iter(self.hosts)) if len(self.hosts) == 1 else None
        # A backend with one host does not say where its VMs are: they are all there.
        self.placed = [vm if vm.host or only is None else Placed(vm.name, only, vm.tags) for vm in placed]

    def domain(self, host: str, topology: str) -> Optional[str]:
        return host if topology == "host" else self.hosts[host].cluster if host in self.hosts else None

    def count(self, tags: frozenset[str], topology: str, domain: Optional[str], skip: str = "") -> int:
        return sum(1 for vm in self.placed if vm.name != skip and tags <= vm.tags and vm.host is not None
                   and domain is not None and self.domain(vm.host, topology) == domain)

    def anywhere(self, tags: frozenset[str], skip: str = "") -> bool:
        return any(tags <= vm.tags for vm in self.placed if vm.name != skip and vm.host)


def _allowed(policy: Policy, hosts: Iterable[Host]) -> list[Host]:
    """The hosts the policy's host and cluster lists allow."""
    return [host for host in hosts
            if (not policy.hosts or host.name in policy.hosts) and host.name not in policy.excluded_hosts
            and (not policy.clusters or host.cluster in policy.clusters)
            and (host.cluster is None or host.cluster not in policy.excluded_clusters)]


def _broken_rule(policy: Policy, board: _Board, host: str, vm: Placed, group: frozenset[str],
                 domains: list[str]) -> Optional[str]:
    """The first hard rule that ``vm`` on ``host`` breaks, or None."""
    limits = (("max_vms_per_host", policy.max_vms_per_host, "host"),
              ("max_vms_per_cluster", policy.max_vms_per_cluster, "cluster"))
    for rule, limit, topology in limits:
        if limit is not None and board.count(group, topology, board.domain(host, topology), vm.name) >= limit:
            return "%s (%d)" % (policy.rule(rule), limit)
    for term in policy.anti_affinity:
        if term.required and board.count(term.tags, term.topology, board.domain(host, term.topology), vm.name):
            return policy.rule(term.rule)
    for term in policy.affinity:
        alone = not board.anywhere(term.tags, vm.name) and term.tags <= vm.tags
        if term.required and not alone and not board.count(term.tags, term.topology,
                                                           board.domain(host, term.topology), vm.name):
            return policy.rule(term.rule)
    for spread in policy.spread:
        tags = group if spread.tags is None else spread.tags
        if not tags <= vm.tags:
            continue
        counts = {d: board.count(tags, spread.topology, d, vm.name)
                  for d in {board.domain(h, spread.topology) for h in domains} if d is not None}
        mine = board.domain(host, spread.topology)
        if mine is not None and counts and counts[mine] + 1 - min(counts.values()) > spread.max_skew:
            return "%s (max_skew %d)" % (policy.rule(spread.rule), spread.max_skew)
    return None


def _score(policy: Policy, board: _Board, host: str, vm: Placed, group: frozenset[str]) -> tuple[int, int, int, str]:
    """Lower is better: the soft VM rules first, then the preferred lists, then the fewest of the group."""
    soft = 0
    for sign, terms in ((1, policy.anti_affinity), (-1, policy.affinity)):
        for term in terms:
            if not term.required:
                soft += sign * term.weight * board.count(term.tags, term.topology, board.domain(host, term.topology),
                                                         vm.name)
    cluster = board.domain(host, "cluster")
    preferred = (policy.preferred_hosts or policy.preferred_clusters) and not (
        host in policy.preferred_hosts or (cluster is not None and cluster in policy.preferred_clusters))
    return soft, 1 if preferred else 0, board.count(group, "host", host, vm.name), host


def choose(policy: Policy, hosts: Iterable[Host], placed: Iterable[Placed], new: Iterable[Placed],
           group: frozenset[str]) -> Choice:
    """A host for each VM of ``new``, in order, each counted where it lands before the next is placed.

    ``group`` is what the VMs placed together carry (a set's tag): the per-host limits, the spread without
    labels and the balance count those.

    Raises:
        SpecError: the policy names a host or cluster the backend does not have.
        PreconditionError: no host satisfies the policy for one of the VMs; the message names the rules.
    """
    hosts = list(hosts)
    _check_names(policy, hosts)
    board = _Board(hosts, placed)
    allowed = _allowed(policy, hosts)
    domains = [host.name for host in allowed]
    chosen: dict[str, str] = {}
    for vm in new:
        if not allowed:
            raise PreconditionError("no host of %s is allowed by the host and cluster lists"
                                    % ", ".join(sorted(h.name for h in hosts)),
                                    option=_list_option(policy), vm=vm.name)
        broken = {host.name: _broken_rule(policy, board, host.name, vm, group, domains) for host in allowed}
        fits = [name for name, rule in broken.items() if rule is None]
        if not fits:
            reasons = "; ".join("%s rules out %s" % (rule, host) for host, rule in sorted(broken.items()))
            raise PreconditionError("no host fits: %s" % reasons,
                                    option=policy.subject, vm=vm.name,
                                    details={"rules": dict(sorted(broken.items()))})
        best = min(fits, key=lambda name: _score(policy, board, name, vm, group))
        chosen[vm.name] = best
        board.placed.append(Placed(vm.name, best, vm.tags))
    return Choice(chosen, tuple(unmoved(policy, hosts, board.placed, group, exclude=set(chosen))))


def unmoved(policy: Policy, hosts: list[Host], placed: list[Placed], group: frozenset[str],
            exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Existing VMs of the group whose host the policy would not choose now; nothing moves them."""
    board = _Board(hosts, placed)
    allowed = _allowed(policy, hosts)
    names = {host.name for host in allowed}
    domains = [host.name for host in allowed]
    found = []
    for vm in board.placed:
        if vm.name in exclude or not group <= vm.tags or vm.host is None:
            continue
        if vm.host not in names:
            rule: Optional[str] = policy.rule(_list_option_path(policy))
        else:
            others = _Board(hosts, [other for other in board.placed if other.name != vm.name])
            rule = _broken_rule(policy, others, vm.host, vm, group, domains)
        if rule:
            found.append({"name": vm.name, "host": vm.host, "rule": rule})
    return sorted(found, key=lambda item: item["name"])


def _list_option_path(policy: Policy) -> str:
    for path in ("hosts", "excluded_hosts", "clusters", "excluded_clusters"):
        if getattr(policy, path):
            return path
    return "hosts"


def _list_option(policy: Policy) -> str:
    return policy.rule(_list_option_path(policy))


def _check_names(policy: Policy, hosts: list[Host]) -> None:
    """Required hosts and clusters must exist: a typo would otherwise read as 'nowhere fits'."""
    known_hosts = {host.name for host in hosts}
    known_clusters = {host.cluster for host in hosts if host.cluster}
    for path, known, what in (("hosts", known_hosts, "host"), ("clusters", known_clusters, "cluster")):
        missing = [name for name in getattr(policy, path) if name not in known]
        if missing:
            raise SpecError("%s %s not found; the backend has %s" % (
                what, ", ".join("'%s'" % name for name in missing), ", ".join(sorted(known)) or "none"),
                option=policy.rule(path))


# a VMPlacementPolicy resource

# What a named policy may hold that has no meaning for choosing a host here: refused by name, never ignored.
_UNHONOURED = ("hard.datastores", "hard.excludedDatastores", "hard.folders", "hard.networks", "hard.regions",
               "hard.zones", "hard.resourcePools", "hard.nodeSelector", "hard.tolerations", "soft.datastores",
               "soft.excludedDatastores", "soft.excludedHosts", "soft.excludedClusters", "soft.folders",
               "soft.networks",
               "soft.regions", "soft.zones", "soft.resourcePools", "soft.nodeSelector", "soft.tolerations",
               "affinity.datastoreAffinity", "affinity.zoneAffinity", "affinity.applicationAffinity",
               "antiAffinity.datastoreAntiAffinity", "antiAffinity.zoneAntiAffinity",
               "antiAffinity.applicationAntiAffinity", "resourceConstraints", "securityConstraints")
_RESOURCE_PATHS = {"hosts": "spec.hard.hosts", "excluded_hosts": "spec.hard.excludedHosts",
                   "clusters": "spec.hard.clusters", "excluded_clusters": "spec.hard.excludedClusters",
                   "max_vms_per_host": "spec.antiAffinity.hostAntiAffinity.maxVMsPerHost",
                   "max_vms_per_cluster": "spec.antiAffinity.clusterAntiAffinity.maxVMsPerCluster"}


def _at(spec: Mapping[str, Any], dotted: str) -> Any:
    value: Any = spec
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _resource_terms(rules: Mapping[str, Any], path: str, option: str) -> tuple[Term, ...]:
    terms = []
    for kind, required in (("requiredDuringScheduling", True), ("preferredDuringScheduling", False)):
        for index, item in enumerate(rules.get(kind) or ()):
            rule = "%s.%s[%d]" % (path, kind, index)
            term, weight = (item, 1) if required else (item.get("vmAffinityTerm") or {}, item.get("weight") or 1)
            selector = term.get("labelSelector") or {}
            for unsupported in ("namespaces", "namespaceSelector", "matchExpressions"):
                if term.get(unsupported) or (unsupported == "matchExpressions" and selector.get(unsupported)):
                    raise SpecError("%s.%s is not honoured here: give matchLabels" % (rule, unsupported), option=option)
            terms.append(Term(rule, label_tags(selector.get("matchLabels"), "%s: %s.labelSelector.matchLabels"
                                               % (option, rule)),
                              _topology(term.get("topologyKey"), "%s: %s.topologyKey" % (option, rule)),
                              required, weight))
    return tuple(terms)


def _scoped(spec: Mapping[str, Any], path: str) -> tuple[Optional[Mapping[str, Any]], bool]:
    """An enabled host or cluster (anti-)affinity block and whether it is strict."""
    block = _at(spec, path)
    if not isinstance(block, Mapping) or not block.get("enabled"):
        return None, False
    return block, block.get("scope", "strict") == "strict"


def parse_resource(obj: Mapping[str, Any], option: str, group: frozenset[str]) -> Policy:
    """A VMPlacementPolicy object, as the Kubernetes API returns it.  ``group`` is what the VMs placed together
    carry, for host and cluster anti-affinity without labels.

    Raises:
        SpecError: a field the choice of a host here cannot honour, named with ``option``.
    """
    name = (obj.get("metadata") or {}).get("name") or "?"
    spec = obj.get("spec") or {}
    for path in _UNHONOURED:
        if _at(spec, path):
            raise SpecError("VMPlacementPolicy '%s' sets spec.%s, which placement here does not honour; only host "
                            "and cluster lists, host, cluster and VM (anti-)affinity are" % (name, path), option=option)
    hosts, clusters = list(_at(spec, "hard.hosts") or ()), list(_at(spec, "hard.clusters") or ())
    preferred_hosts, preferred_clusters = list(_at(spec, "soft.hosts") or ()), list(_at(spec, "soft.clusters") or ())
    for key, strict_list, soft_list, listed in (("host", hosts, preferred_hosts, "preferredHosts"),
                                                ("cluster", clusters, preferred_clusters, "preferredClusters")):
        block, strict = _scoped(spec, "affinity.%sAffinity" % key)
        if block is not None:
            (strict_list if strict else soft_list).extend(block.get(listed) or ())
    limits: dict[str, Optional[int]] = {"host": None, "cluster": None}
    soft_anti = []
    for key, limit_key in (("host", "maxVMsPerHost"), ("cluster", "maxVMsPerCluster")):
        block, strict = _scoped(spec, "antiAffinity.%sAntiAffinity" % key)
        if block is not None and strict:
            limits[key] = block.get(limit_key) or 1
        elif block is not None:
            soft_anti.append(Term("spec.antiAffinity.%sAntiAffinity" % key, group, key))
    return Policy(
        name=name, hosts=tuple(hosts), excluded_hosts=tuple(_at(spec, "hard.excludedHosts") or ()),
        clusters=tuple(clusters), excluded_clusters=tuple(_at(spec, "hard.excludedClusters") or ()),
        preferred_hosts=tuple(preferred_hosts), preferred_clusters=tuple(preferred_clusters),
        max_vms_per_host=limits["host"], max_vms_per_cluster=limits["cluster"],
        affinity=_resource_terms(_at(spec, "affinity.vmAffinity") or {}, "spec.affinity.vmAffinity", option),
        anti_affinity=tuple(soft_anti) + _resource_terms(
            _at(spec, "antiAffinity.vmAntiAffinity") or {}, "spec.antiAffinity.vmAntiAffinity", option),
        paths=_RESOURCE_PATHS,
    )
