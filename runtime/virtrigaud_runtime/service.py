# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""provider.v1 on top of the provider layer: one thin method per RPC, errors as proper status codes.

Each worker thread keeps its own provider (connections are not shared across
threads), except the mock's, whose VMs live in the provider instance.  Create,
Clone and SnapshotCreate answer when done, because they return an id; the
other changes answer with a TaskRef when they take longer than the task window.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
import zlib
from typing import Any, Callable, Iterator, Optional, cast

import grpc
from google.protobuf.message import DecodeError

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.disks import IMPORT_FIELDS, parse_export, parse_import
from ansible_collections.virtrigaud.core.plugins.module_utils.image_transfer import Transfer
from ansible_collections.virtrigaud.core.plugins.module_utils.images import check_import_options, parse_vmimage
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import parse_snapshot_name
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    PowerOp,
    Provider,
    ProviderConfig,
    TaskRef,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote import translate as v1
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.wire import wire
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline, poll
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm, parse_vm_name
from ansible_collections.virtrigaud.core.plugins.plugin_utils.programs import run_program

from .metrics import Metrics
from .observe import CORRELATION, correlation_of, fields, new_correlation_id
from .tasks import TaskTable
from .throttle import Throttle
from .watch import Verdict

TASK_SECONDS = 1800.0
UNIMPLEMENTED = ("HardwareUpgrade",)
# Polled often and change nothing: logged at debug level, so a busy manager does not flood the log.
READS = ("Validate", "Describe", "TaskStatus", "GetCapabilities", "ListVMs")
# Files the workers lock names on: enough that unrelated Creates seldom wait for each other.
NAME_LOCK_FILES = 256
# What a request becomes when its bytes are no protobuf message (grpc takes None for a failed parse).
UNPARSED = object()


