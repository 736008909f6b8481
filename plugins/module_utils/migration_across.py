# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a VM to another backend (VMMigration across providers): its disk travels as a file.

Nothing here names a backend.  The source must export disks
(``Capabilities.supports_disk_export``); the target must take one, either
through ImportDisk (``supports_disk_import``) or as an image it fetches from a
URL (``supports_image_import``, a Proxmox VE node's download-url).  In both
cases the target pulls the file from a short-lived HTTP server on the machine
the module runs on (:mod:`disk_server`), and checks its SHA-256 against the one
taken here, so every byte the target holds is the byte exported.

Deciding what to do is pure (:func:`plan`, :func:`target_spec`); carrying it out
(:class:`AcrossMigration`) walks VMMigration's phases.  The source is stopped,
not snapshotted, and kept until the target runs; a failure in any phase removes
what the target side made and starts the source again if this run stopped it.
"""

from __future__ import annotations

import os
import re
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional

from .disk_server import ServedFile
from .disks import ExportedDisk, ExportSpec, ImportedDisk, ImportSpec, Location
from .errors import (
    ConflictError,
    DeadlineExceededError,
    NotFoundError,
    PreconditionError,
    ProviderError,
    SpecError,
    UnsupportedError,
    VirtrigaudError,
)
from .executor import wait_task
from .image_transfer import Transfer, file_digest, remove_file
from .images import Checksum, ImageSpec, PreparedImage
from .migration import ACROSS_BACKENDS, PhaseLog, failing
from .module import VirtrigaudRun
from .planner import Action
from .providers.base import ObservedVM, PowerOp, Provider
from .providers.connection import resolve
from .providers.registry import open_provider
from .resilience import Deadline
from .spec import CloudInit, NetworkSpec, Placement, VMSpec

SOURCE_POWER = ("shutdown", "poweroff", "require_off")
# The format the disk travels in when the target names none it takes.
DEFAULT_FORMAT = "qcow2"


@dataclass(frozen=True)
class Request:
    """What the user asked, parsed: where the VM goes and how the move is done."""

    target_type: str
    target_name: str
    network_map: Mapping[str, str]
    placement: Placement = field(default_factory=Placement)
    image_storage: Optional[str] = None
    cloud_init: CloudInit = field(default_factory=CloudInit)
    source_power: str = "shutdown"
    shutdown_timeout: int = 120
    delete_source: bool = False
    serve_address: Optional[str] = None
    serve_port: int = 0
    staging_dir: Optional[str] = None


@dataclass
class Made:
    """What a run has made or changed so far, so that a failure can undo it."""

    stopped_source: bool = False
    files: list[str] = field(default_factory=list)
    image: Optional[PreparedImage] = None
    imported: Optional[ImportedDisk] = None
    vm_id: Optional[str] = None


def parse_request(params: Mapping[str, Any]) -> Request:
    """The module's options as a Request.

    Raises:
        SpecError: naming the option at fault.
    """
    target = params["target"]
    if params.get("wait") is False:
        raise SpecError("a move across backends always waits for the target VM to run; leave wait out",
                        option="wait")
    staging = params.get("staging") or {}
    port = staging.get("serve_port") or 0
    if not 0 <= port < 65536:
        raise SpecError("%d is not a TCP port (0 for any free one)" % port, option="staging.serve_port")
    network_map = {str(k): str(v) for k, v in (params.get("network_map") or {}).items()}
    for source_network, target_network in network_map.items():
        if not target_network.strip():
            raise SpecError("maps '%s' to nothing; name a network of the target" % source_network,
                            option="network_map")
    cloud_init = params.get("cloud_init") or {}
    return Request(
        target_type=target["provider_type"],
        target_name=target.get("name") or params.get("vm_name") or "",
        network_map=network_map,
        placement=Placement(host=target.get("host"), datastore=target.get("datastore")),
        image_storage=target.get("image_storage"),
        cloud_init=CloudInit(user_data=cloud_init.get("user_data"), meta_data=cloud_init.get("meta_data"),
                             network_config=cloud_init.get("network_config")),
        source_power=params.get("source_power") or "shutdown",
        shutdown_timeout=120 if params.get("shutdown_timeout") is None else params["shutdown_timeout"],
        delete_source=bool(params.get("delete_source")),
        serve_address=staging.get("serve_address"),
        serve_port=port,
        staging_dir=staging.get("dir"),
    )


def target_spec(source: ObservedVM, request: Request) -> VMSpec:
    """The target VM: the source's CPU, memory, firmware and NICs (their networks mapped, their MACs kept), and
    the cloud-init given.

    Raises:
        SpecError: a NIC's network has no entry in ``network_map``.
    """
    networks = []
    for nic in source.nics:
        joined = nic.network or nic.bridge or ""
        if joined not in request.network_map:
            raise SpecError("the source's NIC %s is on network '%s', which the map does not name; add '%s: "
                            "<network of the target>'" % (nic.name, joined, joined), option="network_map")
        networks.append(NetworkSpec(name=nic.name, network=request.network_map[joined],
                                    mac_address=nic.mac_address))
    return VMSpec(name=request.target_name, cpu=source.cpu, memory_mib=source.memory_mib,
                  firmware=source.firmware, networks=tuple(networks), networks_given=True,
                  placement=request.placement, cloud_init=request.cloud_init, power_state="On")


def plan(source: Optional[ObservedVM], target: Optional[ObservedVM], request: Request,
         source_type: str) -> list[Action]:
    """The steps left: the move when the target VM is missing, the source's removal when asked.

    Raises:
        NotFoundError: neither VM exists.
        ConflictError: a stopped VM of the target's name exists beside the source (not taken as the result).
    """
    if source is None:
        if target is None:
            raise NotFoundError("no VM of that name on the source, nor one named '%s' on the target"
                                % request.target_name, option="vm_name")
        return []
    steps = []
    if target is None:
        steps.append(Action("migrate_across", source.name,
                            old={"provider_type": source_type, "id": source.id, "power_state": source.power_state},
                            new={"provider_type": request.target_type, "name": request.target_name}))
    elif target.power_state != "On":
        raise ConflictError("the target already has a VM named '%s', and it is %s: it is not taken as this "
                            "migration's result; remove it or choose another target.name"
                            % (request.target_name, target.power_state), option="target.name")
    if request.delete_source:
        steps.append(Action("delete_source", source.name, old={"provider_type": source_type, "id": source.id}))
    return steps


def image_name(request: Request, fmt: str) -> str:
    """The transferred file's name on the target: the VM's name, tidied to what file-based storages accept."""
    return "%s-migrated.%s" % (re.sub(r"[^-_.a-zA-Z0-9]", "_", request.target_name), fmt)


class AcrossMigration:
    """One move of ``source_vm`` from ``source`` to ``target``; every phase enters ``log``."""

    def __init__(self, source: Provider, target: Provider, request: Request, transfer: Transfer,
                 deadline: Deadline, warn: Callable[[str], None]) -> None:
        self.source = source
        self.target = target
        self.request = request
        self.transfer = transfer
        self.deadline = deadline
        self.warn = warn
        self.log = PhaseLog(steps=ACROSS_BACKENDS)
        self.made = Made()
        # The disk as it travelled: format, size and SHA-256, for the result.
        self.disk: dict[str, Any] = {}

    # Validating: read only, in check mode too.

    def validate(self, vm: ObservedVM) -> VMSpec:
        """Everything the move needs, checked before anything is touched.

        Raises:
            UnsupportedError: a backend cannot do its part, naming it.
            SpecError: the target lacks a network the map names, or an option is missing.
            PreconditionError: the source runs and ``source_power`` is ``require_off``.
        """
        self.log.enter("Validating")
        spec: list[VMSpec] = []
        failing(self.log, lambda: spec.append(self._validate(vm)))
        return spec[0]

    def _validate(self, vm: ObservedVM) -> VMSpec:
        if not self.source.capabilities().supports_disk_export:
            raise UnsupportedError("the %s backend cannot export disks" % self.source.type_name,
                                   option="provider_type")
        caps = self.target.capabilities()
        if not (caps.supports_disk_import or caps.supports_image_import):
            raise UnsupportedError("the %s backend takes no disk file" % self.target.type_name,
                                   option="target.provider_type")
        if len(vm.disks) > 1:
            raise UnsupportedError("the VM has %d disks; only a VM with its root disk alone is moved"
                                   % len(vm.disks), option="vm_name")
        if not self.request.serve_address:
            raise SpecError("the target fetches the disk over HTTP from this machine: give an address of it that "
                            "the target reaches", option="staging.serve_address")
        if vm.power_state == "On" and self.request.source_power == "require_off":
            raise PreconditionError("the VM runs; stop it first, or let this module stop it",
                                    option="source_power")
        spec = target_spec(vm, self.request)
        offered = self._networks()
        missing = [] if offered is None else sorted({n.network or "" for n in spec.networks
                                                     if n.network not in offered})
        if offered is not None and missing:
            raise SpecError("maps to %s, which the target does not have (it has: %s)" % (
                ", ".join("'%s'" % m for m in missing), ", ".join(sorted(offered)) or "none"), option="network_map")
        self.target.check_spec(spec)
        return spec

    def _networks(self) -> Optional[set[str]]:
        """The target's networks by name; None from a target without discovery, whose check_spec checks them."""
        try:
            return {network.name for network in self.target.discover().networks}
        except UnsupportedError:
            return None

    # carrying out

    def run(self, vm: ObservedVM, spec: VMSpec) -> ObservedVM:
        """Every phase after Validating; the target VM as it runs.  A failure undoes what this run made and
        raises the error with the phases in its details."""
        try:
            target_vm = self._phases(vm, spec)
        except VirtrigaudError as err:
            left = self._undo(vm)
            if left:
                err.details["left_behind"] = left
            raise
        finally:
            for path in self.made.files:
                remove_file(path)
        self.log.enter("Ready")
        return target_vm

    def _phase(self, name: str, step: Callable[[], Any]) -> Any:
        self.log.enter(name)
        out: list[Any] = []
        failing(self.log, lambda: out.append(step()))
        return out[0]

    def _phases(self, vm: ObservedVM, spec: VMSpec) -> ObservedVM:
        self._phase("Snapshotting", lambda: self._stop_source(vm))
        exported: ExportedDisk = self._phase("Exporting", lambda: self._export(vm))
        path, digest, fmt = self._phase("Converting", lambda: self._convert(exported))
        self.disk = {"format": fmt, "size_bytes": os.path.getsize(path), "sha256": digest}
        image_ref = self._phase("Transferring", lambda: self._transfer(path, digest, fmt))
        self._phase("Importing", lambda: self._check_held(path, digest))
        vm_id = self._phase("Creating", lambda: self._create(replace(spec, image=image_ref)))
        target_vm: ObservedVM = self._phase("Validating-Target", lambda: self._running(vm_id))
        if self.target.imports_copy_image:
            self._discard_transferred()
        return target_vm

    def _stop_source(self, vm: ObservedVM) -> None:
        if vm.power_state == "Off":
            return
        if self.request.source_power == "poweroff":
            wait_task(self.source, self.source.power(vm.id, PowerOp.OFF), self.deadline)
        else:
            wait_task(self.source, self.source.power(vm.id, PowerOp.SHUTDOWN_GRACEFUL, self.request.shutdown_timeout),
                      self.deadline)
        self.made.stopped_source = True

    def _staging(self, name: str) -> str:
        folder = self.request.staging_dir or self.transfer.work_dir
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, name)
        self.made.files.append(path)
        return path

    def _export(self, vm: ObservedVM) -> ExportedDisk:
        """The root disk in its own format, in the staging folder; its SHA-256 is read again here."""
        destination = self._staging("%s.export" % vm.id.replace("/", "_"))
        # In the format the target takes, when the source writes it: the source converts once, and nothing here.
        fmt = self._target_format()
        exported = self.source.export_disk(
            ExportSpec(vm_id=vm.id, destination=Location(path=destination),
                       format=fmt if fmt in self.source.capabilities().supported_export_formats else ""),
            self.transfer)
        actual = file_digest(destination, "sha256")
        if actual != exported.checksum:
            raise PreconditionError("the exported file hashes to %s, but the %s backend wrote %s"
                                    % (actual, self.source.type_name, exported.checksum))
        return replace(exported, destination=destination)

    def _target_format(self) -> str:
        """The first format the target takes: it lists the one it holds first, so that the checksum it reports of
        what it holds is the checksum of the file sent."""
        formats = self.target.capabilities().supported_import_formats
        return formats[0] if formats else DEFAULT_FORMAT

    def _convert(self, exported: ExportedDisk) -> tuple[str, str, str]:
        fmt = self._target_format()
        if exported.format == fmt:
            return exported.destination, exported.checksum, fmt
        converted = self._staging("%s.%s" % (os.path.basename(exported.destination), fmt))
        self.transfer.convert(exported.destination, exported.format, converted, fmt)
        return converted, file_digest(converted, "sha256"), fmt

    def _transfer(self, path: str, digest: str, fmt: str) -> str:
        """The target fetches the file from a server here and checks its SHA-256; what a VM's image names."""
        name = image_name(self.request, fmt)
        checksum = Checksum("sha256", digest)
        with ServedFile(path, self.request.serve_address or "", self.request.serve_port) as served:
            if self.target.capabilities().supports_disk_import:
                imported = self.target.import_disk(ImportSpec(name=name, source=Location(url=served.url), format=fmt,
                                                              checksum=checksum, storage=self.request.image_storage),
                                                   self.transfer)
                self.made.imported = imported
                if imported.checksum != digest:
                    raise PreconditionError("the %s backend holds bytes hashing to %s, not %s"
                                            % (self.target.type_name, imported.checksum, digest))
                return imported.disk_id
            spec = ImageSpec(name, url=served.url, checksum=checksum, storage=self.request.image_storage)
            if self.target.find_image(spec) is not None:
                raise ConflictError("the target already holds an image named %s; remove it (virtrigaud_image "
                                    "state=absent) or choose another target.name" % name, option="target.name")
            self.made.image = self.target.prepare_image(spec, self.transfer)
            return self.made.image.id

    def _check_held(self, path: str, digest: str) -> None:
        """The target's copy has the size of the file served (its SHA-256 was checked where it landed)."""
        held = self.made.image
        size = os.path.getsize(path)
        if held is not None and held.size_bytes and held.size_bytes != size:
            raise PreconditionError("the target holds %d bytes of %s, not %d" % (held.size_bytes, held.id, size))

    def _create(self, spec: VMSpec) -> str:
        vm_id, task = self.target.create(spec)
        self.made.vm_id = vm_id
        wait_task(self.target, task, self.deadline)
        observed = self.target.describe(vm_id)
        if observed is None or observed.power_state != "On":
            wait_task(self.target, self.target.power(vm_id, PowerOp.ON), self.deadline)
        return vm_id

    def _running(self, vm_id: str) -> ObservedVM:
        observed = self.target.describe(vm_id)
        if observed is None or observed.power_state != "On":
            raise ProviderError("the target VM %s is %s, not On" % (
                vm_id, observed.power_state if observed else "gone"))
        return observed

    def _discard_transferred(self) -> None:
        """The transferred disk, once the target VM holds its own copy of it: garbage of the move."""
        for what, remove in self._transferred():
            try:
                remove()
            except VirtrigaudError as err:
                self.warn("%s stays on the target: %s" % (what, err.msg))

    def _transferred(self) -> list[tuple[str, Callable[[], None]]]:
        """The disk the target holds, named, with the call that removes it."""
        image, imported = self.made.image, self.made.imported
        if image is not None:
            return [("the transferred disk %s" % image.id, lambda: self.target.delete_image(image))]
        if imported is not None:
            return [("the imported disk %s" % imported.disk_id, lambda: self.target.delete_disk(imported))]
        return []

    def delete_source(self, vm: ObservedVM) -> None:
        wait_task(self.source, self.source.delete(vm.id, delete_disks=True), self.deadline)

    # undoing

    def _undo(self, vm: ObservedVM) -> list[str]:
        """Remove what the target side made and start the source again if this run stopped it; what could not be
        undone, in words."""
        left: list[str] = []
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.made.vm_id is not None:
            vm_id = self.made.vm_id
            steps.append(("the target VM %s" % vm_id,
                          lambda: wait_task(self.target, self.target.delete(vm_id), self.deadline)))
        steps.extend(self._transferred())
        if self.made.stopped_source:
            steps.append(("the source VM stopped",
                          lambda: wait_task(self.source, self.source.power(vm.id, PowerOp.ON), self.deadline)))
        for what, step in steps:
            try:
                step()
            except (VirtrigaudError, DeadlineExceededError) as err:
                left.append("%s: %s" % (what, err.msg))
                self.warn("after the failure, %s could not be undone: %s" % (what, err.msg))
        return left


