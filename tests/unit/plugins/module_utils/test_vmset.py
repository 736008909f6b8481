# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VM sets: parsing, membership, revisions, plans and status, without a backend."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.vmset_document import set_options
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ObservedNIC, ObservedVM
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import RateLimiter
from ansible_collections.virtrigaud.core.plugins.module_utils.vmset import (
    REVISION_TAG,
    SET_TAG,
    members_of,
    parse_set,
    plan_set,
    set_status,
)

TEMPLATE = {"cpu": 1, "memory": "256Mi", "image": "base", "networks": [{"name": "lan", "network": "default"}]}


def spec(**changes):
    params = {"name": "web", "replicas": 3, "template": TEMPLATE, "labels": {"tier": "web"}}
    params.update(changes)
    return parse_set(params)


def vm(name, revision, power="On", set_name="web", ips=()):
    tags = (SET_TAG + set_name, REVISION_TAG + revision) if revision else (SET_TAG + set_name,)
    nics = (ObservedNIC(name="lan", ip_addresses=tuple(ips)),) if ips else ()
    return ObservedVM(id="id-" + name, name=name, power_state=power, tags=tags, nics=nics)


def steps(plan):
    return [(step.member, step.action) for step in plan.steps]


def test_members_are_named_and_tagged():
    current = spec().revision
    vms = [vm("web-0", current), vm("web-1", current), vm("web-10", current), vm("web-x", current),
           vm("web-2", current, set_name="api"), vm("webapp-3", current), vm("web-01", current)]
    assert [m.name for m in members_of(spec(), vms)] == ["web-0", "web-1", "web-10"]


def test_scale_up_down_and_below_the_start():
    current = spec().revision
    members = members_of(spec(), [vm("web-%d" % n, current) for n in range(5)])
    expected = [("web-4", "delete"), ("web-3", "delete"), ("web-2", "delete")]
    assert steps(plan_set(spec(replicas=2), members)) == expected
    assert steps(plan_set(spec(replicas=7), members)) == [("web-5", "create"), ("web-6", "create")]
    shifted = plan_set(spec(replicas=3, ordinals={"start": 2}), members)
    assert steps(shifted) == [("web-1", "delete"), ("web-0", "delete")]
    assert shifted.deletes[0].reason == "below ordinals.start"


def test_a_template_change_makes_a_new_revision_but_key_order_does_not():
    assert spec().revision == parse_set({"labels": {"tier": "web"}, "template": dict(reversed(list(TEMPLATE.items()))),
                                         "replicas": 3, "name": "web"}).revision
    assert spec().revision != spec(template=dict(TEMPLATE, cpu=2)).revision
    assert spec().revision != spec(labels={"tier": "api"}).revision


def test_rolling_update_goes_highest_first_above_the_partition():
    old = spec().revision
    members = members_of(spec(), [vm("web-%d" % n, old) for n in range(4)])
    new = spec(replicas=4, template=dict(TEMPLATE, cpu=2), update_strategy={"rolling_update": {"partition": 2}})
    assert steps(plan_set(new, members)) == [("web-3", "update"), ("web-2", "update")]
    ondelete = spec(replicas=4, template=dict(TEMPLATE, cpu=2), update_strategy={"type": "OnDelete"})
    assert steps(plan_set(ondelete, members)) == []
    recreate = spec(replicas=4, template=dict(TEMPLATE, cpu=2), update_strategy={"type": "Recreate"})
    assert {action for dummy, action in steps(plan_set(recreate, members))} == {"recreate"}


def test_surge_members_stand_in_during_an_in_place_roll_and_retire_after():
    old = spec().revision
    members = members_of(spec(), [vm("web-%d" % n, old) for n in range(3)])
    surging = spec(template=dict(TEMPLATE, cpu=2),
                   update_strategy={"rolling_update": {"max_surge": 2, "max_unavailable": 0}})
    assert surging.strategy.max_unavailable == 0
    assert steps(plan_set(surging, members)) == [
        ("web-3", "surge"), ("web-4", "surge"), ("web-2", "update"), ("web-1", "update"), ("web-0", "update"),
        ("web-4", "retire"), ("web-3", "retire")]


def test_a_surge_member_left_by_an_interrupted_roll_is_reused_not_deleted():
    old, new_template = spec().revision, dict(TEMPLATE, cpu=2)
    surging = spec(template=new_template, update_strategy={"rolling_update": {"max_surge": 1}})
    members = members_of(spec(), [vm("web-0", old), vm("web-1", surging.revision), vm("web-2", old),
                                  vm("web-3", surging.revision)])
    assert steps(plan_set(surging, members)) == [("web-2", "update"), ("web-0", "update"), ("web-3", "retire")]
    done = members_of(spec(), [vm("web-%d" % n, surging.revision) for n in range(4)])
    assert steps(plan_set(surging, done)) == [("web-3", "delete")]


def test_no_surge_for_stopped_members_or_other_strategies():
    old = spec().revision
    stopped = members_of(spec(), [vm("web-%d" % n, old, power="Off") for n in range(3)])
    surging = spec(template=dict(TEMPLATE, cpu=2), update_strategy={"rolling_update": {"max_surge": 1}})
    assert {action for dummy, action in steps(plan_set(surging, stopped))} == {"update"}
    recreate_strategy = {"type": "Recreate", "rolling_update": {"max_surge": 1}}
    recreate = spec(template=dict(TEMPLATE, cpu=2), update_strategy=recreate_strategy)
    running = members_of(spec(), [vm("web-%d" % n, old) for n in range(3)])
    assert {action for dummy, action in steps(plan_set(recreate, running))} == {"recreate"}


