# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from virtrigaud_runtime.spoke import vdc

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError

PAYLOAD = {"vdc_name": "team-a", "target_namespace": "vdc-org-acme-team-a", "organization": "acme",
           "zone_id": "z1", "quota": {"cpu": 4, "memory": 8, "storage": 100}, "network_policy": ""}


def test_objects():
    objects, deny = vdc.vdc_objects(PAYLOAD)
    assert deny and [obj["kind"] for obj in objects] == ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy"]
    assert objects[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ovim"
    assert objects[1]["spec"]["hard"] == {"requests.cpu": "4", "limits.cpu": "4", "requests.memory": "8Gi",
                                          "limits.memory": "8Gi", "requests.storage": "100Gi"}
    assert objects[3]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert vdc.path_of(objects[3]) == ("/apis/networking.k8s.io/v1/namespaces/vdc-org-acme-team-a/networkpolicies/"
                                       "ovim-vdc-default-deny")
    assert len(vdc.vdc_objects(dict(PAYLOAD, network_policy="allow-all"))[0]) == 3


@pytest.mark.parametrize("change,option", [
    ({"target_namespace": "Bad_NS"}, "target_namespace"), ({"vdc_name": None}, "vdc_name"),
    ({"quota": {"cpu": -1}}, "quota.cpu"), ({"quota": {"memory": "8"}}, "quota.memory"),
    ({"network_policy": "sometimes"}, "network_policy"), ({"organization": "a b"}, "organization"),
])
def test_refused_by_field(change, option):
    with pytest.raises(SpecError) as raised:
        vdc.vdc_objects(dict(PAYLOAD, **change))
    assert raised.value.option == option


def test_usage_in_the_hubs_units():
    quota = {"status": {"hard": {"requests.cpu": "4", "requests.memory": "8Gi", "requests.storage": "100Gi"},
                        "used": {"requests.cpu": "500m", "requests.memory": "2Gi", "pods": "3"}}}
    found = vdc.usage(quota, 2)
    assert (found["cpu_used"], found["cpu_capacity"], found["cpu_percent"]) == (500, 4000, 12.5)
    assert (found["memory_used"], found["memory_capacity"]) == (2 * 1024 ** 3, 8 * 1024 ** 3)
    assert (found["storage_used"], found["pod_count"], found["vm_count"]) == (0, 3, 2)
    assert vdc.usage(None, 0)["cpu_percent"] == 0.0
    assert vdc.usage({"spec": {"hard": {"requests.cpu": "2"}}}, 0)["cpu_capacity"] == 2000
