# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A conformance suite for any VirtRigaud provider: the provider.v1 contract, one step at a time, over gRPC.

Every step has one result.  A step that needs a capability is skipped, with the
reason, when GetCapabilities says the provider lacks it, and judged like any
other when it says it has it.  Everything the suite creates is named with the
run's prefix and removed at the end, also when a step fails.  The optional load
phase runs N clients for T seconds against one VM of the run.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import errors
from .conformance_report import FAILED, PASSED, SKIPPED, CallRecord, Report, StepResult
from .providers.remote.client import DEADLINES, MINUTE, Channel
from .providers.remote.translate import create_fields, dumps
from .spec import parse_vm

ON, OFF, REBOOT, SHUTDOWN_GRACEFUL = 1, 2, 3, 4
# Every gRPC server answers a method it does not serve with UNIMPLEMENTED, so this one is fair to any provider.
UNLISTED_METHOD = "ConformanceUnlistedMethod"
STEPS = (
    "validate", "get_capabilities", "create", "create_again", "describe", "describe_missing", "power_on", "reboot",
    "reconfigure_online", "shutdown_graceful", "reconfigure_offline", "snapshot_create", "snapshot_revert",
    "snapshot_delete", "clone", "power_off", "disk_info", "disk_export", "disk_import", "list_vms", "image_prepare",
    "error_invalid_argument",
    "error_not_found", "error_unimplemented", "delete", "delete_again", "deadlines",
)


class StepFailure(Exception):
    """The provider did something other than the contract says."""


class StepSkipped(Exception):
    """The step cannot run: the provider says it lacks what it needs, or an earlier step left nothing to test."""


@dataclass
class Settings:
    """What a run creates and how long it waits."""

    prefix: str
    image: str = ""
    cpu: int = 1
    memory_mib: int = 512
    network: str = ""
    image_source: Optional[dict[str, Any]] = None
    disk_dir: str = ""
    graceful_timeout: int = 30
    task_timeout: float = 600.0
    skip: tuple[str, ...] = ()
    load_clients: int = 0
    load_seconds: float = 0.0


class Client:
    """The provider's RPCs as the suite makes them: each timed against the manager's deadline, no hidden retry
    of a contract error, every failure with its gRPC code."""

    def __init__(self, channel: Channel, report: Report) -> None:
        self.channel = channel
        self.report = report
        self._lock = threading.Lock()

    def call(self, method: str, **fields: Any) -> Any:
        started = time.monotonic()
        code = "OK"
        try:
            return self.channel.call(method, **fields)
        except errors.VirtrigaudError as err:
            code = str(err.details.get("grpc_code") or err.grpc_code)
            raise
        finally:
            self._record(method, time.monotonic() - started, code)

    def code_of(self, method: str, **fields: Any) -> str:
        """The gRPC code ``method`` ends with (``OK`` when it succeeds)."""
        try:
            self.call(method, **fields)
        except errors.VirtrigaudError as err:
            return str(err.details.get("grpc_code") or err.grpc_code)
        return "OK"

    def unlisted_code(self) -> str:
        started = time.monotonic()
        code = self.channel.call_unlisted(UNLISTED_METHOD)
        self._record(UNLISTED_METHOD, time.monotonic() - started, code)
        return code

    def _record(self, method: str, seconds: float, code: str) -> None:
        with self._lock:
            self.report.calls.append(CallRecord(method, seconds, code))

    def wait(self, response: Any, what: str, timeout: float) -> None:
        """Poll the TaskRef ``response`` carries, if any, until it is done; its error fails the step."""
        task = getattr(response, "task", None)
        if task is None or not response.HasField("task") or not task.id:
            return
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            status = self.call("TaskStatus", task={"id": task.id})
            if status.error:
                raise StepFailure("%s: task %s failed: %s" % (what, task.id, status.error))
            if status.done:
                return
            if time.monotonic() > deadline:
                raise StepFailure("%s: task %s not done after %d s" % (what, task.id, timeout))
            time.sleep(pause)
            pause = min(0.5, pause * 2)


