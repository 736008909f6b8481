# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spoke's local API read and summarised: counts from the Prometheus text, else from the status."""

from __future__ import annotations

import json

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import NotFoundError, SpecError, UnavailableError
from ansible_collections.virtrigaud.core.plugins.module_utils.spoke_info import read_spoke, read_spoke_in

STATUS = {"agent_id": "spoke-a", "cluster_id": "east-1", "state": "Healthy", "status": "healthy",
          "last_hub_contact": "2026-11-30T01:00:00Z", "queue_depth": 1, "results_pending": 0,
          "operations": {"create_vm/completed": 2, "create_vm/failed": 1}}
METRICS = """# HELP ovim_spoke_operations_total operations run, by type and outcome
# TYPE ovim_spoke_operations_total counter
ovim_spoke_operations_total{outcome="completed",type="create_vm"} 2.0
ovim_spoke_operations_total{outcome="failed",type="create_vm"} 1.0
ovim_spoke_operations_total{outcome="completed",type="get_health"} 5.0
ovim_spoke_operations_created{outcome="completed",type="get_health"} 1.7e+09
ovim_spoke_queue_depth 3.0
ovim_spoke_results_pending 0.0
"""


def fetcher(answers):
    def fetch(url, timeout):
        for path, answer in answers.items():
            if url.endswith(path):
                if isinstance(answer, Exception):
                    raise answer
                return answer
        return 404, b"{}"
    return fetch


def test_counts_and_gauges_from_the_metrics():
    spoke = read_spoke("http://spoke:8080/", 5, fetcher({"/health/status": (200, json.dumps(STATUS).encode()),
                                                         "/health/ready": (200, b"{}"),
                                                         "/metrics": (200, METRICS.encode())}))
    assert spoke["operations"] == {"create_vm": {"completed": 2, "failed": 1},
                                   "get_health": {"completed": 5, "failed": 0}}
    assert spoke["operations_total"] == {"completed": 7, "failed": 1}
    assert spoke["queue_depth"] == 3 and spoke["ready"] is True and spoke["metrics_enabled"] is True


def test_counts_from_the_status_when_metrics_are_off():
    spoke = read_spoke("http://spoke:8080", 5, fetcher({"/health/status": (200, json.dumps(STATUS).encode()),
                                                        "/health/ready": (503, b"{}")}))
    assert spoke["operations"] == {"create_vm": {"completed": 2, "failed": 1}}
    assert spoke["queue_depth"] == 1 and spoke["ready"] is False and spoke["metrics_enabled"] is False


@pytest.mark.parametrize("answers", [
    {"/health/status": OSError("connection refused")},
    {"/health/status": (404, b"{}")},
    {"/health/status": (200, b"<html>")},
    {"/health/status": (200, b'{"something": "else"}'), "/health/ready": (200, b""), "/metrics": (404, b"")},
])
def test_what_is_not_a_spoke_is_unavailable(answers):
    with pytest.raises(UnavailableError):
        read_spoke("http://spoke:8080", 5, fetcher(answers))


@pytest.mark.parametrize("url", ["ftp://spoke", "spoke:8080", "http://user@spoke:8080", "http://spoke:8080/?x=1"])
def test_bad_urls_are_refused_by_name(url):
    with pytest.raises(SpecError) as err:
        read_spoke(url, 5, fetcher({}))
    assert err.value.option == "url"


class _Kube:
    """The part of Kube that read_spoke_in uses: the Service, and GETs through the API server's proxy."""

    base = "https://api:6443"

    def __init__(self, service, answers):
        self.service, self.answers, self.paths = service, answers, []

    def get(self, kind, name, namespace):
        assert (kind, name) == ("Service", "ovim-spoke-agent")
        return self.service

    def raw_get(self, path, timeout):
        self.paths.append(path)
        return fetcher(self.answers)(path, timeout)


def test_by_namespace_through_the_service_proxy():
    kube = _Kube({"spec": {"ports": [{"name": "http", "port": 8080}]}},
                 {"/health/status": (200, json.dumps(STATUS).encode()), "/health/ready": (200, b"{}")})
    spoke = read_spoke_in(kube, "ovim-system", 5)
    assert spoke["agent_id"] == "spoke-a" and spoke["ready"] is True
    assert kube.paths[0] == "/api/v1/namespaces/ovim-system/services/http:ovim-spoke-agent:8080/proxy/health/status"


def test_by_namespace_without_the_agent():
    with pytest.raises(NotFoundError) as err:
        read_spoke_in(_Kube(None, {}), "ovim-east", 5)
    assert err.value.option == "namespace" and "ovim-east" in err.value.msg
    with pytest.raises(UnavailableError, match="ovim-system/ovim-spoke-agent"):
        read_spoke_in(_Kube({"spec": {}}, {"/health/status": (503, b"no endpoints available")}), "ovim-system", 5)
