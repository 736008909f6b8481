# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A placement policy put to work for a module: read it (inline, or a VMPlacementPolicy through Kubernetes),
ask the provider where VMs can go and what stands where, and let :mod:`.placement` choose."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping, Optional

from .errors import SpecError
from .placement import Choice, Placed, Policy, choose, parse_inline, parse_resource
from .providers.base import ObservedVM, Provider
from .spec import VMSpec
from .vmset import SET_TAG, Member, SetPlan, SetSpec

# (kind, name, namespace) -> the object, or None: Kube.get.
Reader = Callable[[str, str, Optional[str]], Optional[dict[str, Any]]]


# The key under which a manifest's options carry the VMPlacementPolicy its placementRef names, found among the
# documents beside it rather than in the cluster.
POLICY_RESOURCE = "placement_policy_resource"


def read_policy(params: Mapping[str, Any], reader: Callable[[], Reader], group: frozenset[str]) -> Optional[Policy]:
    """The task's policy, or None.  ``reader`` opens the Kubernetes connection, only for a policy by name.

    Raises:
        SpecError: both forms given, the policy missing, or a rule that cannot be honoured, named.
    """
    inline, ref = params.get("placement_policy"), params.get("placement_policy_ref")
    if inline and ref:
        raise SpecError("give the policy inline or by name, not both", option="placement_policy_ref")
    resource = params.get(POLICY_RESOURCE)
    if resource is not None:
        if inline or ref:
            raise SpecError("the definition's placementRef names the policy; leave this option out",
                            option="placement_policy" if inline else "placement_policy_ref")
        return parse_resource(resource, "definition", group)
    if inline:
        return parse_inline(inline)
    if not ref:
        return None
    namespace = ref.get("namespace") or params.get("namespace") or "default"
    found = reader()("VMPlacementPolicy", ref["name"], namespace)
    if found is None:
        raise SpecError("no VMPlacementPolicy '%s' in namespace '%s'" % (ref["name"], namespace),
                        option="placement_policy_ref")
    return parse_resource(found, "placement_policy_ref", group)


def refuse_fixed_host(spec: VMSpec, option: str) -> None:
    if spec.placement.host:
        raise SpecError("a placement policy chooses the host; leave %s out" % option, option="placement_policy")


def placed(vms: Iterable[ObservedVM], leaving: Iterable[str] = ()) -> list[Placed]:
    """The VMs that stay, where the provider says they are."""
    gone = set(leaving)
    return [Placed(vm.name, vm.placement.host, frozenset(vm.tags)) for vm in vms if vm.name not in gone]


def place(provider: Provider, policy: Policy, vms: list[Placed], new: list[Placed], group: frozenset[str]) -> Choice:
    """Hosts for ``new``.  With a single host to go to there is nothing to pin: the choice only confirms it.

    Raises:
        SpecError, PreconditionError: as :func:`.placement.choose`.
    """
    hosts = provider.placement_hosts()
    choice = choose(policy, hosts, vms, new, group)
    return choice if len(hosts) > 1 else dataclasses.replace(choice, pinned=False)


def on_host(spec: VMSpec, host: Optional[str]) -> VMSpec:
    return dataclasses.replace(spec, placement=dataclasses.replace(spec.placement, host=host)) if host else spec


def report(policy: Policy, choice: Choice) -> dict[str, Any]:
    """What the module returns as ``placement``."""
    return {"policy": policy.subject, "hosts": dict(sorted(choice.hosts.items())), "unmoved": list(choice.unmoved)}


def place_set(provider: Provider, policy: Policy, spec: SetSpec, the_plan: SetPlan, members: list[Member],
              vms: list[ObservedVM]) -> Choice:
    """Hosts for the members a set's plan makes; a recreated member goes back where it was.

    Raises:
        SpecError, PreconditionError: as :func:`.placement.choose`.
    """
    refuse_fixed_host(spec.member_spec(spec.start), "template.placement.host")
    existing = {member.name: member for member in members}
    new = [Placed(step.member, None, frozenset(spec.member_spec(step.ordinal).tags or ()))
           for step in the_plan.creates + the_plan.surges if step.member not in existing]
    leaving = [step.member for step in the_plan.deletes] + [vm.name for vm in new]
    choice = place(provider, policy, placed(vms, leaving), new, frozenset({SET_TAG + spec.name}))
    back: dict[str, str] = {}
    for step in the_plan.updates:
        host = existing[step.member].vm.placement.host if step.action == "recreate" else None
        if host:
            back[step.member] = host
    return dataclasses.replace(choice, hosts={**choice.hosts, **back}) if back else choice
