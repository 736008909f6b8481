# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A desired NIC list against a VM's NICs, matched by name: what to add, change in place and remove.  Pure.

The planner decides with it, and the provider runtime reads a Reconfigure's
NIC list with it, so both sides agree on what a list asks for.  A value the
spec leaves out, or the backend does not report, never counts as a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ..spec import NetworkSpec
from .base import NicChange, ObservedNIC

# The values of a NIC that change in place, and the planner's action for each.
SETTERS = {"network": "set_network", "mac_address": "set_mac_address", "ip_address": "set_ip_address"}
DEFAULT_PREFIX = 24


@dataclass(frozen=True)
class NicDiff:
    added: tuple[NetworkSpec, ...] = ()
    changed: tuple[NicChange, ...] = ()
    removed: tuple[str, ...] = ()


def diff_nics(desired: Sequence[NetworkSpec], observed: Sequence[ObservedNIC]) -> NicDiff:
    """NICs of ``desired`` the VM lacks, those it has with other values, and the VM's NICs ``desired`` omits."""
    have = {nic.name: nic for nic in observed}
    wanted = {network.name for network in desired}
    changed = []
    for network in desired:
        fields = changed_fields(network, have[network.name]) if network.name in have else ()
        if fields:
            changed.append(NicChange(network, fields))
    return NicDiff(
        added=tuple(n for n in desired if n.name not in have),
        changed=tuple(changed),
        removed=tuple(nic.name for nic in observed if nic.name not in wanted),
    )


def changed_fields(wanted: NetworkSpec, nic: ObservedNIC) -> tuple[str, ...]:
    fields = []
    reported = nic.network is not None or nic.bridge is not None
    if attachment(wanted) is not None and reported and attachment_of(nic, wanted) != attachment(wanted):
        fields.append("network")
    if wanted.mac_address and nic.mac_address and wanted.mac_address != nic.mac_address.lower():
        fields.append("mac_address")
    if wanted.ip_address and nic.static_ip is not None and static_config(wanted) != observed_static(nic, wanted):
        fields.append("ip_address")
    return tuple(fields)


def attachment(network: NetworkSpec) -> Optional[str]:
    """What the spec attaches the NIC to: its network, else its bridge; None when it leaves that to the backend."""
    return network.network or network.bridge


def attachment_of(nic: ObservedNIC, wanted: NetworkSpec) -> Optional[str]:
    """The NIC's attachment of the kind ``wanted`` names (a network, else a bridge)."""
    return nic.network if wanted.network else nic.bridge


def static_ip(network: NetworkSpec) -> str:
    """The spec's static address with its prefix, "" for none."""
    return "%s/%d" % (network.ip_address, network.prefix or DEFAULT_PREFIX) if network.ip_address else ""


def static_config(network: NetworkSpec) -> tuple[str, Optional[str], tuple[str, ...]]:
    return static_ip(network), network.gateway, tuple(network.dns)


def observed_static(nic: ObservedNIC, wanted: NetworkSpec) -> tuple[str, Optional[str], tuple[str, ...]]:
    """The NIC's static configuration in the shape of static_config; DNS servers count only when wanted names some
    (Proxmox VE keeps one list for the whole VM)."""
    return nic.static_ip or "", nic.gateway, tuple(nic.dns) if wanted.dns else ()


def static_view(static: Optional[str], gateway: Optional[str], dns: Sequence[str]) -> dict[str, Any]:
    """A static configuration in the spec's option names, for diffs."""
    if not static:
        return {}
    address, dummy, prefix = static.partition("/")
    return _present({"ip_address": address, "prefix": int(prefix) if prefix.isdigit() else None,
                     "gateway": gateway, "dns": list(dns)})


def nic_view(nic: ObservedNIC) -> dict[str, Any]:
    """An observed NIC in the shape of the spec's ``networks`` entries, for diffs."""
    view = _present({"name": nic.name, "network": nic.network, "bridge": nic.bridge, "model": nic.model,
                     "mac_address": nic.mac_address})
    return dict(view, **static_view(nic.static_ip, nic.gateway, nic.dns))


def apply_to_view(view: dict[str, Any], field: str, network: NetworkSpec) -> dict[str, Any]:
    """A NIC's diff view after one in-place change."""
    view = dict(view)
    if field == "network":
        view.pop("network", None)
        view.pop("bridge", None)
        view.update(_present({"network": network.network, "bridge": network.bridge}))
    elif field == "mac_address":
        view["mac_address"] = network.mac_address
    elif field == "ip_address":
        dns = network.dns or view.get("dns") or ()
        for key in ("ip_address", "prefix", "gateway", "dns"):
            view.pop(key, None)
        view.update(static_view(static_ip(network), network.gateway, dns))
    return view


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "", [], ())}
