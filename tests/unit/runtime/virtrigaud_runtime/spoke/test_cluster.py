# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from virtrigaud_runtime.spoke import cluster

GI = 1024 ** 3
NODES = [{"metadata": {"name": "n1", "labels": {"zone": "a"}},
          "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"},
                     "conditions": [{"type": "Ready", "status": "True",
                                     "lastTransitionTime": "2025-01-01T00:00:00Z"}]}},
         {"metadata": {"name": "n2"}, "status": {"allocatable": {"cpu": "2000m", "memory": "4Gi"}}}]
PODS = [{"spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                                                   {"resources": {"requests": {"cpu": "1"}}}]},
         "status": {"phase": "Running"}},
        {"spec": {"nodeName": "n2", "containers": [{"resources": {"requests": {"cpu": "9"}}}]},
         "status": {"phase": "Succeeded"}}]


def test_requests_stand_in_for_use_without_the_metrics_api():
    found = cluster.cluster_metrics(NODES, PODS, None, 3, ("c1", "z1"), "2025-01-01T00:00:00Z")
    resources = found["resources"]
    assert (resources["cpu_used"], resources["cpu_capacity"], resources["cpu_percent"]) == (1500, 6000, 25.0)
    assert (resources["memory_used"], resources["memory_capacity"]) == (GI, 12 * GI)
    assert (resources["node_count"], resources["pod_count"], resources["vm_count"]) == (2, 1, 3)
    assert [n["status"] for n in found["node_status"]] == ["Ready", "NotReady"]
    assert found["node_status"][0]["conditions"][0]["last_transition_time"] == "2025-01-01T00:00:00Z"


def test_measured_use_wins():
    found = cluster.cluster_metrics(NODES, PODS, {"n1": (3000, 2 * GI)}, 0, ("c1", "z1"), "t")
    assert (found["resources"]["cpu_used"], found["resources"]["memory_used"]) == (3000, 2 * GI)