def test_stopped_current_members_are_started():
    current = spec().revision
    members = members_of(spec(), [vm("web-0", current), vm("web-1", current, power="Off"), vm("web-2", current)])
    assert steps(plan_set(spec(), members)) == [("web-1", "start")]


@pytest.mark.parametrize("value, replicas, expected", [(1, 10, 1), ("25%", 10, 2), ("0%", 10, 1), ("100%", 3, 3)])
def test_max_unavailable_resolves_like_kubernetes(value, replicas, expected):
    parsed = spec(replicas=replicas, update_strategy={"rolling_update": {"max_unavailable": value}})
    assert parsed.strategy.max_unavailable == expected


@pytest.mark.parametrize("changes, option", [
    ({"name": "Web"}, "name"),
    ({"name": "x" * 51}, "name"),
    ({"replicas": -1}, "replicas"),
    ({"replicas": 1001}, "replicas"),
    ({"ordinals": {"start": -2}}, "ordinals.start"),
    ({"update_strategy": {"type": "Blue"}}, "update_strategy.type"),
    ({"update_strategy": {"rolling_update": {"max_unavailable": "150%"}}},
     "update_strategy.rolling_update.max_unavailable"),
    ({"update_strategy": {"rolling_update": {"max_surge": "lots"}}}, "update_strategy.rolling_update.max_surge"),
    ({"labels": {"Tier": "web"}}, "labels"),
    ({"template": dict(TEMPLATE, name="web-0")}, "template.name"),
    ({"template": dict(TEMPLATE, memory="lots")}, "memory"),
    ({"min_ready_seconds": 4000}, "min_ready_seconds"),
    ({"name": "web\n"}, "name"),
    ({"labels": {"tier": "web\n"}}, "labels"),
    ({"parallelism": 0}, "parallelism"),
    ({"rate_limit": {"qps": 0.0, "burst": 20}}, "rate_limit.qps"),
    ({"rate_limit": {"qps": float("nan"), "burst": 20}}, "rate_limit.qps"),
    ({"rate_limit": {"qps": float("inf"), "burst": 20}}, "rate_limit.qps"),
    ({"rate_limit": {"qps": 10.0, "burst": 0}}, "rate_limit.burst"),
])
def test_bad_sets_name_the_option(changes, option):
    with pytest.raises(SpecError) as caught:
        spec(**changes)
    assert caught.value.option == option


def test_member_specs_carry_the_set_tags():
    parsed = spec(template=dict(TEMPLATE, tags=["app"]))
    member = parsed.member_spec(1)
    assert member.name == "web-1"
    assert set(member.tags) == {"app", "vmset.web", "vmset-rev." + parsed.revision, "tier.web"}
    assert member.power_state == "On"


def test_status_counts_like_upstream():
    parsed = spec(ready_requires_ip=True)
    old = spec(template=dict(TEMPLATE, cpu=4)).revision
    members = members_of(parsed, [vm("web-0", parsed.revision, ips=["10.0.0.2"]), vm("web-1", old),
                                  vm("web-2", old, ips=["10.0.0.4"])])
    status = set_status(parsed, members)
    assert status["replicas"] == 3 and status["ready_replicas"] == 2
    assert status["updated_replicas"] == 1 and status["current_revision"] == old
    assert status["revisions"] == sorted([old, parsed.revision])


def test_rate_limiter_spaces_calls_after_the_burst():
    clock = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(rate=2, burst=2, clock=lambda: clock[0], sleep=sleep)
    for dummy in range(4):
        limiter.acquire()
    assert waits == [0.5, 0.5]


def vmset(**spec):
    return {"apiVersion": "infra.virtrigaud.io/v1beta1", "kind": "VMSet", "metadata": {"name": "web"},
            "spec": dict({"selector": {}}, **spec)}


REFS = {"providerRef": {"name": "lab"}, "classRef": {"name": "small"}}


@pytest.mark.parametrize("definition, where", [
    (vmset(), "VMSet 'web', field spec.template: is required"),
    (dict(vmset(), spec="x"), "VMSet 'web', field spec: got str 'x'; the schema wants a mapping"),
    (dict(vmset(), metadata=[1]), "metadata is a list"),
    (vmset(template=[1]), "field spec.template: got list"),
    (vmset(template={"spec": dict(REFS, networks="lan")}), "field spec.template.spec.networks: got str"),
    (vmset(template={"spec": dict(REFS, disks=[5])}), "field spec.template.spec.disks[0]: got int"),
    (vmset(template={"spec": dict(REFS, powerState=True)}),
     'quote the word to keep it a string, as in powerState: "On"'),
    (vmset(template={"spec": dict(REFS, snapshot={"revertToRef": {"name": "s"}})}),
     "field snapshot.revertToRef.name is not carried out"),
    (vmset(template={"spec": REFS}), "classRef names VMClass 'small', which is not among the documents"),
    ([vmset(template={"spec": REFS}), {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}],
     "Secret 's': this module takes documents of kind VMSet, VMClass"),
])
def test_misshapen_manifests_name_the_definition(definition, where):
    with pytest.raises(SpecError) as caught:
        set_options(definition)
    assert caught.value.option == "definition"
    assert where in caught.value.message
