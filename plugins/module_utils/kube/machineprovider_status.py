# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A MachineProvider's status from a live probe of its backend through the provider layer.

The status is rewritten only when something other than the probe's clock readings changed (``lastVerified``,
``health.lastCheck``, ``health.responseTimeMs``), or when the stored ``lastVerified`` is older than the
caller's maximum age; a condition keeps its ``lastTransitionTime`` while its status stays the same.
"""

from __future__ import annotations

import copy
import datetime
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .. import errors
from ..providers.base import ObservedVM, Provider
from ..providers.connection import KUBERNETES, Connection, resolve
from ..providers.discovery import MIB_PER_GIB, Discovery
from .machineprovider_discovery import os_of

# Read on every probe, so never a reason on their own to rewrite the status.
CLOCK_FIELDS = (("lastVerified",), ("health", "lastCheck"), ("health", "responseTimeMs"))
DEFAULT_MAX_AGE = 3600
_KUBE_OPTIONS = tuple(str(setting.option) for setting in KUBERNETES)


@dataclass(frozen=True)
class Probe:
    """What one live check found: ``authenticated`` is None when the backend was not reached; ``vms`` is None
    when they could not be listed."""

    reachable: bool
    authenticated: Optional[bool]
    response_ms: int
    message: str = ""
    discovery: Optional[Discovery] = None
    vms: Optional[tuple[ObservedVM, ...]] = None

    @property
    def ready(self) -> bool:
        return self.reachable and bool(self.authenticated) and self.discovery is not None and self.vms is not None


def connection_for(provider_type: str, params: Mapping[str, Any], environ: Mapping[str, str]) -> Connection:
    """The backend's connection from the task's options for ``provider_type`` (its own table only).  The
    Kubernetes API options, which also reach the cluster the MachineProvider lives in, are not a stray backend's
    options for the other types."""
    own = params if provider_type == "kubevirt" else {
        key: value for key, value in params.items() if key not in _KUBE_OPTIONS}
    return resolve(provider_type, own, environ)


def probe(provider: Provider) -> Probe:
    """Validate the connection (timed), then discover and list the VMs.

    Raises:
        SpecError, MissingDependency: bad settings, or a library missing: not the backend's health.
    """
    started = time.monotonic()

    def elapsed() -> int:
        return int(round((time.monotonic() - started) * 1000))

    try:
        provider.validate()
    except (errors.SpecError, errors.MissingDependency):
        raise
    except (errors.AuthenticationError, errors.PermissionDeniedError) as err:
        return Probe(True, False, elapsed(), err.message)
    except errors.VirtrigaudError as err:
        return Probe(False, None, elapsed(), err.message)
    response_ms = elapsed()
    try:
        found = provider.discover()
    except (errors.SpecError, errors.MissingDependency):
        raise
    except (errors.AuthenticationError, errors.PermissionDeniedError) as err:
        return Probe(True, False, response_ms, err.message)
    except errors.VirtrigaudError as err:
        return Probe(True, True, response_ms, err.message)
    try:
        vms = tuple(provider.inventory())
    except (errors.SpecError, errors.MissingDependency):
        raise
    except errors.VirtrigaudError as err:
        return Probe(True, True, response_ms, err.message, found)
    return Probe(True, True, response_ms, "", found, vms)


def timestamp(now: datetime.datetime) -> str:
    return now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_of(found: Probe, spec: Mapping[str, Any], previous: Optional[Mapping[str, Any]],
              now: datetime.datetime) -> dict[str, Any]:
    """The status a probe tells, with the previous status's transition times where a condition held."""
    when = timestamp(now)
    phase = "Ready" if found.ready else ("Offline" if not found.reachable else "Failed")
    status: dict[str, Any] = {
        "phase": phase,
        "message": found.message or "the backend answered, and listed what it offers",
        "conditions": _conditions(found, (previous or {}).get("conditions") or [], when),
        "health": {
            "status": "Healthy" if found.ready else "Unhealthy",
            "apiConnectivity": "Connected" if found.reachable else "Disconnected",
            "authentication": {True: "Authenticated", False: "Failed", None: "Unknown"}[found.authenticated],
            "responseTimeMs": found.response_ms,
            "lastCheck": when,
        },
        "lastVerified": when,
    }
    if found.discovery is not None:
        status["availableResources"] = _available(found.discovery, spec)
        status["providerStatus"] = {"hosts": str(len(found.discovery.hosts))}
    if found.discovery is not None and found.vms is not None:
        status["quota"] = _quota(found.discovery, found.vms, spec)
        status["activeMachines"] = len(found.vms)
        status["providerStatus"]["vms.running"] = str(sum(1 for vm in found.vms if vm.power_state == "On"))
    elif previous and previous.get("activeMachines") is not None:
        status["activeMachines"] = previous["activeMachines"]
    return status