# running it for a module


def open_target(m: VirtrigaudRun, target_type: str) -> Provider:
    """The target's provider from ``target.connection`` and the target backend's own environment variables only;
    its secrets join the run's, so no output shows them."""
    given = {key: value for key, value in (m.params["target"].get("connection") or {}).items() if value is not None}
    try:
        connection = resolve(target_type, given, os.environ, {"wait_timeout": m.params["wait_timeout"]})
        m.secret_values.update(connection.secrets)
        for option in connection.foreign:
            m.warn("target.connection.%s is not a %s setting and was not used" % (option, target_type))
        return open_provider(connection.config)
    except SpecError as err:
        err.option = "target.connection.%s" % err.option if err.option else "target.connection"
        raise


def converge(m: VirtrigaudRun) -> dict[str, Any]:
    """The module's run for a target on another backend: plan, validate, move, remove the source when asked."""
    p = m.params
    request = parse_request(p)
    source = m.provider
    with closing(open_target(m, request.target_type)) as target:
        vm = _source_vm(m, p)
        if not request.target_name:
            request = replace(request, target_name=vm.name if vm else "")
        target_vm = target.find(request.target_name) if request.target_name else None
        steps = plan(vm, target_vm, request, source.type_name)
        move = AcrossMigration(source, target, request, Transfer(m.warn, request.staging_dir,
                                                                 run_command=m.run_command), m.deadline(), m.warn)
        moving = any(step.action == "migrate_across" for step in steps)
        spec = move.validate(vm) if moving and vm is not None else None
        if not m.check_mode:
            if spec is not None and vm is not None:
                target_vm = move.run(vm, spec)
            if request.delete_source and vm is not None:
                move.delete_source(vm)
        if not steps:
            move.log.enter("Ready")
        return _result(m, steps, vm, target_vm, dict(move.log.to_dict(), disk=move.disk) if move.disk
                       else move.log.to_dict(), request)


