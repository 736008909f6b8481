# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement policies: parsing the option and the resource, and choosing hosts, without a backend."""

from __future__ import annotations

from collections import Counter

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import PreconditionError, SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.placement import (
    Host,
    Placed,
    Policy,
    choose,
    parse_inline,
    parse_resource,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.placing import read_policy

NODES = [Host("pve1"), Host("pve2"), Host("pve3")]
VSPHERE = [Host("DC0_C0_H0", "DC0_C0"), Host("DC0_C0_H1", "DC0_C0"), Host("DC0_H0")]
GROUP = frozenset({"vmset.web"})
WEB = frozenset({"vmset.web", "app.web"})


def new(count, start=0, tags=WEB):
    return [Placed("web-%d" % ordinal, None, tags) for ordinal in range(start, start + count)]


def where(choice):
    return Counter(choice.hosts.values())


def inline(**options):
    return parse_inline(options)


ANTI = [{"labels": {"app": "web"}, "topology_key": "host"}]


def test_six_with_soft_anti_affinity_land_two_per_node():
    choice = choose(inline(anti_affinity=ANTI), NODES, [], new(6), GROUP)
    assert where(choice) == {"pve1": 2, "pve2": 2, "pve3": 2}


def test_vms_already_there_count_and_others_do_not():
    there = [Placed("web-0", "pve1", WEB), Placed("web-1", "pve1", WEB), Placed("db", "pve2", frozenset({"app.db"}))]
    choice = choose(inline(anti_affinity=ANTI), NODES, there, new(1, 2), GROUP)
    assert choice.hosts == {"web-2": "pve2"}


def test_spread_overrides_a_preferred_host():
    there = [Placed("web-%d" % i, host, WEB) for i, host in enumerate(["pve1"] * 3 + ["pve2"] * 2 + ["pve3"] * 2)]
    policy = inline(preferred_hosts=["pve1"], spread=[{"max_skew": 1}])
    assert choose(policy, NODES, there, new(1, 7), GROUP).hosts == {"web-7": "pve2"}
    assert choose(inline(preferred_hosts=["pve1"]), NODES, there, new(1, 7), GROUP).hosts == {"web-7": "pve1"}


def test_a_limit_no_host_can_keep_is_refused_naming_it():
    with pytest.raises(PreconditionError) as caught:
        choose(inline(max_vms_per_host=3), NODES, [], new(10), GROUP)
    assert caught.value.vm == "web-9"
    assert "placement_policy.max_vms_per_host (3) rules out pve1" in caught.value.msg
    assert caught.value.option == "placement_policy"


def test_required_anti_affinity_and_affinity():
    strict = inline(anti_affinity=[dict(ANTI[0], required=True)])
    assert where(choose(strict, NODES, [], new(3), GROUP)) == {"pve1": 1, "pve2": 1, "pve3": 1}
    with pytest.raises(PreconditionError, match=r"anti_affinity\[0\]"):
        choose(strict, NODES, [], new(4), GROUP)
    db = [Placed("db", "pve3", frozenset({"app.db"}))]
    near_db = inline(affinity=[{"labels": {"app": "db"}, "required": True}])
    assert set(choose(near_db, NODES, db, new(2), GROUP).hosts.values()) == {"pve3"}
    with pytest.raises(PreconditionError, match=r"affinity\[0\]"):
        choose(near_db, NODES, [], new(1), GROUP)


def test_the_first_vm_of_a_self_affine_group_goes_anywhere():
    together = inline(affinity=[{"labels": {"app": "web"}, "required": True}])
    assert set(choose(together, NODES, [], new(3), GROUP).hosts.values()) == {"pve1"}


def test_host_and_cluster_lists():
    assert set(choose(inline(clusters=["DC0_C0"]), VSPHERE, [], new(4), GROUP).hosts.values()) == {
        "DC0_C0_H0", "DC0_C0_H1"}
    assert set(choose(inline(excluded_hosts=["pve1"]), NODES, [], new(4), GROUP).hosts.values()) == {"pve2", "pve3"}
    assert where(choose(inline(max_vms_per_cluster=1), VSPHERE, [], new(2), GROUP)) == {"DC0_C0_H0": 1, "DC0_H0": 1}
    with pytest.raises(SpecError, match="host 'pve9' not found") as caught:
        choose(inline(hosts=["pve9"]), NODES, [], new(1), GROUP)
    assert caught.value.option == "placement_policy.hosts"
    with pytest.raises(PreconditionError, match="no host of"):
        choose(inline(hosts=["pve1"], excluded_hosts=["pve1"]), NODES, [], new(1), GROUP)


def test_one_host_confirms_vms_that_do_not_say_where_they_are():
    uri = [Host("qemu:///system")]
    there = [Placed("web-0", None, WEB)]
    with pytest.raises(PreconditionError, match="max_vms_per_host"):
        choose(inline(max_vms_per_host=1), uri, there, new(1, 1), GROUP)


def test_existing_vms_that_break_the_policy_are_reported_not_moved():
    there = [Placed("web-0", "pve1", WEB), Placed("web-1", "pve1", WEB)]
    choice = choose(inline(max_vms_per_host=1), NODES, there, new(1, 2), GROUP)
    assert choice.hosts == {"web-2": "pve2"}
    assert [item["name"] for item in choice.unmoved] == ["web-0", "web-1"]
    choice = choose(inline(excluded_hosts=["pve1"]), NODES, there, [], GROUP)
    assert choice.unmoved[0]["rule"] == "placement_policy.excluded_hosts"


@pytest.mark.parametrize("options, option", [
    ({"anti_affinity": [{"labels": {}, "topology_key": "host"}]}, "placement_policy.anti_affinity[0].labels"),
    ({"anti_affinity": [{"labels": {"a": "b"}, "topology_key": "rack"}]},
     "placement_policy.anti_affinity[0].topology_key"),
    ({"spread": [{"max_skew": 0}]}, "placement_policy.spread[0].max_skew"),
    ({"max_vms_per_host": 0}, "placement_policy.max_vms_per_host"),
])
def test_bad_options_are_named(options, option):
    with pytest.raises(SpecError) as caught:
        parse_inline(options)
    assert caught.value.option == option


def resource(spec):
    return {"apiVersion": "infra.virtrigaud.io/v1beta1", "kind": "VMPlacementPolicy",
            "metadata": {"name": "spread-web", "namespace": "apps"}, "spec": spec}


def test_a_resource_reads_lists_limits_and_terms():
    policy = parse_resource(resource({
        "hard": {"hosts": ["pve1", "pve2"], "excludedClusters": ["old"]},
        "soft": {"hosts": ["pve2"]},
        "antiAffinity": {"hostAntiAffinity": {"enabled": True, "maxVMsPerHost": 2, "scope": "strict"},
                         "vmAntiAffinity": {"preferredDuringScheduling": [
                             {"weight": 10, "vmAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                                               "topologyKey": "kubernetes.io/hostname"}}]}},
        "affinity": {"vmAffinity": {"requiredDuringScheduling": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "cluster"}]}},
        "priority": 10, "weight": 50,
    }), "placement_policy_ref", GROUP)
    assert policy.name == "spread-web"
    assert policy.hosts == ("pve1", "pve2") and policy.preferred_hosts == ("pve2",)
    assert policy.excluded_clusters == ("old",) and policy.max_vms_per_host == 2
    assert policy.anti_affinity[0].weight == 10 and policy.anti_affinity[0].tags == frozenset({"app.web"})
    assert policy.affinity[0].required and policy.affinity[0].topology == "cluster"
    with pytest.raises(PreconditionError, match=r"VMPlacementPolicy 'spread-web' spec.affinity.vmAffinity"
                                                r".requiredDuringScheduling\[0\] rules out pve1"):
        choose(policy, NODES, [], new(1), GROUP)


def test_a_preferred_host_anti_affinity_in_a_resource_spreads_the_group():
    policy = parse_resource(resource({"antiAffinity": {"hostAntiAffinity": {"enabled": True, "scope": "preferred"}}}),
                            "placement_policy_ref", GROUP)
    assert where(choose(policy, NODES, [], new(6), GROUP)) == {"pve1": 2, "pve2": 2, "pve3": 2}


@pytest.mark.parametrize("spec, field", [
    ({"hard": {"datastores": ["ds1"]}}, "spec.hard.datastores"),
    ({"resourceConstraints": {"maxCPUUtilization": 80}}, "spec.resourceConstraints"),
    ({"affinity": {"zoneAffinity": {"enabled": True}}}, "spec.affinity.zoneAffinity"),
    ({"antiAffinity": {"vmAntiAffinity": {"requiredDuringScheduling": [
        {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "topologyKey": "host"}]}}},
     "matchExpressions"),
])
def test_a_resource_field_not_honoured_is_refused_by_name(spec, field):
    with pytest.raises(SpecError) as caught:
        parse_resource(resource(spec), "placement_policy_ref", GROUP)
    assert field in caught.value.msg and caught.value.option == "placement_policy_ref"


def test_an_empty_policy_balances_by_group():
    assert where(choose(Policy(), NODES, [], new(3), GROUP)) == {"pve1": 1, "pve2": 1, "pve3": 1}


def test_a_policy_by_name_is_read_from_its_namespace_and_a_missing_one_named():
    stored = {("VMPlacementPolicy", "spread-web", "apps"): resource({"hard": {"hosts": ["pve1"]}})}
    opened = []

    def reader():
        opened.append(True)
        return lambda kind, name, namespace: stored.get((kind, name, namespace))

    by_name = read_policy({"placement_policy_ref": {"name": "spread-web", "namespace": "apps"}}, reader, GROUP)
    assert by_name.hosts == ("pve1",) and by_name.subject == "VMPlacementPolicy 'spread-web'"
    with pytest.raises(SpecError, match="no VMPlacementPolicy 'spread-web' in namespace 'default'") as caught:
        read_policy({"placement_policy_ref": {"name": "spread-web"}}, reader, GROUP)
    assert caught.value.option == "placement_policy_ref"
    opened.clear()
    assert read_policy({"placement_policy": {"hosts": ["pve2"]}}, reader, GROUP).hosts == ("pve2",)
    assert read_policy({}, reader, GROUP) is None and not opened
