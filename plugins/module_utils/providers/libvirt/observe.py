# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a libvirt domain as an ObservedVM: its definition, volumes, display and guest addresses."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ...spec import Placement
from ..base import ObservedDisk, ObservedNIC, ObservedVM, usable_ip
from . import consoles
from . import translate as dx
from .client import LibvirtClient, libvirt
from .storage import Storage, gib

Addresses = Callable[[Any], dict[str, tuple[str, ...]]]

_RUNNING_STATES = ("VIR_DOMAIN_RUNNING", "VIR_DOMAIN_BLOCKED", "VIR_DOMAIN_PAUSED", "VIR_DOMAIN_SHUTDOWN",
                   "VIR_DOMAIN_PMSUSPENDED")


def observed(domain: Any, storage: Storage, client: LibvirtClient, addresses: Addresses,
             uri: Optional[str]) -> ObservedVM:
    """The domain as observed; ``addresses`` gives its guest IPs per MAC, asked only while it runs."""
    facts = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    state = domain.state()[0]
    running = state in [getattr(libvirt, name) for name in _RUNNING_STATES]
    names = {d.dev: d.name for d in facts.metadata.disks}
    disks = []
    pool = None
    for dev, path in facts.disk_paths.items():
        volume = storage.volume_at(path) if path else None
        # A volume deleted between the lookup and this read (a member being removed) counts as gone.
        info = client.quietly(volume.info, ["NO_STORAGE_VOL"]) if volume is not None else None
        volume = volume if info is not None else None
        size = info[1] if info is not None else 0
        disks.append(ObservedDisk(name=names.get(dev, dev), size_gib=gib(size), format="qcow2", path=path,
                                  device=dev))
        if names.get(dev) == dx.ROOT_DISK and volume is not None:
            pool = client.quietly(volume.storagePoolLookupByVolume, ["NO_STORAGE_POOL", "NO_STORAGE_VOL"])
    found = addresses(domain) if running else {}
    nics = tuple(
        ObservedNIC(
            name=nic.name, mac_address=nic.mac or None, network=nic.network, bridge=nic.bridge,
            model=nic.model or None, ip_addresses=found.get(nic.mac, ()), static_ip=nic.static,
            gateway=nic.gateway, dns=nic.dns,
        )
        for nic in dx.interfaces(facts)
    )
    return ObservedVM(
        id=facts.uuid, name=facts.name, power_state="On" if running else "Off", cpu=facts.cpu,
        memory_mib=facts.memory_mib, firmware=facts.firmware, secure_boot=facts.secure_boot,
        max_cpu=facts.max_cpu, max_memory_mib=facts.max_memory_mib, disks=tuple(disks), nics=nics,
        tags=facts.metadata.tags, console=facts.console,
        console_url=consoles.running_url(domain, facts, running, uri),
        placement=Placement(datastore=pool.name() if pool is not None else None), raw={"state": state},
    )


def domain_addresses(domain: Any) -> dict[str, tuple[str, ...]]:
    """IPs per MAC from DHCP leases, else the guest agent, else the host's ARP table."""
    for source in (libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                   libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
                   libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP):
        try:
            interfaces = domain.interfaceAddresses(source, 0) or {}
        except libvirt.libvirtError:
            continue
        found: dict[str, tuple[str, ...]] = {}
        for interface in interfaces.values():
            ips = tuple(a["addr"] for a in interface.get("addrs") or () if usable_ip(a.get("addr", "")))
            if interface.get("hwaddr") and ips:
                found[interface["hwaddr"].lower()] = found.get(interface["hwaddr"].lower(), ()) + ips
        if found:
            return found
    return {}


def _leases(network: Any) -> list[dict[str, Any]]:
    """The network's DHCP leases; none where its driver keeps no leases (not every driver does, nor every URI)."""
    try:
        leases: list[dict[str, Any]] = network.DHCPLeases()
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
            return []
        raise
    return leases


def lease_table(conn: Any) -> dict[str, tuple[str, ...]]:
    """IPs per MAC from the leases of every active libvirt network, in one call per network."""
    found: dict[str, tuple[str, ...]] = {}
    for network in conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE):
        for lease in _leases(network):
            mac, ip = (lease.get("mac") or "").lower(), lease.get("ipaddr") or ""
            if mac and usable_ip(ip):
                found[mac] = found.get(mac, ()) + (ip,)
    return found
