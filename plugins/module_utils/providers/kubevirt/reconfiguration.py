# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A reconfiguration of a KubeVirt VM as a changed copy of its object, and what of it a running VM cannot take.
No I/O."""

from __future__ import annotations

import json
from typing import Any, Optional, cast

from ... import errors
from ..base import Reconfiguration
from .translate import (
    HOTPLUG_FACTOR,
    MAX_SOCKETS,
    POD_NETWORK,
    TAG_LABEL,
    claim_of,
    data_disk,
    interface_pair,
    quantity_gib,
    quantity_mib,
    tag_metadata,
    template_of,
    volume_claim,
)


def _template_spec(vm: dict[str, Any]) -> dict[str, Any]:
    return cast("dict[str, Any]", vm["spec"]["template"]["spec"])


def reconfigured(vm: dict[str, Any], change: Reconfiguration,
                 storage_class: Optional[str]) -> tuple[dict[str, Any], dict[str, int]]:
    """The VM with ``change`` applied, and the claims to grow (name → GiB), which the caller patches first."""
    updated = json.loads(json.dumps(vm))
    name = updated["metadata"]["name"]
    template, domain = _template_spec(updated), _template_spec(updated)["domain"]
    if change.cpu:
        cpu = domain.setdefault("cpu", {})
        per_socket = int(cpu.get("cores") or 1) * int(cpu.get("threads") or 1)
        if change.cpu % per_socket:
            raise errors.SpecError("the VM has %d vCPUs per socket; %d is not a whole number of sockets"
                                   % (per_socket, change.cpu), option="cpu")
        cpu["sockets"] = change.cpu // per_socket
        if not change.live:
            cpu["maxSockets"] = min(HOTPLUG_FACTOR * cpu["sockets"], MAX_SOCKETS)
    if change.memory_mib:
        memory = domain.setdefault("memory", {})
        memory["guest"] = quantity_mib(change.memory_mib)
        if not change.live:
            memory["maxGuest"] = quantity_mib(HOTPLUG_FACTOR * change.memory_mib)
    grow = {}
    volumes = {v["name"]: v for v in template.get("volumes") or []}
    for disk, size in sorted(change.disk_sizes_gib.items()):
        claim = claim_of(updated, volumes.get(disk) or {})
        if claim is None:
            raise errors.UnsupportedError("disk '%s' is not a PersistentVolumeClaim and cannot grow" % disk,
                                          option="disk_defaults.size" if disk == "root" else "disks")
        grow[claim] = size
        dv_template = template_of(updated, claim)
        if dv_template is not None:
            storage = dv_template["spec"].get("storage") or dv_template["spec"].get("pvc") or {}
            storage.setdefault("resources", {}).setdefault("requests", {})["storage"] = quantity_gib(size)
    devices = domain.setdefault("devices", {})
    for added in change.add_disks:
        updated["spec"].setdefault("dataVolumeTemplates", []).append(data_disk(name, added, storage_class))
        template.setdefault("volumes", []).append({"name": added.name,
                                                   "dataVolume": {"name": volume_claim(name, added.name)}})
        devices.setdefault("disks", []).append({"name": added.name, "disk": {"bus": "virtio"}})
    _change_nics(devices, template, change)
    if change.tags is not None:
        _set_tags(updated["metadata"], change.tags)
    return updated, grow


def _change_nics(devices: dict[str, Any], template: dict[str, Any], change: Reconfiguration) -> None:
    """Remove, change and add NICs: each an interface and the network of the same name."""
    interfaces = [i for i in devices.get("interfaces") or [] if i.get("name") not in change.remove_networks]
    networks = [n for n in template.get("networks") or [] if n.get("name") not in change.remove_networks]
    for nic in change.change_networks:
        index = next(i for i, interface in enumerate(interfaces) if interface.get("name") == nic.network.name)
        mac = nic.network.mac_address if "mac_address" in nic.fields else interfaces[index].get("macAddress")
        if "network" in nic.fields:
            interface, attachment = interface_pair(nic.network)
            interfaces[index] = dict(interface, model=interfaces[index].get("model") or interface["model"])
            networks = [attachment if n.get("name") == nic.network.name else n for n in networks]
        interfaces[index].pop("macAddress", None)
        if mac:
            interfaces[index]["macAddress"] = mac
    for network in change.add_networks:
        interface, attachment = interface_pair(network)
        interfaces.append(interface)
        networks.append(attachment)
    devices["interfaces"], template["networks"] = interfaces, networks


def _set_tags(metadata: dict[str, Any], tags: tuple[str, ...]) -> None:
    labels, annotations = tag_metadata(tags)
    kept = {k: v for k, v in (metadata.get("labels") or {}).items() if not k.startswith(TAG_LABEL)}
    metadata["labels"] = dict(kept, **labels)
    notes = dict(metadata.get("annotations") or {}, **annotations)
    metadata["annotations"] = {k: v for k, v in notes.items() if v is not None}


def live_refusal(change: Reconfiguration) -> Optional[str]:
    """What of ``change`` KubeVirt cannot apply to the running VM, in words; None when all of it can."""
    if change.add_disks:
        return "new disks (KubeVirt attaches a disk declared in the VM at its next start)"
    if any((network.network or POD_NETWORK) == POD_NETWORK for network in change.add_networks):
        return "a NIC on the pod network (only bridge NICs on multus networks are hot-plugged)"
    return None
