#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_vmset
short_description: Converge a whole set of VMs in one task, in parallel, with VMSet semantics
version_added: 0.1.0
description:
  - Manages replicas of one VM template on any provider, as upstream VirtRigaud's C(VMSet) describes them.
    Members are named C(<name>-<ordinal>).
  - Scaling up creates the missing ordinals; scaling down removes the highest ordinals first.
  - A template change rolls out per O(update_strategy). V(RollingUpdate) updates members in place, highest
    ordinal first, and power-cycles a member only when a change needs it. Ordinals below
    O(update_strategy.rolling_update.partition) keep the old template, and no more than
    O(update_strategy.rolling_update.max_unavailable) members are ever down, counting those down for other
    reasons. V(Recreate) removes outdated members and creates them again. V(OnDelete) changes only the members
    created from now on.
  - Members carry the tags C(vmset.<name>) and C(vmset-rev.<revision>), plus one tag C(<key>.<value>) per label.
    So one bulk listing tells where the set stands, and a run with nothing to change costs one query.
    Settings that only apply at creation (O(template.image), O(template.firmware)) reach existing members only
    through V(Recreate), or when a member is removed and created again; a member whose secure boot differs from
    O(template.secure_boot) is refused by name in an update.
  - Backend calls for different members run at the same time, up to O(parallelism), with each worker on its own
    connection, and start no faster than O(rate_limit) allows.
  - When members fail, the task fails and names every failed member and why. The other members of a wave
    finish, and a rolling update stops taking members down. A second run finishes the job.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.kubernetes
  - virtrigaud.core.kubernetes.unused
  - virtrigaud.core.vm_template
  - virtrigaud.core.placement_policy
  - virtrigaud.core.attributes