def _conditions(found: Probe, previous: list[Mapping[str, Any]], when: str) -> list[dict[str, Any]]:
    authenticated = {True: ("True", "CredentialsAccepted"), False: ("False", "CredentialsRefused"),
                     None: ("Unknown", "NotReached")}[found.authenticated]
    rows = [
        ("Reachable", ("True", "Connected") if found.reachable else ("False", "Unreachable")),
        ("Authenticated", authenticated),
        ("Ready", ("True", "ProbeSucceeded") if found.ready else ("False", "ProbeFailed")),
    ]
    before = {condition.get("type"): condition for condition in previous}
    conditions = []
    for kind, (state, reason) in rows:
        old = before.get(kind) or {}
        conditions.append({"type": kind, "status": state, "reason": reason,
                           "message": "" if state == "True" else found.message,
                           "lastTransitionTime": old["lastTransitionTime"] if old.get("status") == state
                           and old.get("lastTransitionTime") else when})
    return conditions


def _available(found: Discovery, spec: Mapping[str, Any]) -> dict[str, Any]:
    classes = ((spec.get("capabilities") or {}).get("machineClasses") or [])
    images = []
    for image in found.images:
        family, distribution, version = os_of(image.name)
        images.append({"id": image.id, "name": image.name, "osFamily": family, "osDistribution": distribution,
                       "osVersion": version, "architecture": found.architecture, "public": False})
    available: dict[str, Any] = {
        "zones": list(spec.get("zones") or []),
        "storageTypes": [storage.name for storage in found.storages],
        "machineClasses": sorted({kind.name for kind in found.instance_types}
                                 | {class_name(item) for item in classes} - {""}),
        "images": images,
    }
    return {key: value for key, value in available.items() if value}


def class_name(item: Mapping[str, Any]) -> str:
    """A machine class's name: its displayName, as the API server keeps no field of its metadata."""
    return str((item.get("spec") or {}).get("displayName") or (item.get("metadata") or {}).get("name") or "")


def _quota(found: Discovery, vms: tuple[ObservedVM, ...], spec: Mapping[str, Any]) -> dict[str, Any]:
    running = [vm for vm in vms if vm.power_state == "On"]
    capacity = [storage.capacity_gib for storage in found.storages if storage.capacity_gib is not None]
    used = [storage.capacity_gib - storage.free_gib for storage in found.storages
            if storage.capacity_gib is not None and storage.free_gib is not None]
    quota: dict[str, Any] = {
        "cpuQuota": sum(host.cpus for host in found.hosts),
        "cpuUsed": sum(vm.cpu or 0 for vm in running),
        "memoryQuotaGB": sum(host.memory_mib for host in found.hosts) // MIB_PER_GIB,
        "memoryUsedGB": sum(vm.memory_mib or 0 for vm in running) // MIB_PER_GIB,
        "instanceUsed": len(vms),
        "storageQuotaGB": sum(capacity),
        "storageUsedGB": sum(used),
    }
    max_machines = (spec.get("capabilities") or {}).get("maxMachines")
    if max_machines:
        quota["instanceQuota"] = max_machines
    if not found.hosts:
        for key in ("cpuQuota", "memoryQuotaGB"):
            quota.pop(key)
    return quota


def without_clock(status: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """The status without the fields every probe reads anew."""
    result = copy.deepcopy(dict(status or {}))
    for path in CLOCK_FIELDS:
        node = result
        for key in path[:-1]:
            node = node.get(key) or {}
        node.pop(path[-1], None)
    return result


def needs_write(previous: Optional[Mapping[str, Any]], new: Mapping[str, Any], now: datetime.datetime,
                max_age: int) -> bool:
    """Whether to write ``new``: something besides the clock readings changed, or the stored status was last
    verified ``max_age`` seconds ago or earlier."""
    if without_clock(previous) != without_clock(new):
        return True
    verified = _parse_time((previous or {}).get("lastVerified"))
    return verified is None or (now - verified).total_seconds() >= max_age


def _parse_time(value: Any) -> Optional[datetime.datetime]:
    try:
        return datetime.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def status_patch(name: str, status: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """The object to apply to the status subresource."""
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "status": dict(status)}
