# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-memory provider for demos and tests, like VirtRigaud's provider-mock.

``mock://`` keeps VMs for the life of the process.  ``mock:///some/file.json``
keeps them in that file, so separate module runs see the same world.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from contextlib import contextmanager
from typing import Any, Iterator, Optional, cast

from ..errors import ConflictError, NotFoundError, PreconditionError, SpecError, UnavailableError
from ..image_transfer import Transfer
from ..images import ImageSpec, PreparedImage
from ..placement import Host
from ..spec import NetworkSpec, Placement, VMSpec
from . import nics
from .base import (
    Capabilities,
    ConsoleAccess,
    NicChange,
    ObservedDisk,
    ObservedNIC,
    ObservedVM,
    PowerOp,
    Provider,
    ProviderConfig,
    Reconfiguration,
    Snapshot,
    TaskRef,
    TaskStatus,
)

MISSING_PREFIX = "missing"
DEFAULT_HOST = "mock-host"
DEFAULT_DATASTORE = "mock-datastore"
# Where a placement policy may put a VM.
HOSTS = ("mock-1", "mock-2", "mock-3")
_DONE = TaskRef()


class MockProvider(Provider):
    type_name = "mock"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        uri = config.uri or "mock://"
        if not uri.startswith("mock://"):
            raise SpecError("'%s' is not a mock URI such as 'mock://' or 'mock:///tmp/state.json'" % uri, option="uri")
        self.path = uri[len("mock://"):] or None
        self._memory: dict[str, Any] = {"vms": {}}

    @contextmanager
    def _state(self, write: bool = False) -> Iterator[dict[str, Any]]:
        if not self.path:
            yield self._memory
            return
        try:
            handle = open(self.path, "a+", encoding="utf-8")
        except OSError as err:
            raise UnavailableError("cannot open mock state file '%s': %s" % (self.path, err.strerror)) from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            handle.seek(0)
            text = handle.read()
            state = json.loads(text) if text.strip() else {"vms": {}}
            yield state
            if write:
                handle.seek(0)
                handle.truncate()
                json.dump(state, handle, indent=1, sort_keys=True)

    def _vm(self, state: dict[str, Any], vm_id: str) -> dict[str, Any]:
        try:
            return cast("dict[str, Any]", state["vms"][vm_id])
        except KeyError:
            raise NotFoundError("VM '%s' not found" % vm_id) from None

    def validate(self) -> None:
        if self.path and not os.path.isdir(os.path.dirname(self.path) or "."):
            raise NotFoundError("the directory of mock state file '%s' does not exist" % self.path)

    def check_spec(self, spec: VMSpec) -> None:
        """Names starting with ``missing`` stand for things the backend does not have."""
        if spec.image and spec.image.startswith(MISSING_PREFIX):
            raise SpecError("image '%s' does not exist" % spec.image, option="image")
        if spec.placement.datastore and spec.placement.datastore.startswith(MISSING_PREFIX):
            raise SpecError("datastore '%s' does not exist" % spec.placement.datastore, option="placement.datastore")
        self.check_networks(spec)

    def check_networks(self, spec: VMSpec) -> None:
        for index, network in enumerate(spec.networks):
            if (network.network or "").startswith(MISSING_PREFIX):
                raise SpecError("network '%s' does not exist" % network.network, option="networks[%d].network" % index)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            supports_reconfigure_online=True,
            supports_disk_expansion_online=True,
            supports_snapshots=True,
            supports_memory_snapshots=True,
            supports_linked_clones=True,
            supports_image_import=True,
            supported_disk_types=("thin", "thick", "raw", "qcow2"),
            supported_network_types=("bridge", "nat", "distributed"),
            supported_transfer_modes=("relay",),
            nic_changes={"set_network": "live", "set_mac_address": "live", "set_ip_address": "live",
                         "remove_network": "live"},
            console_types=("vnc",),
            supports_secure_boot=True,
        )

    def open_console(self, vm_id: str) -> Optional[ConsoleAccess]:
        vm = self.describe(vm_id)
        if vm is None:
            raise NotFoundError("VM '%s' not found" % vm_id)
        if vm.power_state != "On":
            return None
        return ConsoleAccess(type="vnc", url=vm.console_url or "", host="console.mock", port=5900)

    def describe(self, vm_id: str) -> Optional[ObservedVM]:
        with self._state() as state:
            record = state["vms"].get(vm_id)
        return _observed(record) if record else None

    def find(self, name: str) -> Optional[ObservedVM]:
        with self._state() as state:
            matches = [r for r in state["vms"].values() if r["name"] == name]
        if len(matches) > 1:
            raise ConflictError("several VMs are named '%s': %s" % (name, ", ".join(r["id"] for r in matches)))
        return _observed(matches[0]) if matches else None

    def placement_hosts(self) -> tuple[Host, ...]:
        return tuple(Host(name) for name in HOSTS)

    def list_vms(self) -> list[ObservedVM]:
        with self._state() as state:
            return [_observed(r) for r in state["vms"].values()]

    def create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        with self._state(write=True) as state:
            for record in state["vms"].values():
                if record["name"] == spec.name:
                    return record["id"], _DONE
            vm_id = "vm-" + uuid.uuid4().hex[:12]
            state["vms"][vm_id] = {
                "id": vm_id,
                "name": spec.name,
                "power": "Off",
                "cpu": spec.cpu or 1,
                "memory_mib": spec.memory_mib or 512,
                "max_cpu": min(4 * (spec.cpu or 1), 128),
                "max_memory_mib": 4 * (spec.memory_mib or 512),
                "firmware": spec.firmware or "bios",
                "secure_boot": bool(spec.secure_boot),
                "disks": [{"name": "root", "size_gib": spec.root_disk_gib or 10}]
                + [{"name": d.name, "size_gib": d.size_gib} for d in spec.disks],
                "nics": [_nic(n, i) for i, n in enumerate(spec.networks)],
                "tags": list(spec.tags or ()),
                "placement": dict(vars(spec.placement), datastore=spec.placement.datastore or DEFAULT_DATASTORE),
                "snapshots": [],
            }
        return vm_id, _DONE

    def delete(self, vm_id: str, delete_disks: bool = True) -> TaskRef:
        with self._state(write=True) as state:
            record = state["vms"].get(vm_id)
            if record is None:
                return _DONE
            if record["power"] == "On":
                raise PreconditionError("VM '%s' is running" % record["name"])
            del state["vms"][vm_id]
        return _DONE

    def power(self, vm_id: str, op: PowerOp, graceful_timeout: int = 60) -> TaskRef:
        with self._state(write=True) as state:
            record = self._vm(state, vm_id)
            record["power"] = "On" if op in (PowerOp.ON, PowerOp.REBOOT) else "Off"
        return _DONE

    migration_keys = ("host", "datastore")

    def where(self, vm: ObservedVM) -> Placement:
        """A VM created without a host is on DEFAULT_HOST."""
        return Placement(host=vm.placement.host or DEFAULT_HOST, datastore=vm.placement.datastore)

    def check_migration(self, vm_id: str, target: Placement, live: bool, prefix: str = "placement.") -> None:
        """Hosts and datastores starting with ``missing`` do not exist."""
        with self._state() as state:
            self._vm(state, vm_id)
        for key in self.migration_keys:
            value = getattr(target, key)
            if value and value.startswith(MISSING_PREFIX):
                raise SpecError("%s '%s' does not exist" % (key, value), option=prefix + key)

    def migrate(self, vm_id: str, target: Placement, live: bool) -> TaskRef:
        with self._state(write=True) as state:
            record = self._vm(state, vm_id)
            record["placement"] = dict(record.get("placement") or {},
                                       **{key: getattr(target, key) for key in self.migration_keys
                                          if getattr(target, key)})
        return _DONE

    def reconfigure(self, vm_id: str, change: Reconfiguration) -> TaskRef:
        with self._state(write=True) as state:
            record = self._vm(state, vm_id)
            if change.live and (change.cpu or 0) > record["max_cpu"]:
                raise PreconditionError("%s CPUs exceed the hot-plug ceiling of %d" % (change.cpu, record["max_cpu"]))
            if change.live and (change.memory_mib or 0) > record["max_memory_mib"]:
                raise PreconditionError("memory exceeds the hot-plug ceiling of %d MiB" % record["max_memory_mib"])
            record["cpu"] = change.cpu or record["cpu"]
            record["memory_mib"] = change.memory_mib or record["memory_mib"]
            record["max_cpu"] = max(record["max_cpu"], record["cpu"])
            record["max_memory_mib"] = max(record["max_memory_mib"], record["memory_mib"])
            for disk in record["disks"]:
                disk["size_gib"] = change.disk_sizes_gib.get(disk["name"], disk["size_gib"])
            record["disks"] += [{"name": d.name, "size_gib": d.size_gib} for d in change.add_disks]
            record["nics"] = [n for n in record["nics"] if n["name"] not in change.remove_networks]
            for nic_change in change.change_networks:
                _change_nic(record, nic_change)
            record["nics"] += [_nic(n, len(record["nics"]) + i) for i, n in enumerate(change.add_networks)]
            if change.tags is not None:
                record["tags"] = list(change.tags)
        return _DONE

    def task_status(self, task: TaskRef) -> TaskStatus:
        return TaskStatus(done=True, error="task not found" if task.id else "")

    def snapshot_list(self, vm_id: str) -> list[Snapshot]:
        with self._state() as state:
            record = self._vm(state, vm_id)
            return [Snapshot(**{k: v for k, v in s.items() if k != "saved"}) for s in record["snapshots"]]

    def snapshot_create(
        self, vm_id: str, name: str, description: str = "", include_memory: bool = False
    ) -> tuple[str, TaskRef]:
        with self._state(write=True) as state:
            record = self._vm(state, vm_id)
            for snap in record["snapshots"]:
                snap["current"] = False
            record["snapshots"].append(
                {"id": name, "name": name, "description": description, "current": True,
                 "has_memory": include_memory and record["power"] == "On", "saved": _saved(record)}
            )
        return name, _DONE

    def snapshot_delete(self, vm_id: str, snapshot_id: str) -> TaskRef:
        with self._state(write=True) as state:
            record = self._vm(state, vm_id)
            record["snapshots"] = [s for s in record["snapshots"] if s["id"] != snapshot_id]
        return _DONE

    def snapshot_revert(self, vm_id: str, snapshot_id: str) -> TaskRef:
        with self._state(write=True) as state:
            record = self._vm(state, vm_id)
            snap = next((s for s in record["snapshots"] if s["id"] == snapshot_id), None)
            if snap is None:
                raise NotFoundError("snapshot '%s' not found" % snapshot_id)
            record.update(json.loads(json.dumps(snap["saved"])))
            for other in record["snapshots"]:
                other["current"] = other is snap
        return _DONE

    def clone(self, source_id: str, target_name: str, linked: bool = False) -> tuple[str, TaskRef]:
        with self._state(write=True) as state:
            source = self._vm(state, source_id)
            if any(r["name"] == target_name for r in state["vms"].values()):
                raise ConflictError("a VM named '%s' exists already" % target_name)
            vm_id = "vm-" + uuid.uuid4().hex[:12]
            copy = json.loads(json.dumps(source))
            copy.update(id=vm_id, name=target_name, power="Off", snapshots=[])
            copy["nics"] = [dict(n, mac_address=_mac(vm_id, i)) for i, n in enumerate(copy["nics"])]
            state["vms"][vm_id] = copy
        return vm_id, _DONE

    def find_image(self, spec: ImageSpec) -> Optional[PreparedImage]:
        """A template counts as held unless its name starts with ``missing``; imported images are recorded."""
        if spec.template:
            return None if spec.template.startswith(MISSING_PREFIX) else PreparedImage(spec.name, spec.template)
        with self._state() as state:
            record = state.get("images", {}).get(spec.name)
        return PreparedImage(**record) if record else None

    def prepare_image(self, spec: ImageSpec, transfer: Transfer) -> PreparedImage:
        existing = self.find_image(spec)
        if existing is not None:
            return existing
        local = transfer.fetch(spec)
        transfer.discard(local)
        image = PreparedImage(spec.name, spec.name, "mock://images/" + spec.name, local.format, local.size_bytes,
                              spec.storage or "mock")
        with self._state(write=True) as state:
            state.setdefault("images", {})[spec.name] = image.to_dict()
        return image

    def delete_image(self, image: PreparedImage) -> None:
        with self._state(write=True) as state:
            state.setdefault("images", {}).pop(image.name, None)


