# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Machine's ``status`` from its VM as the backend reports it, or from why it failed (pure: no I/O).

The status is written as a JSON merge patch of the fields below: a field this collection knows nothing of
is set to null, so nothing stale stays. ``lastUpdated`` and each condition's ``lastTransitionTime`` change only
when something else does, so a run with nothing new writes nothing.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping, Optional

from ..providers.base import ObservedVM

MIB = 1024 * 1024
GIB = 1024 * MIB
# What this collection writes; only these are compared with the stored status.
FIELDS = ("phase", "state", "message", "provider", "providerID", "machineID", "hostname", "ipAddresses",
          "ipv6Addresses", "privateIPAddresses", "cpus", "memory", "disks", "networkInterfaces", "failureReason",
          "failureMessage", "conditions")
_PHASES = {"On": "Running", "Off": "Stopped", "Suspended": "Stopped"}


def _split(addresses: Any) -> tuple[list[str], list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for address in addresses:
        try:
            (v6 if ipaddress.ip_address(address.split("/")[0]).version == 6 else v4).append(address)
        except ValueError:
            continue
    return v4, v6


def _vm_fields(vm: ObservedVM, provider_type: str) -> dict[str, Any]:
    v4, v6 = _split(vm.ip_addresses)
    nics = []
    for nic in vm.nics:
        nic_v4, nic_v6 = _split(nic.ip_addresses)
        nics.append({key: value for key, value in (
            ("name", nic.name), ("macAddress", nic.mac_address), ("ipAddresses", nic_v4 or None),
            ("ipv6Addresses", nic_v6 or None), ("type", nic.model)) if value is not None})
    disks = [{key: value for key, value in (("name", disk.name), ("size", disk.size_gib * GIB),
                                            ("device", disk.device), ("type", disk.format)) if value is not None}
             for disk in vm.disks]
    return {
        "state": vm.power_state.lower(),
        "provider": provider_type,
        "providerID": "%s://%s" % (provider_type, vm.id),
        "machineID": vm.id,
        "hostname": vm.name,
        "ipAddresses": v4 or None,
        "ipv6Addresses": v6 or None,
        "privateIPAddresses": [a for a in v4 if ipaddress.ip_address(a).is_private] or None,
        "cpus": vm.cpu,
        "memory": vm.memory_mib * MIB if vm.memory_mib is not None else None,
        "disks": disks or None,
        "networkInterfaces": nics or None,
    }


def wanted_status(vm: Optional[ObservedVM], provider_type: str, failure: Optional[tuple[str, str]],
                  stored: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The status to hold: the VM's facts (when it exists), the phase, and the Ready condition.

    ``failure`` is (reason, message) when the Machine could not be made what it asks. Times come from
    ``stored`` where nothing changed, else ``now``.
    """
    status: dict[str, Any] = dict.fromkeys(FIELDS)
    if vm is not None:
        status.update(_vm_fields(vm, provider_type))
    status["provider"] = provider_type
    if failure is not None:
        reason, message = failure
        status.update(phase="Failed", failureReason=reason, failureMessage=message, message=message)
        ready = ("False", reason, message)
    elif vm is None:
        status.update(phase="Pending")
        ready = ("False", "Pending", "the VM is not made yet")
    else:
        status["phase"] = _PHASES.get(vm.power_state, "Unknown")
        running = vm.power_state == "On"
        ready = ("True", "Running", "the VM runs") if running else ("False", status["phase"],
                                                                    "the VM is %s" % vm.power_state.lower())
        status["message"] = ready[2]
    status["conditions"] = [_condition("Ready", ready, stored, now)]
    return status


def _condition(kind: str, value: tuple[str, str, str], stored: Mapping[str, Any], now: str) -> dict[str, Any]:
    status, reason, message = value
    before = next((c for c in stored.get("conditions") or () if c.get("type") == kind), None)
    since = before.get("lastTransitionTime") if before and before.get("status") == status else None
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": since or now}


def differs(wanted: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Whether writing ``wanted`` would change any field this collection holds."""
    return any(wanted.get(key) != stored.get(key) for key in FIELDS)


def status_patch(wanted: Mapping[str, Any], now: str) -> dict[str, Any]:
    return {"status": dict(wanted, lastUpdated=now)}
