# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PVE VM's config values: those of a new VM's hardware, those of a change, and writing them.

The record in the VM's description (see translate.py) follows the disks and
NICs it names.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ... import errors
from ...spec import VMSpec
from ..base import Reconfiguration
from . import cloudinit
from . import translate as pve
from .client import Session


def hardware(spec: VMSpec, vmid: int, disk_storage: str, config: dict[str, Any], options: Mapping[str, Any],
             warn: Callable[[str], None]) -> dict[str, Any]:
    """Config values for the spec's CPU, memory, data disks, NICs, tags, cloud-init and the record."""
    cpu, memory = spec.cpu or 1, spec.memory_mib or 512
    values: dict[str, Any] = dict(pve.cpu_settings(cpu), memory=str(memory), numa=True, hotplug=pve.HOTPLUG,
                                  agent="1")
    record: dict[str, Any] = {"maxMemoryMiB": pve.HOTPLUG_FACTOR * memory, "disks": {}, "nics": {}}
    for key, disk in zip(pve.free_keys("scsi", config, len(spec.disks), first=1), spec.disks):
        values[key] = pve.disk_value(disk_storage, disk)
        record["disks"][key] = disk.name
    default_bridge = options.get("bridge")
    for index, network in enumerate(spec.networks):
        key = "net%d" % index
        values[key] = pve.nic_value(network, default_bridge, "networks[%d].bridge" % index)
        record["nics"][key] = network.name
        values.update(pve.static_values(key, network))
    if spec.tags:
        values["tags"] = pve.pve_tags(spec.tags)
    values.update(cloudinit.config_values(spec, vmid, disk_storage, options, warn))
    values["description"] = pve.write_record(config.get("description"), record)
    return values


def changes(config: dict[str, Any], change: Reconfiguration,
            default_bridge: Optional[str]) -> tuple[dict[str, Any], list[str]]:
    """The config values to write and the keys to delete for ``change``; the record follows the NICs."""
    values: dict[str, Any] = {}
    delete: list[str] = []
    record = pve.read_record(config.get("description"))
    record.setdefault("disks", {})
    record.setdefault("nics", {})
    if change.cpu:
        ceiling = int(config.get("cores") or 1) * int(config.get("sockets") or 1)
        values["vcpus"] = change.cpu
        if change.cpu > ceiling:
            values.update(pve.cpu_settings(change.cpu))
    if change.memory_mib:
        values["memory"] = str(change.memory_mib)
        if change.memory_mib > int(record.get("maxMemoryMiB") or 0):
            record["maxMemoryMiB"] = pve.HOTPLUG_FACTOR * change.memory_mib
    disk_storage = pve.root_storage(config) or "local-lvm"
    for key, disk in zip(pve.free_keys("scsi", config, len(change.add_disks), first=1), change.add_disks):
        values[key] = pve.disk_value(disk_storage, disk)
        record["disks"][key] = disk.name
    pve.nic_changes(config, change, record, values, delete, default_bridge)
    if change.tags is not None:
        values["tags"] = pve.pve_tags(change.tags)
    description = pve.write_record(config.get("description"), record)
    if (values or delete) and description != config.get("description"):
        values["description"] = description
    return values, delete


def put(session: Session, vm_path: str, values: dict[str, Any], delete: Optional[list[str]] = None,
        digest: Optional[str] = None, live: bool = False) -> None:
    """Write ``values`` to the config at ``vm_path``; a live change PVE leaves pending is reverted and refused."""
    params = dict(values)
    if delete:
        params["delete"] = ",".join(delete)
    if digest:
        params["digest"] = digest
    if params.get("tags") == "":
        params.pop("tags")
        params["delete"] = ",".join(filter(None, [params.get("delete"), "tags"]))
    session.put(vm_path + "/config", **params)
    if live:
        left = [e["key"] for e in session.get(vm_path + "/pending")
                if ("pending" in e and e["key"] in values) or (e.get("delete") and e["key"] in (delete or ()))]
        if left:
            session.put(vm_path + "/config", revert=",".join(left))
            raise errors.PreconditionError("Proxmox VE cannot apply %s to the running VM; set "
                                           "allow_power_cycling=true or stop the VM" % ", ".join(sorted(left)),
                                           option="allow_power_cycling")
