# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A libvirt domain's NICs: new ones planned, and existing ones changed in place or removed, by name.

libvirt finds an interface by its MAC address, and the collection's metadata
names each NIC by its MAC, so a new MAC is a new device under the same name.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any, Iterable

from ...errors import NotFoundError, UnsupportedError
from ...spec import NetworkSpec
from .. import nics as nic_values
from ..base import NicChange, Reconfiguration
from . import translate as dx


def random_mac() -> str:
    return "52:54:00:%02x:%02x:%02x" % tuple(random.randint(0, 255) for dummy in range(3))


def nic_plans(networks: Iterable[NetworkSpec], static_known: bool = True) -> tuple[dx.NicPlan, ...]:
    """NICs with their MACs fixed now, so cloud-init network config and metadata can name them.

    With ``static_known``, each records the static address the seed gives it, so a later change can be told.
    """
    return tuple(
        dx.NicPlan(n.name, (n.mac_address or random_mac()).lower(), n.network, n.bridge, n.model or "virtio",
                   *((nic_values.static_ip(n), n.gateway, tuple(n.dns)) if static_known else ()))
        for n in networks
    )


def change_nics(domain: Any, facts: dx.DomainFacts, meta: dx.Metadata, change: Reconfiguration,
                flags: int) -> dx.Metadata:
    """Remove, change in place, then add NICs, found by name; the metadata follows each MAC."""
    _refuse_static(change)
    current = {nic.name: nic for nic in dx.interfaces(facts)}
    refs = {ref.mac: ref for ref in meta.nics}
    for name in change.remove_networks:
        nic = _named(current, name)
        domain.detachDeviceFlags(dx.device_string(dx.interface_xml(nic)), flags)
        refs.pop(nic.mac, None)
    for nic_change in change.change_networks:
        old = _named(current, nic_change.network.name)
        new = _changed_nic(old, nic_change)
        if new.mac != old.mac:
            domain.detachDeviceFlags(dx.device_string(dx.interface_xml(old)), flags)
            domain.attachDeviceFlags(dx.device_string(dx.interface_xml(new)), flags)
        else:
            domain.updateDeviceFlags(dx.device_string(dx.interface_xml(new)), flags)
        refs.pop(old.mac, None)
        refs[new.mac] = new.ref()
    for nic in nic_plans(change.add_networks):
        domain.attachDeviceFlags(dx.device_string(dx.interface_xml(nic)), flags)
        refs[nic.mac] = nic.ref()
    return dataclasses.replace(meta, nics=tuple(refs.values()))


def _refuse_static(change: Reconfiguration) -> None:
    """The planner refuses these already; a runtime's caller may not have asked it."""
    wanted = [c.network.name for c in change.change_networks if "ip_address" in c.fields]
    wanted += [n.name for n in change.add_networks if n.ip_address]
    if wanted:
        raise UnsupportedError("libvirt hands a static address to cloud-init once, when the VM is created; it cannot "
                               "set or change one on NIC '%s' of an existing VM" % wanted[0], option="networks")


def _named(current: dict[str, dx.NicPlan], name: str) -> dx.NicPlan:
    if name not in current:
        raise NotFoundError("the VM has no NIC named '%s'" % name)
    return current[name]


def _changed_nic(old: dx.NicPlan, change: NicChange) -> dx.NicPlan:
    wanted = change.network
    new = old
    if "network" in change.fields:
        new = dataclasses.replace(new, network=wanted.network if not wanted.bridge else None, bridge=wanted.bridge)
    if "mac_address" in change.fields and wanted.mac_address:
        new = dataclasses.replace(new, mac=wanted.mac_address.lower())
    return new