class Abort(Exception):
    """End the RPC with this status code and message."""

    def __init__(self, code: Any, message: str, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.metadata = metadata


def status_of(err: errors.VirtrigaudError) -> Abort:
    """A provider-layer error as a gRPC status; our client reads the trailing metadata back."""
    code = getattr(grpc.StatusCode, err.grpc_code, grpc.StatusCode.INTERNAL)
    metadata = [("virtrigaud-error-code", err.error_code), ("virtrigaud-msg", _ascii(err.msg))]
    context = (("option", err.option), ("vm", err.vm))
    metadata += [("virtrigaud-%s" % key, _ascii(str(value))) for key, value in context if value]
    return Abort(code, err.message, tuple(metadata))


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii").replace("\n", " ")


class ProviderService:
    def __init__(self, config: ProviderConfig, tasks: TaskTable, metrics: Metrics, log: Any,
                 throttle: Optional[Throttle] = None, names: Optional[NameLocks] = None) -> None:
        self.config = config
        self.tasks = tasks
        self.metrics = metrics
        self.log = log
        self.throttle = throttle or Throttle(None, metrics)
        self._local = threading.local()
        self._shared: Optional[Provider] = None
        self._names = names or NameLocks()

    @property
    def provider(self) -> Provider:
        """This thread's provider; the mock keeps its VMs in its instance, so all threads share one."""
        if self.config.type == "mock":
            self._shared = self._shared or open_provider(self.config)
            return self._shared
        provider = getattr(self._local, "provider", None)
        if provider is None:
            provider = self._local.provider = open_provider(self.config)
        return provider

    def _forget_provider(self) -> None:
        """Close this thread's provider, so its next call connects afresh (to a hypervisor that came back)."""
        provider = None if self.config.type == "mock" else getattr(self._local, "provider", None)
        if provider is not None:
            self._local.provider = None
            provider.close()

    def check_backend(self) -> Verdict:
        """The runtime's periodic check, outside the rate limit; a failure reconnects at the next one."""
        try:
            answer = self.Validate(None)
        except Exception as err:  # pylint: disable=broad-exception-caught  # the checks must go on after a bug
            self.log.exception("the hypervisor check failed")
            answer = {"ok": False, "message": "internal error: %s" % type(err).__name__}
        if not answer["ok"]:
            self._forget_provider()
        return Verdict(answer["ok"], answer["message"])

    def count_vms(self) -> None:
        """The VM counts of the metrics, on the runtime's timer; a failure leaves the last counts."""
        try:
            self.metrics.count_vms(v1.power_state(vm.power_state) for vm in self.provider.list_vms())
        except errors.VirtrigaudError as err:
            self.log.warning("cannot count the VMs", extra=fields(reason=err.message))

    # the RPCs, each taking the request and returning the response fields

    def Validate(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name,unused-argument
        try:
            self.provider.validate()
        except errors.VirtrigaudError as err:
            self.metrics.connection.set(0)
            return {"ok": False, "message": err.message}
        self.metrics.connection.set(1)
        return {"ok": True, "message": "%s provider ready" % self.config.type}

    def Create(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        spec = parse_vm(v1.create_params(request))
        with self._names.hold(spec.name):
            existing = self.provider.find(spec.name)
            if existing is not None:
                return {"id": existing.id}
            self.provider.check_spec(spec)
            vm_id, task = self.provider.create(spec)
        return {"id": vm_id, "task": {"id": task.id}}

    def Delete(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        def work() -> None:
            vm = self.provider.describe(request.id)
            if vm is None:
                return
            if vm.power_state == "On":
                self._finish(self.provider.power(request.id, PowerOp.OFF))
            self._finish(self.provider.delete(request.id))

        return self._task(work)

    def Power(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        try:
            op = PowerOp(request.op)
        except ValueError:
            raise errors.SpecError("power op %d is not ON, OFF, REBOOT or SHUTDOWN_GRACEFUL" % request.op,
                                   option="op") from None
        if request.graceful_timeout_seconds < 0:
            raise errors.SpecError("must not be negative", option="graceful_timeout_seconds")
        timeout = request.graceful_timeout_seconds or 60
        self._require(request.id)
        return self._task(lambda: self._finish(self.provider.power(request.id, op, timeout)))

    def Reconfigure(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        desired = v1.loads(request.desired_json, "desired_json")
        change = v1.reconfiguration(desired, self._require(request.id))
        if not change:
            return {}
        return self._task(lambda: self._finish(self.provider.reconfigure(request.id, change)))

    def Describe(self, request: Any, metadata: dict[str, str]) -> dict[str, Any]:  # pylint: disable=invalid-name
        vm = self.provider.describe(request.id)
        if vm is None:
            return {"exists": False, "power_state": "Off"}
        snapshots = self.provider.snapshot_list(request.id) if metadata.get("virtrigaud-include") == "snapshots" \
            else None
        return {"exists": True, "power_state": v1.power_state(vm.power_state), "ips": list(vm.ip_addresses),
                "console_url": vm.console_url or "",
                "provider_raw_json": v1.dumps({v1.RAW_KEY: v1.observed_document(vm, snapshots)})}

    def TaskStatus(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        known = self.tasks.status(request.task.id)
        if known is None:
            status = self.provider.task_status(TaskRef(request.task.id))
            return {"done": status.done, "error": status.error}
        return {"done": known[0], "error": known[1]}

    def SnapshotCreate(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        name = parse_snapshot_name(request.name_hint) if request.name_hint else "snapshot-%d" % time.time()
        self._require(request.vm_id, "vm_id")
        snapshot_id, task = self.provider.snapshot_create(request.vm_id, name, request.description,
                                                          request.include_memory)
        return {"snapshot_id": snapshot_id, "task": {"id": task.id}}

    def SnapshotDelete(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        self._require(request.vm_id, "vm_id")
        return self._task(lambda: self._finish(self.provider.snapshot_delete(request.vm_id, request.snapshot_id)))

    def SnapshotRevert(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        self._require(request.vm_id, "vm_id")
        return self._task(lambda: self._finish(self.provider.snapshot_revert(request.vm_id, request.snapshot_id)))

    def Clone(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        parse_vm_name(request.target_name, "target_name")
        change = v1.clone_overrides(request.class_json)
        self._require(request.source_vm_id, "source_vm_id")
        with self._names.hold(request.target_name):
            existing = self.provider.find(request.target_name)
            if existing is not None:
                return {"target_vm_id": existing.id}
            vm_id, task = self.provider.clone(request.source_vm_id, request.target_name, request.linked)
            self._finish(task)
        if change:
            self._finish(self.provider.reconfigure(vm_id, change))
        return {"target_vm_id": vm_id}

    def ImagePrepare(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        """Synchronous, so the answer carries no task: upstream's manager takes an empty task as done."""
        spec = parse_vmimage(request.image_json, request.target_name, request.storage_hint)
        capabilities = self.provider.capabilities()
        if spec.imports and not capabilities.supports_image_import:
            raise errors.UnsupportedError("the %s backend does not import images" % self.provider.type_name,
                                          option="image_json.source")
        if spec.imports:
            try:
                check_import_options(spec, capabilities.image_import_options, self.provider.type_name)
            except errors.UnsupportedError as err:
                err.option = "image_json.source"
                raise
        with self._names.hold("image:" + spec.name):
            image = self.provider.find_image(spec)
            if image is None and not spec.imports:
                raise errors.NotFoundError("the backend holds no template '%s'" % spec.template,
                                           option="image_json.source")
            if image is None or not image.ready:
                # An import found running is waited for, one found failed refused: the answer means usable.
                image = self.provider.prepare_image(spec, self._transfer())
        return {"prepared_image_id": image.id, "prepared_image_path": image.path}

    def _progress(self, line: str) -> None:
        self.log.info("image", extra=fields(progress=line))

    def GetCapabilities(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name,unused-argument
        return self.provider.capabilities().to_dict()

    # Disks as files (upstream's ADR-0006): the bytes go to and come from a path or URL, never over gRPC.  Both
    # answer when done, so with no task, as upstream's manager takes an empty task.

    def GetDiskInfo(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        if request.snapshot_id:
            raise errors.SpecError("describing a disk as a snapshot holds it is not served", option="snapshot_id")
        self._require(request.vm_id, "vm_id")
        details = self.provider.disk_info(request.vm_id, request.disk_id)
        return {"disk_id": details.disk_id, "format": details.format,
                "virtual_size_bytes": details.virtual_size_bytes, "actual_size_bytes": details.actual_size_bytes,
                "path": details.path, "is_bootable": details.bootable, "snapshots": list(details.snapshots),
                "backing_file": details.backing_chain[0] if details.backing_chain else "",
                "metadata": dict(details.metadata, **v1.backing_chain_metadata(details.backing_chain))}

    def ExportDisk(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        spec = parse_export(_fields(request))
        self._require(spec.vm_id, "vm_id")
        with self._names.hold("export:" + str(spec.destination)):
            exported = self.provider.export_disk(spec, self._transfer())
        return {"export_id": exported.export_id, "estimated_size_bytes": exported.size_bytes,
                "checksum": exported.checksum}

    def ImportDisk(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name
        spec = parse_import(_fields(request))
        with self._names.hold("image:" + spec.name):
            try:
                imported = self.provider.import_disk(spec, self._transfer())
            except errors.VirtrigaudError as err:
                err.option = IMPORT_FIELDS.get(err.option or "", err.option)
                raise
        return {"disk_id": imported.disk_id, "path": imported.path, "actual_size_bytes": imported.size_bytes,
                "checksum": imported.checksum}

    def _transfer(self) -> Transfer:
        return Transfer(self._progress, run_command=run_program)

    def trailers(self, method: str) -> tuple[tuple[str, str], ...]:
        """What our client reads beyond upstream's response: the in-place NIC changes the backend makes, and
        whether it does secure boot."""
        if method != "GetCapabilities":
            return ()
        return v1.capability_trailers(self.provider.capabilities())

    def ListVMs(self, request: Any) -> dict[str, Any]:  # pylint: disable=invalid-name,unused-argument
        vms = self.provider.list_vms()
        self.metrics.count_vms(v1.power_state(vm.power_state) for vm in vms)
        return {"vms": [v1.vm_info_fields(vm) for vm in vms]}

    # helpers

    def _require(self, vm_id: str, option: str = "id") -> Any:
        vm = self.provider.describe(vm_id)
        if vm is None:
            raise errors.NotFoundError('VM "%s" not found' % vm_id, option=option)
        return vm

    def _finish(self, task: TaskRef) -> None:
        """Wait for a backend task inside a runtime task, as long as upstream's longest RPC deadline."""
        if not task.id:
            return

        def done() -> Optional[bool]:
            status = self.provider.task_status(task)
            if status.error:
                raise errors.ProviderError("task %s failed: %s" % (task.id, status.error))
            return True if status.done else None

        poll(done, Deadline(TASK_SECONDS), "task %s" % task.id, interval=0.5)

    def _task(self, work: Callable[[], None]) -> dict[str, Any]:
        task_id = self.tasks.run(self._in_thread(work))
        return {"task": {"id": task_id}} if task_id else {}

    def _in_thread(self, work: Callable[[], None]) -> Callable[[], None]:
        """The work as the pool thread runs it, with this call's correlation id."""
        correlation = CORRELATION.get()

        def run() -> None:
            token = CORRELATION.set(correlation)
            try:
                work()
            finally:
                CORRELATION.reset(token)

        return run

    # serving

    def handlers(self) -> dict[str, Any]:
        """provider.v1's methods by name, for the server to register (gRPC matches them without a Python lookup)."""
        table = {}
        for method, (request_type, response_type) in wire().methods.items():
            table[method] = grpc.unary_unary_rpc_method_handler(
                self._handler(method, response_type), request_deserializer=_parser(request_type),
                response_serializer=response_type.SerializeToString)
        return table

    def _handler(self, method: str, response_type: Any) -> Callable[[Any, Any], Any]:
        level = logging.DEBUG if method in READS else logging.INFO

        def handle(request: Any, context: Any) -> Any:
            started = time.monotonic()
            metadata = dict(context.invocation_metadata())
            correlation = correlation_of(metadata) or new_correlation_id()
            token = CORRELATION.set(correlation)
            code, waited = grpc.StatusCode.OK, 0.0
            trailing: tuple[tuple[str, str], ...] = (("x-correlation-id", correlation),)
            try:
                waited = self._admit(method, context)
                response = response_type(**self._call(method, request, metadata))
                trailing += self.trailers(method)
                return response
            except Abort as abort:
                code = abort.code
                trailing += abort.metadata
                context.set_trailing_metadata(trailing)
                context.abort(abort.code, abort.message)
            finally:
                if code is grpc.StatusCode.OK:
                    context.set_trailing_metadata(trailing)
                seconds = time.monotonic() - started
                self.metrics.observe(method, code is grpc.StatusCode.OK, seconds)
                if self.log.isEnabledFor(level):
                    extra = {"waited_ms": round(waited * 1000, 2)} if waited else {}
                    self.log.log(level, "rpc", extra=fields(
                        method=method, code=code.name, ms=round(seconds * 1000, 2),
                        vm=getattr(request, "id", None) or getattr(request, "vm_id", None), **extra))
                CORRELATION.reset(token)
            return None

        return handle

    def _admit(self, method: str, context: Any) -> float:
        """Wait for the rate limit; a caller that gave up meanwhile is not served, so its backend call never runs."""
        if method in UNIMPLEMENTED:
            return 0.0
        waited = self.throttle.admit(method)
        if waited and not context.is_active():
            raise Abort(grpc.StatusCode.DEADLINE_EXCEEDED, "%s waited %.1f s for the rate limit (Provider.spec."
                        "rateLimit) and its caller gave up" % (method, waited))
        return waited

    def _call(self, method: str, request: Any, metadata: dict[str, str]) -> dict[str, Any]:
        if method in UNIMPLEMENTED:
            raise Abort(grpc.StatusCode.UNIMPLEMENTED, "%s is not implemented by this runtime" % method)
        if request is UNPARSED:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "the request is not a provider.v1 %s message" % method)
        try:
            if method == "Describe":
                return self.Describe(request, metadata)
            return cast("dict[str, Any]", getattr(self, method)(request))
        except errors.VirtrigaudError as err:
            raise status_of(err) from None
        except Exception as err:  # pylint: disable=broad-exception-caught  # never let a bug kill the call badly
            self.log.exception("internal error", extra=fields(method=method))
            raise Abort(grpc.StatusCode.INTERNAL, "internal error in %s: %s" % (method, type(err).__name__)) from None


class NameLocks:
    """One lock per VM name: two Creates (or Clones) of one name at once make one VM, whatever the backend.

    With several worker processes, a name is also locked across them: ``flock`` on one of a fixed set of files
    in a folder they share, picked by the name's hash (two names on one file only take turns).  Each hold opens
    the file anew, so the lock belongs to that hold, not to the process.
    """

    def __init__(self, shared_folder: Optional[str] = None) -> None:
        self.shared_folder = shared_folder
        self._guard = threading.Lock()
        self._locks: dict[str, list[Any]] = {}  # [lock, holders]

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(name, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0], self._across_workers(name):
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._locks[name]

    @contextlib.contextmanager
    def _across_workers(self, name: str) -> Iterator[None]:
        if self.shared_folder is None:
            yield
            return
        slot = zlib.crc32(name.encode("utf-8")) % NAME_LOCK_FILES
        with open(os.path.join(self.shared_folder, "name-%03d.lock" % slot), "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _fields(request: Any) -> dict[str, Any]:
    """A request's fields by name, maps as dicts: what the parsers of the provider layer take."""
    return {f.name: (dict(getattr(request, f.name)) if f.message_type is not None and f.message_type.GetOptions()
                     .map_entry else getattr(request, f.name)) for f in request.DESCRIPTOR.fields}


def _parser(request_type: Any) -> Callable[[bytes], Any]:
    """The request parsed, or UNPARSED for bytes that are no such message (grpc would answer INTERNAL)."""

    def parse(data: bytes) -> Any:
        try:
            return request_type.FromString(data)
        except DecodeError:
            return UNPARSED

    return parse
