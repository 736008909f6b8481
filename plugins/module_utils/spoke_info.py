# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an OVIM spoke agent's local API says about it: its detailed status and its Prometheus metrics, read
and summarised (runtime/virtrigaud_runtime/spoke/api.py serves both), at its URL or, by the namespace of its
Deployment, through the Kubernetes API server's proxy to the agent's Service."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from .errors import NotFoundError, SpecError, UnavailableError
from .kube.client import Kube
from .kube.spoke import API_PORT, NAME

# One sample of the operations counter: ovim_spoke_operations_total{type="create_vm",outcome="completed"} 3.0
_OPERATIONS = re.compile(r'^ovim_spoke_operations_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_GAUGES = {"ovim_spoke_queue_depth": "queue_depth", "ovim_spoke_results_pending": "results_pending"}
# What the result keeps of /health/status.
STATUS_KEYS = ("agent_id", "cluster_id", "zone_id", "version", "state", "status", "last_hub_contact", "hub_error",
               "backend_type", "backend_ok", "backend_message", "hub_endpoint", "callback_url", "vm_count",
               "queue_depth", "results_pending", "report_interval_seconds", "log_level", "uptime_seconds")
# Reads the URL with a timeout: (HTTP status, body); raises OSError when nothing answers.
Fetch = Callable[[str, float], tuple[int, bytes]]


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.username:
        raise SpecError("expected the spoke's local API as an http(s) URL of a host, such as "
                        "http://10.0.0.5:8080, without user or query", option="url")
    return url.rstrip("/")


def operation_counts(metrics: str) -> dict[str, dict[str, int]]:
    """Operations by type, then by outcome (completed, failed), from the Prometheus text."""
    counts: dict[str, dict[str, int]] = {}
    for line in metrics.splitlines():
        found = _OPERATIONS.match(line.strip())
        if found:
            labels = dict(_LABEL.findall(found.group("labels")))
            by_outcome = counts.setdefault(labels.get("type", ""), {"completed": 0, "failed": 0})
            by_outcome[labels.get("outcome", "")] = int(float(found.group("value")))
    return counts


def gauges(metrics: str) -> dict[str, int]:
    found = {}
    for line in metrics.splitlines():
        name, dummy, value = line.strip().partition(" ")
        if name in _GAUGES:
            found[_GAUGES[name]] = int(float(value))
    return found


def summary(status: dict[str, Any], ready: bool, metrics: Optional[str]) -> dict[str, Any]:
    """The agent as the module returns it; counts from /metrics, or from the status when metrics are off."""
    operations = operation_counts(metrics) if metrics is not None else _status_counts(status.get("operations") or {})
    spoke = {key: status.get(key) for key in STATUS_KEYS}
    if metrics is not None:
        spoke.update(gauges(metrics))
    spoke.update(ready=ready, operations=operations, metrics_enabled=metrics is not None,
                 operations_total={outcome: sum(counts.get(outcome, 0) for counts in operations.values())
                                   for outcome in ("completed", "failed")})
    return spoke


def _status_counts(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """The status's ``type/outcome`` keys, in the shape of operation_counts."""
    shaped: dict[str, dict[str, int]] = {}
    for key, value in counts.items():
        kind, dummy, outcome = key.rpartition("/")
        shaped.setdefault(kind, {"completed": 0, "failed": 0})[outcome] = int(value)
    return shaped


def http_fetch(url: str, timeout: float) -> tuple[int, bytes]:
    parts = urlsplit(url)
    opened = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = opened(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/")
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def read_spoke(url: str, timeout: float, fetch: Fetch = http_fetch) -> dict[str, Any]:
    """Read /health/status, /health/ready and /metrics of the agent at ``url``.

    Raises:
        UnavailableError: the agent does not answer, or answers something else than a spoke's local API.
    """
    base = check_url(url)
    return _read(base, base, timeout, fetch)


def read_spoke_in(kube: Kube, namespace: str, timeout: float) -> dict[str, Any]:
    """Read the agent that the ovim_spoke role deployed in ``namespace``, through the API server's proxy to its
    Service (the caller needs ``get`` on ``services/proxy`` there).

    Raises:
        NotFoundError: no agent's Service in ``namespace``.
        UnavailableError: the API server or the agent does not answer (a Service without a ready pod: 503).
    """
    service = kube.get("Service", NAME, namespace)
    if service is None:
        raise NotFoundError("no Service %s in namespace %s: deploy the agent there with the ovim_spoke role, or give "
                            "its url" % (NAME, namespace), option="namespace")
    ports = (service.get("spec") or {}).get("ports") or []
    port = next((item["port"] for item in ports if item.get("name") == "http"), API_PORT)
    proxy = "/api/v1/namespaces/%s/services/http:%s:%d/proxy" % (namespace, NAME, port)
    where = "Service %s/%s (through the API server at %s)" % (namespace, NAME, kube.base)
    return _read(proxy, where, timeout, kube.raw_get)


def _read(base: str, where: str, timeout: float, fetch: Fetch) -> dict[str, Any]:
    """The local API's three routes under ``base``; ``where`` names the agent in a failure's message."""
    try:
        code, body = fetch(base + "/health/status", timeout)
        if code != 200:
            raise UnavailableError("the spoke at %s answered %d to /health/status: %s"
                                   % (where, code, body[:200].decode("utf-8", "replace").strip()))
        status = json.loads(body.decode("utf-8"))
        ready = fetch(base + "/health/ready", timeout)[0] == 200
        metrics_code, metrics = fetch(base + "/metrics", timeout)
    except (OSError, ValueError, http.client.HTTPException) as err:
        raise UnavailableError("could not read the spoke's local API at %s: %s" % (where, err),
                               operation="read spoke status") from None
    if not isinstance(status, dict) or "agent_id" not in status:
        raise UnavailableError("%s: /health/status is not an OVIM spoke's status" % where,
                               operation="read spoke status")
    return summary(status, ready, metrics.decode("utf-8") if metrics_code == 200 else None)