def _saved(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("power", "cpu", "memory_mib", "disks", "nics")
    return cast("dict[str, Any]", json.loads(json.dumps({k: record[k] for k in keys})))


def _mac(seed: str, index: int) -> str:
    digest = uuid.uuid5(uuid.NAMESPACE_OID, "%s/%d" % (seed, index)).hex
    return "52:54:00:%s:%s:%s" % (digest[0:2], digest[2:4], digest[4:6])


def _nic(network: NetworkSpec, index: int) -> dict[str, Any]:
    return dict({
        "name": network.name,
        "network": network.network,
        "bridge": network.bridge,
        "model": network.model or "virtio",
        "mac_address": network.mac_address or _mac(uuid.uuid4().hex, index),
        "dns": [],
    }, **_static(network))


def _static(network: NetworkSpec) -> dict[str, Any]:
    static = {"static_ip": nics.static_ip(network), "gateway": network.gateway}
    return dict(static, dns=list(network.dns)) if network.dns else static


def _change_nic(record: dict[str, Any], change: NicChange) -> None:
    nic = next((n for n in record["nics"] if n["name"] == change.network.name), None)
    if nic is None:
        raise NotFoundError("the VM has no NIC named '%s'" % change.network.name)
    wanted = change.network
    if "network" in change.fields:
        nic.update(network=wanted.network, bridge=wanted.bridge)
    if "mac_address" in change.fields:
        nic["mac_address"] = wanted.mac_address
    if "ip_address" in change.fields:
        nic.update(_static(wanted))


def _observed_nic(nic: dict[str, Any], index: int, running: bool) -> ObservedNIC:
    """A stored NIC; a running VM reports its static address, or one from the documentation range."""
    address = (nic.get("static_ip") or "").partition("/")[0] or "192.0.2.%d" % (10 + index)
    return ObservedNIC(**dict(nic, ip_addresses=(address,) if running else (), dns=tuple(nic.get("dns") or ())))


def _observed(record: dict[str, Any]) -> ObservedVM:
    running = record["power"] == "On"
    nics = tuple(_observed_nic(nic, i, running) for i, nic in enumerate(record["nics"]))
    return ObservedVM(
        id=record["id"],
        name=record["name"],
        power_state=record["power"],
        cpu=record["cpu"],
        memory_mib=record["memory_mib"],
        firmware=record["firmware"],
        secure_boot=record.get("secure_boot", False),
        max_cpu=record["max_cpu"],
        max_memory_mib=record["max_memory_mib"],
        disks=tuple(ObservedDisk(name=d["name"], size_gib=d["size_gib"], format="qcow2") for d in record["disks"]),
        nics=nics,
        tags=tuple(record["tags"]),
        console_url="mock://console/%s" % record["id"],
        placement=Placement(**record.get("placement") or {}),
        raw={"snapshots": len(record["snapshots"])},
    )