attributes:
  check_mode:
    support: full
    details: Returns the exact per-member plan a real run carries out.
  diff_mode:
    support: full
    details: The set's replicas and each member's revision, before and after.
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change.
options:
  name:
    description:
      - The set's name, 1-50 lower-case letters, digits and V(-). Members are C(<name>-<ordinal>).
      - Required unless O(definition) gives it.
    type: str
  definition:
    description:
      - A C(VMSet) manifest instead of the options, so one file serves Kubernetes and Ansible. A list of
        documents may also hold the C(VMClass), C(VMImage), C(VMNetworkAttachment) and C(VMPlacementPolicy)
        objects the template refers to, as in a file for C(kubectl apply). The policy that the template's
        C(placementRef) names places the members as O(placement_policy_ref) does.
      - The set's name, replicas, ordinals, update strategy, minimum ready time, labels (selector and template)
        and template come from it; O(update_strategy) defaults follow the CRD (25%).
      - Its content is not hidden from logs; keep secrets out of it and give cloud-init user data through
        O(template.cloud_init.user_data) instead.
    type: raw
  state:
    description: V(present) converges the set; V(absent) removes every member.
    type: str
    choices: [present, absent]
    default: present
  replicas:
    description: How many members, 0-1000.
    type: int
    default: 1
  ordinals:
    description: Where member numbering starts.
    type: dict
    default: {}
    suboptions:
      start:
        description: The first ordinal.
        type: int
        default: 0
  labels:
    description:
      - Labels of the members (upstream's selector and template labels), each kept as a tag C(<key>.<value>).
      - Keys and values take lower-case letters, digits, V(-), V(_) and V(.).
    type: dict
    default: {}
  update_strategy:
    description: How a template change reaches existing members.
    type: dict
    default: {}
    suboptions:
      type:
        description: The strategy.
        type: str
        choices: [RollingUpdate, OnDelete, Recreate]
        default: RollingUpdate
      rolling_update:
        description: Settings of V(RollingUpdate).
        type: dict
        default: {}
        suboptions:
          max_unavailable:
            description:
              - How many members may be down at once, a count or a percentage of O(replicas) (rounded down, at
                least one unless O(update_strategy.rolling_update.max_surge) is set).
            type: raw
            default: 1
          max_surge:
            description:
              - How many extra members may run during a rolling update, as a count or a percentage of
                O(replicas) (rounded up).
              - Before running members are updated in place, up to this many surge members are created with
                the new template at the ordinals just past the set (C(<name>-<replicas+start>) and up). While they
                are ready, as many more members may be down at once as there are surge members, on top of
                O(update_strategy.rolling_update.max_unavailable). They are removed when the update is done;
                when it stops half-way, they stay, and the next run reuses them.
              - With a surge, O(update_strategy.rolling_update.max_unavailable) may be 0.
            type: raw
            default: 0
          partition:
            description: Members with a lower ordinal keep the old template.
            type: int
            default: 0
  min_ready_seconds:
    description: How long an updated member must have been ready before the rolling update moves on.
    type: int
    default: 0
  ready_requires_ip:
    description: A member counts as ready only once it reports an IP address, not just when it runs.
    type: bool
    default: false
  parallelism:
    description:
      - How many members are worked on at once. By default 4, or 8 for vSphere and remote providers.
    type: int
  rate_limit:
    description: How fast member operations may start.
    type: dict
    default: {}
    suboptions:
      qps: {description: Operations started per second on average., type: float, default: 10}
      burst: {description: Operations that may start at once., type: int, default: 20}
  wait_timeout:
    description: How many seconds the whole task may take.
    type: int
    default: 1800
  shutdown_timeout:
    description: How long a member's guest gets to shut down before it is powered off, when a change needs that.
    type: int
    default: 120
seealso:
  - module: virtrigaud.core.virtrigaud_vmset_info
  - module: virtrigaud.core.virtrigaud_vm
"""

EXAMPLES = r"""
- name: Five web servers from one template
  virtrigaud.core.virtrigaud_vmset:
    name: web
    replicas: 5
    labels: {tier: web}
    template:
      cpu: 2
      memory: 2Gi
      image: debian-12.qcow2
      networks: [{name: lan, network: default}]
    update_strategy:
      type: RollingUpdate
      rolling_update:
        max_unavailable: 1
        partition: 0
    ready_requires_ip: true
    min_ready_seconds: 10

- name: Canary the next template on the two highest ordinals only
  virtrigaud.core.virtrigaud_vmset:
    name: web
    replicas: 5
    labels: {tier: web}
    template:
      cpu: 4
      memory: 4Gi
      image: debian-12.qcow2
      networks: [{name: lan, network: default}]
    update_strategy:
      rolling_update:
        partition: 3

- name: What would scaling down to two do?
  virtrigaud.core.virtrigaud_vmset:
    name: web
    replicas: 2
    labels: {tier: web}
    template:
      cpu: 4
      memory: 4Gi
      image: debian-12.qcow2
      networks: [{name: lan, network: default}]
  check_mode: true
  register: plan

- name: The same set from the manifest kubectl would apply (VMSet, VMClass, VMImage in one file)
  virtrigaud.core.virtrigaud_vmset:
    definition: "{{ lookup('ansible.builtin.file', 'web-vmset.yaml') | ansible.builtin.from_yaml_all | list }}"

- name: Six members, no two alike on one Proxmox VE node if it can be helped, and never more than one apart
  virtrigaud.core.virtrigaud_vmset:
    name: web
    replicas: 6
    labels: {app: web}
    template:
      cpu: 1
      memory: 1Gi
      image: debian-12
      networks: [{name: lan, bridge: vmbr0}]
    placement_policy:
      anti_affinity:
        - {labels: {app: web}, topology_key: host}
      spread:
        - {max_skew: 1, topology_key: host}

- name: The same, with the rules of a VMPlacementPolicy read from Kubernetes
  virtrigaud.core.virtrigaud_vmset:
    name: web
    replicas: 6
    labels: {app: web}
    template:
      cpu: 1
      memory: 1Gi
      image: debian-12
      networks: [{name: lan, bridge: vmbr0}]
    placement_policy_ref: {name: spread-web, namespace: apps}
    kubeconfig: ~/.kube/config

- name: Remove the set
  virtrigaud.core.virtrigaud_vmset:
    name: web
    state: absent
"""

RETURN = r"""
members:
  description: Every member after the run (before it, in check mode), with what was done to it.
  returned: always
  type: list
  elements: dict
  sample: [{name: web-0, ordinal: 0, id: 9b2e, revision: 3f9a1c2b7d, power_state: "On", ready: true,
            ip_addresses: [192.168.122.31], host: pve1, action: update, outcome: done}]
plan:
  description:
    - The per-member steps, in the order they run (those that would run, in check mode).
    - Actions are V(delete), V(start), V(create), V(surge) (a surge member brought up), V(update), V(recreate) and
      V(retire) (a surge member removed after the update).
    - With a placement policy, a step that makes a member says on which C(host) (predicted, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{member: web-4, ordinal: 4, action: delete, reason: scale down}]
placement:
  description: With a placement policy, where it put the members this run makes, and who stays put.
  returned: when O(placement_policy) or O(placement_policy_ref) is set and O(state=present)
  type: dict
  contains:
    policy:
      description: The policy, V(placement_policy) or C(VMPlacementPolicy '<name>').
      type: str
      returned: always
    hosts:
      description: The host of each member made (or recreated, where it was) by this run.
      type: dict
      returned: always
    unmoved:
      description:
        - Existing members standing where the policy would not put them now, each with its C(name), C(host) and
          the C(rule) it breaks. They are not moved; a warning names each.
      type: list
      elements: dict
      returned: always
  sample: {policy: placement_policy, hosts: {web-6: pve1}, unmoved: []}
status:
  description: The set's status as upstream's VMSet reports it.
  returned: always
  type: dict
  sample: {replicas: 5, desired_replicas: 5, ready_replicas: 5, current_replicas: 5, updated_replicas: 5,
           current_revision: 3f9a1c2b7d, update_revision: 3f9a1c2b7d, revisions: [3f9a1c2b7d]}
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import (
    group_spec,
    placement_policy_spec,
    set_run_spec,
    vm_spec,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import ProviderError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.vmset_document import set_options
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.placing import place_set, read_policy, report
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import RateLimiter
from ansible_collections.virtrigaud.core.plugins.module_utils.vmset import (
    SET_TAG,
    SetPlan,
    members_of,
    parse_set,
    plan_set,
    set_status,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.vmset_runner import SetRunner

DEFAULT_PARALLELISM = {"vsphere": 8, "remote": 8}


def member_view(member, spec, outcome=None):
    view = dict(member.to_dict(spec.require_ip), action=None, outcome=None)
    if outcome:
        view.update(action=outcome["action"], outcome=outcome["outcome"])
        if outcome.get("error"):
            view["error"] = outcome["error"]
    return view


def _diff(spec, before, after_plan):
    """Each member's revision before the run and after it (as planned)."""
    revisions = {m.name: m.revision for m in before}
    after = dict(revisions)
    for step in after_plan.steps:
        if step.action == "delete":
            after.pop(step.member, None)
        elif step.action in ("create", "update", "recreate"):
            after[step.member] = spec.revision
    return {"before": {"replicas": len(revisions), "members": revisions},
            "after": {"replicas": len(after), "members": dict(sorted(after.items()))}}


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = dict(m.params, **set_options(m.params["definition"])) if m.params["definition"] else m.params
    spec = parse_set(dict(p, template=p["template"] or {}, replicas=0 if p["state"] == "absent" else p["replicas"]))
    policy = read_policy(p, lambda: m.kube.get, frozenset({SET_TAG + spec.name})) if p["state"] == "present" else None
    provider = m.provider
    vms = provider.list_states()
    members = before = members_of(spec, vms)
    the_plan = plan_set(spec, members)
    if p["state"] == "absent":
        the_plan = SetPlan(the_plan.deletes, (), (), ())
    if the_plan.creates or any(step.action == "recreate" for step in the_plan.updates):
        provider.check_spec(spec.member_spec(spec.start))
    choice = place_set(provider, policy, spec, the_plan, members, vms) if policy else None
    hosts = dict(choice.hosts) if choice and choice.pinned else {}
    outcomes = {step.member: dict(step.to_dict(), outcome="planned") for step in the_plan.steps}
    if the_plan.steps and not m.check_mode:
        limiter = RateLimiter(p["rate_limit"]["qps"], p["rate_limit"]["burst"])
        parallelism = p["parallelism"] or DEFAULT_PARALLELISM.get(p["provider_type"], 4)
        runner = SetRunner(m.provider_config(), spec, parallelism, m.deadline(), limiter, p["shutdown_timeout"],
                           hosts=hosts)
        try:
            runner.run(the_plan, members, provider.list_states)
        finally:
            runner.close()
        outcomes = runner.outcomes
        members = members_of(spec, provider.list_states())
        failures = runner.failures
        if failures:
            detail = "; ".join("%s: %s" % (name, error) for name, error in sorted(failures.items()))
            raise ProviderError("%d of %d member steps failed (%s); run the task again to finish"
                                % (len(failures), len(the_plan.steps), detail),
                                operation="converge of VM set '%s'" % spec.name,
                                details={"members": [member_view(mb, spec, outcomes.get(mb.name)) for mb in members],
                                         "failed": failures})
    result = {
        "changed": bool(the_plan.steps),
        "plan": [dict(step.to_dict(), **({"host": hosts[step.member]} if step.member in hosts else {}))
                 for step in the_plan.steps],
        "members": [member_view(member, spec, outcomes.get(member.name)) for member in members]
        + _planned_members(the_plan, members, m.check_mode, hosts),
        "status": set_status(spec, members),
    }
    if policy and choice:
        result["placement"] = report(policy, choice)
        for item in choice.unmoved:
            m.warn("member %s stays on %s, where %s would not put it now; nothing moves existing members"
                   % (item["name"], item["host"], item["rule"]))
    if m.diff_mode:
        result["diff"] = _diff(spec, before, the_plan)
    return result


def _planned_members(the_plan, members, check_mode, hosts):
    """In check mode, the members the plan would create, which do not exist yet."""
    if not check_mode:
        return []
    existing = {member.name for member in members}
    return [{"name": step.member, "ordinal": step.ordinal, "id": None, "revision": None, "power_state": None,
             "ready": False, "ip_addresses": [], "host": hosts.get(step.member), "action": step.action,
             "outcome": "planned"}
            for step in the_plan.creates if step.member not in existing]


# How AnsibleModule, and the action plugin of the same name, check the options together.
OPTION_RULES: dict[str, Any] = {"required_one_of": [["name", "definition"]],
                                "mutually_exclusive": [["definition", "template"],
                                                       ["placement_policy", "placement_policy_ref"]]}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "name": {"type": "str"},
        "definition": {"type": "raw"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "replicas": {"type": "int", "default": 1},
        "ordinals": {"type": "dict", "default": {}, "options": {"start": {"type": "int", "default": 0}}},
        "template": {"type": "dict", "options": vm_spec()},
        "labels": {"type": "dict", "default": {}},
        "update_strategy": {"type": "dict", "default": {}, "options": {
            "type": {"type": "str", "default": "RollingUpdate", "choices": ["RollingUpdate", "OnDelete", "Recreate"]},
            "rolling_update": {"type": "dict", "default": {}, "options": {
                "max_unavailable": {"type": "raw", "default": 1},
                "max_surge": {"type": "raw", "default": 0},
                "partition": {"type": "int", "default": 0}}}}},
        "min_ready_seconds": {"type": "int", "default": 0},
        "ready_requires_ip": {"type": "bool", "default": False},
        "parallelism": {"type": "int"},
        **set_run_spec(),
        **placement_policy_spec(),
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
