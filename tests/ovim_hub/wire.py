# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the upstream hub accepts from a spoke, as pure checks: each returns None or (status, message)."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any, Mapping, Optional

SPOKE_HEADERS = ("X-Agent-ID", "X-Cluster-ID", "X-Zone-ID")
UPSTREAM_TOKEN = "spoke-agent-token"
# The time fields Go decodes into time.Time: RFC 3339 with a zone, or the decode fails and the hub answers 400.
TIME_FIELDS = ("last_hub_contact", "report_time", "last_collected", "created_at", "updated_at", "timestamp")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
REPORT_STATUSES = ("healthy", "degraded", "unavailable")
RESULT_STATUSES = ("completed", "failed", "pending", "running")
Refusal = Optional[tuple[int, str]]


class Float(float):
    """A JSON number written with a fraction or an exponent, which Go refuses for an int64."""


def decode(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"), parse_float=Float)


def check_auth(headers: Mapping[str, str], token: str) -> Refusal:
    if not all(headers.get(name) for name in SPOKE_HEADERS):
        return 401, "Missing required headers"
    if headers.get("Authorization") != "Bearer " + token:
        return 401, "Invalid authentication"
    return None


def rfc3339(value: Any) -> bool:
    return isinstance(value, str) and bool(_RFC3339.fullmatch(value))


def check_times(document: Any, where: str = "") -> Refusal:
    """Every time field, at any depth, is null or RFC 3339 with a zone."""
    if isinstance(document, list):
        for index, item in enumerate(document):
            refusal = check_times(item, "%s[%d]" % (where, index))
            if refusal:
                return refusal
    elif isinstance(document, dict):
        for key, value in document.items():
            if key in TIME_FIELDS and value is not None and not rfc3339(value):
                return 400, "parsing time %r of %s%s as RFC 3339 failed" % (value, where + "." if where else "", key)
            if isinstance(value, (dict, list)):
                refusal = check_times(value, "%s.%s" % (where, key) if where else key)
                if refusal:
                    return refusal
    return None


def _object_with_times(document: Any) -> Refusal:
    return check_times(document) if isinstance(document, dict) else (400, "Invalid request body")


# The typed fields of the hub's VMStatus and ResourceMetrics: Go refuses a value of another JSON type.
VM_STRINGS = ("name", "namespace", "status", "phase", "node_name", "ip_address", "cpu", "memory", "storage")
USAGE_INTEGERS = ("cpu_used", "cpu_capacity", "memory_used", "memory_capacity", "storage_used", "storage_capacity",
                  "node_count", "pod_count", "vm_count")


def _typed(document: Any, strings: tuple[str, ...], integers: tuple[str, ...], where: str) -> Refusal:
    if not isinstance(document, dict):
        return 400, "json: cannot unmarshal %s into %s" % (type(document).__name__, where)
    for key in strings:
        if key in document and not isinstance(document[key], str):
            return 400, "json: cannot unmarshal %r into Go struct field %s.%s of type string" % (
                document[key], where, key)
    for key in integers:
        value = document.get(key, 0)
        if isinstance(value, (Float, bool)) or not isinstance(value, int):
            return 400, "json: cannot unmarshal %r into Go struct field %s.%s of type int64" % (value, where, key)
    labels = document.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        return 400, "json: cannot unmarshal %r into Go struct field %s.labels of type map[string]string" % (labels,
                                                                                                            where)
    return None


def _check_content(report: dict) -> Refusal:
    metrics = report.get("metrics")
    if metrics is not None:
        refusal = _typed(metrics, ("cluster_id", "zone_id"), (), "ClusterMetrics") or _typed(
            metrics.get("resources") or {}, (), USAGE_INTEGERS, "ResourceMetrics")
        if refusal:
            return refusal
        if not isinstance(metrics.get("node_status") or [], list):
            return 400, "json: cannot unmarshal node_status into Go struct field of type []NodeStatus"
    for vm in report.get("vms") or []:
        refusal = _typed(vm, VM_STRINGS, (), "VMStatus")
        if refusal:
            return refusal
    for vdc in report.get("vdcs") or []:
        refusal = _typed(vdc, ("name", "namespace", "status"), (), "VDCStatus") or _typed(
            vdc.get("resource_usage") or {}, (), USAGE_INTEGERS, "ResourceMetrics")
        if refusal:
            return refusal
    return None


def check_report(report: Any) -> Refusal:
    refusal = _object_with_times(report) or _check_content(report)
    if refusal:
        return refusal
    if not all(report.get(key) for key in ("agent_id", "cluster_id", "zone_id")):
        return 400, "agent_id, cluster_id and zone_id are required"
    if report.get("status") not in REPORT_STATUSES:
        return 400, "status %r is none of %s" % (report.get("status"), ", ".join(REPORT_STATUSES))
    return None


def check_result(result: Any) -> Refusal:
    refusal = _object_with_times(result)
    if refusal:
        return refusal
    duration = result.get("duration")
    if isinstance(duration, Float) or isinstance(duration, bool) or not isinstance(duration, int):
        return 400, "json: cannot unmarshal %r into Go struct field OperationResult.duration of type time.Duration" % (
            duration,)
    if result.get("status") not in RESULT_STATUSES:
        return 400, "status %r is none of %s" % (result.get("status"), ", ".join(RESULT_STATUSES))
    return None


def operation_id(now: datetime.datetime) -> str:
    """As the hub makes them: the second, then a constant ``000``."""
    return now.strftime("op-%Y%m%d-%H%M%S-000")