class Suite:
    """One run of the contract steps against one provider."""

    def __init__(self, channel: Channel, settings: Settings) -> None:
        self.settings = settings
        self.report = Report(endpoint=channel.target, prefix=settings.prefix)
        self.rpc = Client(channel, self.report)
        self.capabilities: dict[str, Any] = {}
        self.vm_id = ""
        self.clone_id = ""
        self.snapshot_id = ""
        self.created: dict[str, str] = {}
        # The ExportDisk step's file, format and SHA-256, for the ImportDisk step.
        self.exported: Optional[tuple[str, str, str]] = None

    # running

    def run(self) -> Report:
        try:
            for name in STEPS:
                self._step(name, getattr(self, "step_" + name))
            if self.settings.load_clients > 0 and self.settings.load_seconds > 0:
                self.report.load = self.load_phase()
        finally:
            self.cleanup()
        return self.report

    def _step(self, name: str, body: Callable[[], None]) -> None:
        started = time.monotonic()
        if name in self.settings.skip:
            self.report.steps.append(StepResult(name, SKIPPED, 0.0, "skipped by request"))
            return
        try:
            body()
        except StepSkipped as err:
            self.report.steps.append(StepResult(name, SKIPPED, time.monotonic() - started, str(err)))
        except StepFailure as err:
            self.report.steps.append(StepResult(name, FAILED, time.monotonic() - started, str(err)))
        except errors.VirtrigaudError as err:
            code = err.details.get("grpc_code") or err.grpc_code
            self.report.steps.append(StepResult(name, FAILED, time.monotonic() - started,
                                                "%s: %s" % (code, err.message)))
        else:
            self.report.steps.append(StepResult(name, PASSED, time.monotonic() - started))

    def name(self, suffix: str) -> str:
        return "%s-%s" % (self.settings.prefix, suffix)

    def needs(self, capability: str) -> None:
        if not self.capabilities:
            raise StepSkipped("GetCapabilities gave no answer")
        if not self.capabilities.get(capability):
            raise StepSkipped("the provider reports %s=false" % capability)

    def needs_vm(self) -> str:
        if not self.vm_id:
            raise StepSkipped("no VM: create failed")
        return self.vm_id

    def create_request(self, name: str, class_json: Optional[str] = None) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "cpu": self.settings.cpu, "memory": self.settings.memory_mib,
                                  "image": self.settings.image or None}
        if self.settings.network:
            params["networks"] = [{"name": "nic0", "network": self.settings.network}]
        request = create_fields(parse_vm(params))
        request["tags"] = [self.settings.prefix]
        if class_json is not None:
            request["class_json"] = class_json
        return request

    def describe(self, vm_id: str) -> Any:
        return self.rpc.call("Describe", id=vm_id)

    def expect_power(self, vm_id: str, state: str, what: str) -> None:
        observed = self.describe(vm_id)
        if not observed.exists:
            raise StepFailure("%s: Describe says the VM does not exist" % what)
        if observed.power_state != state:
            raise StepFailure("%s: Describe reports power_state %r, not %r" % (what, observed.power_state, state))

    def power(self, vm_id: str, op: int, what: str) -> None:
        response = self.rpc.call("Power", id=vm_id, op=op, graceful_timeout_seconds=self.settings.graceful_timeout)
        self.rpc.wait(response, what, self.settings.task_timeout)

    def listed(self, vm_id: str) -> Any:
        return next((vm for vm in self.rpc.call("ListVMs").vms if vm.id == vm_id), None)

    # the steps, in order

    def step_validate(self) -> None:
        response = self.rpc.call("Validate")
        if not response.ok:
            raise StepFailure("Validate answered ok=false: %s" % response.message)

    def step_get_capabilities(self) -> None:
        response = self.rpc.call("GetCapabilities")
        self.capabilities = {descriptor.name: (list(value) if not isinstance(value, bool) else value)
                             for descriptor, value in response.ListFields()}
        self.report.capabilities = dict(self.capabilities)
        self.capabilities.setdefault("answered", True)

    def step_create(self) -> None:
        name = self.name("vm")
        response = self.rpc.call("Create", **self.create_request(name))
        if not response.id:
            raise StepFailure("Create returned no id")
        self.vm_id = self.created[name] = response.id
        self.rpc.wait(response, "Create", self.settings.task_timeout)
        if not self.describe(self.vm_id).exists:
            raise StepFailure("Describe of the new VM %s says it does not exist" % self.vm_id)

    def step_create_again(self) -> None:
        vm_id = self.needs_vm()
        response = self.rpc.call("Create", **self.create_request(self.name("vm")))
        self.rpc.wait(response, "Create again", self.settings.task_timeout)
        if response.id != vm_id:
            self.created[self.name("vm") + "#2"] = response.id
            raise StepFailure("a second Create of the same name returned id %r, not %r" % (response.id, vm_id))
        same_name = [vm.id for vm in self.rpc.call("ListVMs").vms if vm.name == self.name("vm")]
        if len(same_name) > 1:
            raise StepFailure("ListVMs shows %d VMs named %s: %s" % (len(same_name), self.name("vm"), same_name))

    def step_describe(self) -> None:
        observed = self.describe(self.needs_vm())
        if not observed.exists:
            raise StepFailure("Describe says the VM does not exist")
        if observed.power_state not in ("On", "Off"):
            raise StepFailure("power_state %r is neither On nor Off (the manager's status accepts only those)"
                              % observed.power_state)

    def step_describe_missing(self) -> None:
        observed = self.describe(self.name("missing"))
        if observed.exists:
            raise StepFailure("Describe of an id nobody created says exists=true")

    def step_power_on(self) -> None:
        vm_id = self.needs_vm()
        self.power(vm_id, ON, "Power ON")
        self.expect_power(vm_id, "On", "after Power ON")

    def step_reboot(self) -> None:
        vm_id = self.needs_vm()
        self.power(vm_id, REBOOT, "Power REBOOT")
        self.expect_power(vm_id, "On", "after Power REBOOT")

    def step_reconfigure_online(self) -> None:
        self.needs("supports_reconfigure_online")
        self.reconfigure(self.needs_vm(), self.settings.memory_mib + 256, "online")

    def step_shutdown_graceful(self) -> None:
        vm_id = self.needs_vm()
        if self.describe(vm_id).power_state != "On":
            self.power(vm_id, ON, "Power ON before SHUTDOWN_GRACEFUL")
        self.power(vm_id, SHUTDOWN_GRACEFUL, "Power SHUTDOWN_GRACEFUL")
        self.expect_power(vm_id, "Off", "after Power SHUTDOWN_GRACEFUL")

    def step_reconfigure_offline(self) -> None:
        vm_id = self.needs_vm()
        if self.describe(vm_id).power_state != "Off":
            raise StepSkipped("the VM is not off: shutdown_graceful failed")
        self.reconfigure(vm_id, self.settings.memory_mib + 512, "offline")

    def reconfigure(self, vm_id: str, memory_mib: int, how: str) -> None:
        desired = {"Class": {"CPU": self.settings.cpu, "MemoryMiB": memory_mib}, "Disks": None, "Networks": None,
                   "Tags": None}
        response = self.rpc.call("Reconfigure", id=vm_id, desired_json=dumps(desired))
        self.rpc.wait(response, "Reconfigure " + how, self.settings.task_timeout)
        listed = self.listed(vm_id)
        if listed is None:
            raise StepFailure("ListVMs does not list the VM after Reconfigure")
        if listed.memory_mib and listed.memory_mib != memory_mib:
            raise StepFailure("memory is %d MiB after an %s Reconfigure to %d MiB" % (listed.memory_mib, how,
                                                                                      memory_mib))

    def step_snapshot_create(self) -> None:
        self.needs("supports_snapshots")
        response = self.rpc.call("SnapshotCreate", vm_id=self.needs_vm(), name_hint=self.name("snap"),
                                 description="virtrigaud conformance", include_memory=False)
        if not response.snapshot_id:
            raise StepFailure("SnapshotCreate returned no snapshot_id")
        self.snapshot_id = response.snapshot_id
        self.rpc.wait(response, "SnapshotCreate", self.settings.task_timeout)

    def step_snapshot_revert(self) -> None:
        self.needs("supports_snapshots")
        if not self.snapshot_id:
            raise StepSkipped("no snapshot: snapshot_create failed")
        response = self.rpc.call("SnapshotRevert", vm_id=self.needs_vm(), snapshot_id=self.snapshot_id)
        self.rpc.wait(response, "SnapshotRevert", self.settings.task_timeout)

    def step_snapshot_delete(self) -> None:
        self.needs("supports_snapshots")
        if not self.snapshot_id:
            raise StepSkipped("no snapshot: snapshot_create failed")
        response = self.rpc.call("SnapshotDelete", vm_id=self.needs_vm(), snapshot_id=self.snapshot_id)
        self.rpc.wait(response, "SnapshotDelete", self.settings.task_timeout)
        self.snapshot_id = ""

    def step_clone(self) -> None:
        self.needs("supports_linked_clones")
        source = self.needs_vm()
        if self.describe(source).power_state != "Off":
            self.power(source, OFF, "Power OFF before Clone")
        name = self.name("clone")
        response = self.rpc.call("Clone", source_vm_id=source, target_name=name, linked=True)
        if not response.target_vm_id:
            raise StepFailure("Clone returned no target_vm_id")
        self.clone_id = self.created[name] = response.target_vm_id
        self.rpc.wait(response, "Clone", self.settings.task_timeout)
        if not self.describe(self.clone_id).exists:
            raise StepFailure("Describe of the clone %s says it does not exist" % self.clone_id)

    def step_power_off(self) -> None:
        vm_id = self.needs_vm()
        self.power(vm_id, ON, "Power ON before Power OFF")
        self.power(vm_id, OFF, "Power OFF")
        self.expect_power(vm_id, "Off", "after Power OFF")

    def needs_stopped_vm(self) -> str:
        vm_id = self.needs_vm()
        if self.describe(vm_id).power_state != "Off":
            self.power(vm_id, OFF, "Power OFF before the disk steps")
        return vm_id

    def step_disk_info(self) -> None:
        self.needs("supports_disk_export")
        info = self.rpc.call("GetDiskInfo", vm_id=self.needs_stopped_vm())
        if not info.format or info.virtual_size_bytes <= 0 or not info.path:
            raise StepFailure("GetDiskInfo of the root disk gave format %r, virtual size %d, path %r"
                              % (info.format, info.virtual_size_bytes, info.path))

    def step_disk_export(self) -> None:
        self.needs("supports_disk_export")
        if not self.settings.disk_dir:
            raise StepSkipped("no disk_dir given")
        # The backend's first export format is the one it imports as it is, so the import's checksum can match.
        fmt = (self.capabilities.get("supported_export_formats") or ["qcow2"])[0]
        path = os.path.join(self.settings.disk_dir, "%s.%s" % (self.name("disk"), fmt))
        fields = {"vm_id": self.needs_stopped_vm(), "destination_url": path, "format": fmt}
        first, second = (self.rpc.call("ExportDisk", **fields) for dummy in range(2))
        for response in (first, second):
            self.rpc.wait(response, "ExportDisk", self.settings.task_timeout)
        if not first.checksum or first.checksum != second.checksum:
            raise StepFailure("two ExportDisks of one stopped VM gave checksums %r and %r"
                              % (first.checksum, second.checksum))
        self.exported = (path, fmt, first.checksum)

    def step_disk_import(self) -> None:
        self.needs("supports_disk_import")
        if self.exported is None:
            raise StepSkipped("nothing to import: disk_export did not run")
        path, fmt, checksum = self.exported
        fields = {"source_url": path, "target_name": self.name("disk"), "format": fmt, "verify_checksum": True,
                  "expected_checksum": checksum}
        first, second = (self.rpc.call("ImportDisk", **fields) for dummy in range(2))
        for response in (first, second):
            self.rpc.wait(response, "ImportDisk", self.settings.task_timeout)
        if first.checksum != checksum:
            raise StepFailure("ImportDisk of the exported %s file reports sha256 %r, the export %r"
                              % (fmt, first.checksum, checksum))
        if (second.disk_id, second.checksum) != (first.disk_id, first.checksum):
            raise StepFailure("a second ImportDisk of one target gave %r, not %r" % (second.disk_id, first.disk_id))
        wrong = dict(fields)
        wrong.update({"target_name": self.name("disk-bad"), "expected_checksum": "0" * 64})
        code = self.rpc.code_of("ImportDisk", **wrong)
        if code != "FAILED_PRECONDITION":
            raise StepFailure("ImportDisk with a checksum the bytes do not have ended %s, not FAILED_PRECONDITION"
                              % code)

    def step_list_vms(self) -> None:
        listed = {vm.id: vm.name for vm in self.rpc.call("ListVMs").vms}
        missing = [vm_id for vm_id in self.created.values() if vm_id not in listed]
        if missing:
            raise StepFailure("ListVMs leaves out VMs the run created: %s" % ", ".join(missing))

    def step_image_prepare(self) -> None:
        self.needs("supports_image_import")
        if not self.settings.image_source:
            raise StepSkipped("no image_source given")
        fields = {"image_json": dumps(self.settings.image_source), "target_name": self.name("image"),
                  "storage_hint": ""}
        first = self.rpc.call("ImagePrepare", **fields)
        self.rpc.wait(first, "ImagePrepare", self.settings.task_timeout)
        second = self.rpc.call("ImagePrepare", **fields)
        self.rpc.wait(second, "ImagePrepare again", self.settings.task_timeout)
        if first.prepared_image_id != second.prepared_image_id:
            raise StepFailure("a second ImagePrepare of the same target gave %r, not %r"
                              % (second.prepared_image_id, first.prepared_image_id))

    def step_error_invalid_argument(self) -> None:
        name = self.name("bad")
        code = self.rpc.code_of("Create", **self.create_request(name, class_json="{this is not JSON"))
        if code != "INVALID_ARGUMENT":
            raise StepFailure("Create with a class_json that is not JSON ended %s, not INVALID_ARGUMENT" % code)

    def step_error_not_found(self) -> None:
        code = self.rpc.code_of("Power", id=self.name("missing"), op=ON, graceful_timeout_seconds=0)
        if code != "NOT_FOUND":
            raise StepFailure("Power ON of an id nobody created ended %s, not NOT_FOUND" % code)

    def step_error_unimplemented(self) -> None:
        code = self.rpc.unlisted_code()
        if code != "UNIMPLEMENTED":
            raise StepFailure("a method the provider does not serve ended %s, not UNIMPLEMENTED" % code)

    def step_delete(self) -> None:
        vm_id = self.needs_vm()
        for name, created in sorted(self.created.items()):
            if created != vm_id:
                self.delete(created, "Delete " + name)
        self.delete(vm_id, "Delete")
        if self.describe(vm_id).exists:
            raise StepFailure("Describe after Delete says the VM still exists")

    def step_delete_again(self) -> None:
        vm_id = self.needs_vm()
        self.delete(vm_id, "Delete again")
        self.created = {}

    def delete(self, vm_id: str, what: str) -> None:
        self.rpc.wait(self.rpc.call("Delete", id=vm_id), what, self.settings.task_timeout)

    def step_deadlines(self) -> None:
        late = ["%s took %.1f s (deadline %.0f s)" % (c.method, c.seconds, DEADLINES.get(c.method, MINUTE))
                for c in self.report.calls if c.seconds > DEADLINES.get(c.method, MINUTE) or
                c.code == "DEADLINE_EXCEEDED"]
        if late:
            raise StepFailure("; ".join(late))

    # the load phase and the cleanup

    def load_phase(self) -> dict[str, Any]:
        name = self.name("load")
        response = self.rpc.call("Create", **self.create_request(name))
        self.created[name] = response.id
        self.rpc.wait(response, "Create for the load phase", self.settings.task_timeout)
        self.power(response.id, ON, "Power ON for the load phase")
        return run_load(self.rpc.channel, response.id, self.settings.load_clients, self.settings.load_seconds)

    def cleanup(self) -> None:
        """Remove what the run made: the VMs it recorded and any VM whose name carries the run's prefix."""
        ids = set(self.created.values())
        try:
            ids.update(vm.id for vm in self.rpc.channel.call("ListVMs").vms
                       if vm.name.startswith(self.settings.prefix + "-"))
        except errors.VirtrigaudError:
            pass
        for vm_id in sorted(ids):
            try:
                response = self.rpc.channel.call("Delete", id=vm_id)
                self.rpc.wait(response, "cleanup", self.settings.task_timeout)
            except (errors.VirtrigaudError, StepFailure):
                pass
        try:
            self.report.leftovers = sorted(vm.id for vm in self.rpc.channel.call("ListVMs").vms
                                           if vm.name.startswith(self.settings.prefix + "-"))
        except errors.VirtrigaudError as err:
            self.report.leftovers = ["cannot list the VMs to check: %s" % err.message]


LOAD_OPERATIONS = ("Describe", "ListVMs", "Power")


def run_load(channel: Channel, vm_id: str, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads, each cycling Describe, ListVMs and Power ON (the VM is on) for ``seconds``."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(offset: int) -> None:
        turn = offset
        while time.monotonic() < stop_at:
            method = LOAD_OPERATIONS[turn % len(LOAD_OPERATIONS)]
            turn += 1
            fields: dict[str, Any] = {"id": vm_id} if method == "Describe" else {}
            if method == "Power":
                fields = {"id": vm_id, "op": ON, "graceful_timeout_seconds": 0}
            started = time.monotonic()
            try:
                channel.call(method, **fields)
                code = ""
            except errors.VirtrigaudError as err:
                code = str(err.details.get("grpc_code") or err.grpc_code)
            with lock:
                latencies.append(time.monotonic() - started)
                if code:
                    failures[code] = failures.get(code, 0) + 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": len(ordered),
            "throughput_per_second": round(len(ordered) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(_quantile(ordered, 0.50) * 1000, 1), "p99_ms": round(_quantile(ordered, 0.99) * 1000, 1),
            "errors": sum(failures.values()), "errors_by_code": failures}


def _quantile(ordered: list[float], share: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
