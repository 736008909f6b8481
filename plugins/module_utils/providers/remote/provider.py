# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remote backend: a VirtRigaud provider runtime (ours or upstream's) over gRPC.

Modules drive it exactly as they drive a hypervisor.  Operations the runtime
still runs come back as a TaskRef, which the executor polls with TaskStatus.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional

from ... import errors
from ...disks import DiskDetails, ExportedDisk, ExportSpec, ImportedDisk, ImportSpec
from ...resilience import Deadline, poll
from ...spec import VMSpec
from ..base import (
    Capabilities,
    ObservedVM,
    PowerOp,
    Provider,
    ProviderConfig,
    Reconfiguration,
    Snapshot,
    TaskRef,
    TaskStatus,
)
from . import translate as v1
from .client import Channel

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ...image_transfer import Transfer

# As long as upstream's manager waits for ExportDisk and ImportDisk.
DISK_SECONDS = 1800.0
# Request metadata our runtime understands: Describe then includes the VM's snapshots.
INCLUDE_SNAPSHOTS = {"virtrigaud-include": "snapshots"}


class RemoteProvider(Provider):
    """Drives one runtime; every call of one instance (one module run) carries one correlation id.

    ``options['correlation_id']`` gives the id; otherwise the instance makes one up.
    """

    type_name = "remote"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.correlation_id = str(config.options.get("correlation_id") or "vr-" + uuid.uuid4().hex)
        self._channel: Optional[Channel] = None

    @property
    def channel(self) -> Channel:
        if self._channel is None:
            self._channel = Channel(self.config, self.correlation_id)
        return self._channel

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def _task(self, response: Any) -> TaskRef:
        return TaskRef(response.task.id if response.HasField("task") else "")

    def validate(self) -> None:
        response = self.channel.call("Validate")
        if not response.ok:
            raise errors.UnavailableError("the provider runtime at %s is not ready: %s"
                                          % (self.channel.target, response.message))

    def check_spec(self, spec: VMSpec) -> None:
        """The runtime checks the spec against its backend when it creates the VM, before touching anything."""

    def capabilities(self) -> Capabilities:
        return v1.capabilities_from(*self.channel.call_with_trailers("GetCapabilities"))

    def _describe(self, vm_id: str, snapshots: bool = False) -> tuple[Optional[ObservedVM], list[Snapshot]]:
        response = self.channel.call("Describe", metadata=INCLUDE_SNAPSHOTS if snapshots else None, id=vm_id)
        if not response.exists:
            return None, []
        raw = json.loads(response.provider_raw_json or "{}")
        document = raw.get(v1.RAW_KEY) if isinstance(raw, dict) else None
        if isinstance(document, dict):
            return v1.observed_from_document(document), v1.snapshots_from_document(document)
        listed = next((vm for vm in self.list_vms() if vm.id == vm_id), None)
        if listed is None:
            return None, []
        return replace(listed, power_state=v1.power_state(response.power_state),
                       console_url=response.console_url or None), []

    def describe(self, vm_id: str) -> Optional[ObservedVM]:
        return self._describe(vm_id)[0]

    def find(self, name: str) -> Optional[ObservedVM]:
        matches = [vm for vm in self.list_vms() if vm.name == name]
        if len(matches) > 1:
            raise errors.ConflictError("%d VMs are named '%s': %s" % (len(matches), name,
                                                                      ", ".join(vm.id for vm in matches)),
                                       option="name")
        return matches[0] if matches else None

    def list_vms(self) -> list[ObservedVM]:
        return [v1.observed_from_vm_info(info) for info in self.channel.call("ListVMs").vms]

    def create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        response = self.channel.call("Create", **v1.create_fields(spec))
        return response.id, self._task(response)

    def delete(self, vm_id: str, delete_disks: bool = True) -> TaskRef:
        if not delete_disks:
            raise errors.UnsupportedError("the provider contract always removes a VM's disks", option="delete_disks")
        try:
            return self._task(self.channel.call("Delete", id=vm_id))
        except errors.NotFoundError:
            return TaskRef()

    def power(self, vm_id: str, op: PowerOp, graceful_timeout: int = 60) -> TaskRef:
        return self._task(self.channel.call("Power", id=vm_id, op=op.value, graceful_timeout_seconds=graceful_timeout))

    def reconfigure(self, vm_id: str, change: Reconfiguration) -> TaskRef:
        desired = v1.dumps(v1.reconfigure_document(change))
        return self._task(self.channel.call("Reconfigure", id=vm_id, desired_json=desired))

    def task_status(self, task: TaskRef) -> TaskStatus:
        if not task.id:
            return TaskStatus(done=True)
        response = self.channel.call("TaskStatus", task={"id": task.id})
        return TaskStatus(done=response.done or bool(response.error), error=response.error)

    def snapshot_list(self, vm_id: str) -> list[Snapshot]:
        vm, snapshots = self._describe(vm_id, snapshots=True)
        if vm is None:
            raise errors.NotFoundError("VM '%s' not found" % vm_id)
        return snapshots

    def snapshot_create(self, vm_id: str, name: str, description: str = "",
                        include_memory: bool = False) -> tuple[str, TaskRef]:
        response = self.channel.call("SnapshotCreate", vm_id=vm_id, name_hint=name, description=description,
                                     include_memory=include_memory)
        return response.snapshot_id, self._task(response)

    def snapshot_delete(self, vm_id: str, snapshot_id: str) -> TaskRef:
        return self._task(self.channel.call("SnapshotDelete", vm_id=vm_id, snapshot_id=snapshot_id))

    def snapshot_revert(self, vm_id: str, snapshot_id: str) -> TaskRef:
        return self._task(self.channel.call("SnapshotRevert", vm_id=vm_id, snapshot_id=snapshot_id))

    def clone(self, source_id: str, target_name: str, linked: bool = False) -> tuple[str, TaskRef]:
        response = self.channel.call("Clone", source_vm_id=source_id, target_name=target_name, linked=linked)
        return response.target_vm_id, self._task(response)

    # disks as files: the runtime moves the bytes where it runs, so the transfer here stays unused

    def disk_info(self, vm_id: str, disk: str = "") -> DiskDetails:
        response = self.channel.call("GetDiskInfo", vm_id=vm_id, disk_id=disk)
        metadata = dict(response.metadata)
        return DiskDetails(
            disk_id=response.disk_id, format=response.format, virtual_size_bytes=response.virtual_size_bytes,
            actual_size_bytes=response.actual_size_bytes, path=response.path, bootable=response.is_bootable,
            snapshots=tuple(response.snapshots), backing_chain=v1.backing_chain(response.backing_file, metadata),
            metadata={k: v for k, v in metadata.items() if k != v1.BACKING_CHAIN})

    def export_disk(self, spec: ExportSpec, transfer: "Transfer") -> ExportedDisk:
        fmt = spec.format or self.disk_info(spec.vm_id, spec.disk).format
        response = self.channel.call("ExportDisk", vm_id=spec.vm_id, disk_id=spec.disk,
                                     destination_url=str(spec.destination), format=fmt, compress=spec.compress)
        self._wait(self._task(response), "ExportDisk of VM %s" % spec.vm_id)
        return ExportedDisk(export_id=response.export_id, destination=str(spec.destination), format=fmt,
                            size_bytes=response.estimated_size_bytes, checksum=response.checksum)

    def import_disk(self, spec: ImportSpec, transfer: "Transfer") -> ImportedDisk:
        checksum = spec.checksum
        if checksum is not None and checksum.algorithm != "sha256":
            raise errors.SpecError("the provider contract carries a SHA-256 checksum only", option="checksum")
        response = self.channel.call("ImportDisk", source_url=str(spec.source), target_name=spec.name,
                                     format=spec.format, storage_hint=spec.storage or "",
                                     verify_checksum=checksum is not None,
                                     expected_checksum=checksum.digest if checksum else "")
        self._wait(self._task(response), "ImportDisk of %s" % spec.name)
        return ImportedDisk(disk_id=response.disk_id, path=response.path, format="",
                            size_bytes=response.actual_size_bytes, checksum=response.checksum)

    def delete_disk(self, disk: ImportedDisk) -> None:
        raise errors.UnsupportedError("the provider contract has no call to remove an imported disk; remove %s by "
                                      "hand" % (disk.path or disk.disk_id))

    def _wait(self, task: TaskRef, what: str) -> None:
        if not task.id:
            return

        def done() -> Optional[bool]:
            status = self.task_status(task)
            if status.error:
                raise errors.ProviderError("%s failed: %s" % (what, status.error))
            return True if status.done else None

        poll(done, Deadline(DISK_SECONDS), what)