def _source_vm(m: VirtrigaudRun, p: Mapping[str, Any]) -> Optional[ObservedVM]:
    """The source VM, or None when it is gone (by id too: a run after delete_source finds no source)."""
    try:
        return m.locate(p["vm_name"], p["vm_id"], "vm_id")
    except NotFoundError:
        return None


def _result(m: VirtrigaudRun, steps: list[Action], vm: Optional[ObservedVM], target_vm: Optional[ObservedVM],
            migration: dict[str, Any], request: Request) -> dict[str, Any]:
    """The same changes in check mode and in a real run; ``diff`` shows both VMs before and after."""
    kinds = {step.action for step in steps}
    after_source = None if "delete_source" in kinds else _brief(vm, "Off" if "migrate_across" in kinds else None)
    result: dict[str, Any] = {"changed": bool(steps), "changes": [step.to_dict() for step in steps],
                              "vm": target_vm.to_dict() if target_vm is not None else None,
                              "migration": migration}
    if m.diff_mode:
        result["diff"] = {
            "before": {"source": _brief(vm), "target": None if "migrate_across" in kinds else _brief(target_vm)},
            "after": {"source": after_source, "target": {"name": request.target_name, "power_state": "On"}}}
    return result


def _brief(vm: Optional[ObservedVM], power_state: Optional[str] = None) -> Optional[dict[str, Any]]:
    if vm is None:
        return None
    return {"name": vm.name, "power_state": power_state or vm.power_state}
