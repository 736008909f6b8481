# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hub's protocol as plain data: operations in, results and status reports out.  Pure."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

# The hub's snake_case types, and the architecture document's names for them.
TYPES = ("create_vm", "delete_vm", "start_vm", "stop_vm", "get_vm_status", "list_vms", "get_health", "get_metrics",
         "create_vdc", "delete_vdc", "sync_templates", "config_update")
ALIASES = {"VMCreate": "create_vm", "VMDelete": "delete_vm", "VMStart": "start_vm", "VMStop": "stop_vm",
           "VDCCreate": "create_vdc", "VDCDelete": "delete_vdc", "TemplateSync": "sync_templates",
           "ConfigUpdate": "config_update"}
# The agent's states (the document's) as the hub's three report statuses.
WIRE_STATUS = {"Healthy": "healthy", "Degraded": "degraded", "Connecting": "unavailable",
               "Unhealthy": "unavailable", "Disconnected": "unavailable"}


@dataclass(frozen=True)
class Operation:
    """One operation as the hub sent it; ``seq`` is the agent's own number, since ids collide."""

    id: str
    type: str
    payload: Mapping[str, Any]
    given_type: str
    via: str
    seq: int = 0
    key: str = ""
    timeout_seconds: Optional[float] = None
    timestamp: Optional[str] = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class BadOperation(ValueError):
    """An operation the agent cannot even read: answered 400 on push, skipped (and logged) on pull."""


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(moment: Optional[datetime.datetime]) -> Optional[str]:
    """A time with its zone, as the hub's Go decoder needs (a naive time is refused with 400)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("a naive time cannot go to the hub")
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def nanoseconds(seconds: float) -> int:
    """A Go time.Duration: an integer number of nanoseconds (a float is refused with 400)."""
    return max(0, int(round(seconds * 1e9)))


def canonical_type(given: Any) -> str:
    """The hub's snake_case type for a given type name, or the name as given when it is unknown."""
    text = str(given or "")
    return ALIASES.get(text, text)


def parse_operation(document: Any, via: str, seq: int, key: str = "") -> Operation:
    """Raises BadOperation when it is not an object with an id and a type."""
    if not isinstance(document, Mapping):
        raise BadOperation("an operation is a JSON object, not %s" % type(document).__name__)
    op_id, given = document.get("id"), document.get("type")
    if not isinstance(op_id, str) or not op_id or not isinstance(given, str) or not given:
        raise BadOperation("an operation needs a string id and type")
    payload = document.get("payload")
    payload = {} if payload is None else payload
    if not isinstance(payload, Mapping):
        raise BadOperation("the payload of operation %s is not an object" % op_id)
    timeout = document.get("timeout_seconds")
    timeout = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0 \
        else None
    return Operation(id=op_id, type=canonical_type(given), payload=payload, given_type=given, via=via, seq=seq, key=key,
                     timeout_seconds=timeout, timestamp=document.get("timestamp"))


def result(operation: Operation, ok: bool, seconds: float, body: Optional[Mapping[str, Any]] = None,
           error: Optional[str] = None, finished: Optional[datetime.datetime] = None) -> dict[str, Any]:
    document: dict[str, Any] = {"operation_id": operation.id, "status": "completed" if ok else "failed",
                                "timestamp": rfc3339(finished or now()), "duration": nanoseconds(seconds)}
    if body is not None:
        document["result"] = dict(body)
    if error:
        document["error"] = error
    return document
