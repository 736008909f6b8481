# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt backend, through libvirt-python.

A VM is a persistent domain; its id is the domain UUID.  Disks are qcow2
volumes named ``<vm>-<disk>.qcow2`` in a storage pool (an image becomes a
backing file), cloud-init rides on a ``<vm>-cidata.iso`` volume.  Every call is
synchronous, so returned tasks are always done.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import os
import tempfile
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Optional
from urllib.parse import urlsplit

from ...disks import STAGING_BACKENDS, TRANSFER_MODES, DiskDetails, ExportedDisk, ExportSpec, ImportedDisk, ImportSpec
from ...errors import (
    ConflictError,
    DeadlineExceededError,
    NotFoundError,
    PreconditionError,
    SpecError,
    UnavailableError,
    VirtrigaudError,
)
from ...image_transfer import Transfer
from ...images import IMAGE_FORMATS, ImageSpec, PreparedImage
from ...placement import Host
from ...resilience import Deadline
from ...spec import GIB, NetworkSpec, Placement, VMSpec
from ..base import (
    Capabilities,
    ConsoleAccess,
    ObservedVM,
    PowerOp,
    Provider,
    ProviderConfig,
    Reconfiguration,
    Snapshot,
    TaskRef,
    TaskStatus,
    backend_call,
)
from ..discovery import Discovery
from . import consoles, disks, images, observe, snapshots
from . import translate as dx
from .client import LibvirtClient, libvirt
from .cloudinit import needs_seed, seed_iso, upload_seed
from .consoles import new_console_password
from .discovery import discover as discover_host
from .interfaces import change_nics, nic_plans, random_mac
from .migration import HostMove
from .storage import Storage, gib

DOMAIN_TYPES = ("auto", "kvm", "qemu")
SHUTDOWN_PRESS_INTERVAL = 10.0
_DONE = TaskRef()


def _on_default_network(networks: Iterable[NetworkSpec], default: Optional[str]) -> tuple[NetworkSpec, ...]:
    """A NIC naming neither a network nor a bridge joins the Provider's default network (else libvirt's 'default')."""
    return tuple(n if n.network or n.bridge or not default else dataclasses.replace(n, network=default)
                 for n in networks)


class LibvirtProvider(Provider):
    type_name = "libvirt"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.client = LibvirtClient(config)
        domain_type = config.options.get("domain_type") or "auto"
        if domain_type not in DOMAIN_TYPES:
            raise SpecError("'%s' is not one of: %s" % (domain_type, ", ".join(DOMAIN_TYPES)),
                            option="libvirt_domain_type")
        self._domain_type = domain_type
        self._secure_boot: Optional[bool] = None
        self.storage = Storage(self.client, config, self.warnings)
        self.backend_errors = (libvirt.libvirtError,)

    # connection and lookups

    def translate(self, err: BaseException, operation: Optional[str] = None) -> VirtrigaudError:
        return dx.translate(libvirt, err, (self.config.password,), operation=operation)

    @property
    def conn(self) -> Any:
        return self.client.conn

    def close(self) -> None:
        self.client.close()

    def _domain(self, vm_id: str) -> Any:
        try:
            return self.conn.lookupByUUIDString(vm_id)
        except libvirt.libvirtError as err:
            if err.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_INVALID_ARG):
                raise NotFoundError("VM '%s' not found" % vm_id) from None
            raise

    def _find_domain(self, vm_id: str) -> Any:
        try:
            return self._domain(vm_id)
        except NotFoundError:
            return None

    def _resolved_domain_type(self) -> str:
        if self._domain_type != "auto":
            return self._domain_type
        return "kvm" if "<domain type='kvm'" in self.conn.getCapabilities() else "qemu"

    # the contract

    @backend_call("validate")
    def validate(self) -> None:
        self.conn.getLibVersion()

    @backend_call("check_spec")
    def check_spec(self, spec: VMSpec) -> None:
        if spec.placement.host and spec.placement.host != self.client.uri:
            raise SpecError("a VM is made on the libvirtd of this connection (%s), not at '%s': connect there, or "
                            "leave placement.host out" % (self.config.label, spec.placement.host),
                            option="placement.host")
        pool = self.storage.pool_for(spec)
        if spec.image:
            capacity = self.storage.image(spec, pool).info()[1]
            if spec.root_disk_gib is not None and spec.root_disk_gib * GIB < capacity:
                raise SpecError(
                    "image '%s' is %d GiB; the root disk cannot be smaller" % (spec.image, gib(capacity)),
                    option="disk_defaults.size",
                )
        self.check_networks(spec)
        if needs_seed(spec):
            seed_iso({})

    @backend_call("check_spec")
    def check_networks(self, spec: VMSpec) -> None:
        networks = _on_default_network(spec.networks, self.config.options.get("network"))
        for index, (given, network) in enumerate(zip(spec.networks, networks)):
            if network.network and not network.bridge:
                found = self.client.quietly(functools.partial(self.conn.networkLookupByName, network.network),
                                            ["NO_NETWORK"])
                if found is None:
                    raise SpecError("libvirt network '%s' does not exist" % network.network,
                                    option="networks[%d].network" % index if given.network else "defaults.network")

    def capabilities(self) -> Capabilities:
        return Capabilities(
            supports_reconfigure_online=True,
            supports_disk_expansion_online=True,
            supports_snapshots=True,
            supports_memory_snapshots=True,
            supports_linked_clones=True,
            supports_image_import=True,
            supports_disk_export=True,
            supports_disk_import=True,
            supports_export_compression=True,
            supported_export_formats=IMAGE_FORMATS,
            supported_import_formats=IMAGE_FORMATS,
            supported_export_backends=STAGING_BACKENDS,
            supported_import_backends=STAGING_BACKENDS,
            supported_transfer_modes=TRANSFER_MODES,
            supported_disk_types=("qcow2", "raw"),
            supported_network_types=("network", "bridge"),
            # A static address rides on the cloud-init seed, which the guest reads once: it cannot change.
            nic_changes={"set_network": "live", "set_mac_address": "live", "remove_network": "live"},
            supports_secure_boot=self._has_secure_boot_firmware(),
            console_types=("vnc", "spice", "none"),
            console_listen=True,
        )

    @backend_call("discover")
    def discover(self) -> Discovery:
        return discover_host(self.client, dict(self.config.options), self.capabilities())

    def _has_secure_boot_firmware(self) -> bool:
        """Whether the host offers a secure-boot UEFI build (an OVMF ``secboot`` image) for q35 machines."""
        if self._secure_boot is None:
            try:
                caps = self.conn.getDomainCapabilities(None, "x86_64", "q35", self._resolved_domain_type(), 0)
            except libvirt.libvirtError:
                caps = ""
            self._secure_boot = dx.offers_secure_boot(caps)
        return self._secure_boot

    @backend_call("describe")
    def describe(self, vm_id: str) -> Optional[ObservedVM]:
        return self._observe_if_present(self._find_domain(vm_id), observe.domain_addresses)

    @backend_call("find")
    def find(self, name: str) -> Optional[ObservedVM]:
        domain = self.client.quietly(lambda: self.conn.lookupByName(name), ["NO_DOMAIN"])
        return self._observe_if_present(domain, observe.domain_addresses)

    def placement_hosts(self) -> tuple[Host, ...]:
        """One connection, one host: a policy can only confirm it, or refuse it by its URI."""
        return (Host(self.client.uri),)

    @backend_call("list")
    def list_vms(self) -> list[ObservedVM]:
        leases = observe.lease_table(self.conn)
        observed = (self._observe_if_present(domain, lambda _d: leases) for domain in self.conn.listAllDomains(0))
        return [vm for vm in observed if vm is not None]

    @backend_call("create")
    def create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        with self._one_at_a_time(spec.name):
            return self._create(spec)

    def _create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        existing = self.client.quietly(lambda: self.conn.lookupByName(spec.name), ["NO_DOMAIN"])
        if existing is not None:
            return existing.UUIDString(), _DONE
        pool = self.storage.pool_for(spec)
        vm_id = str(uuid.uuid4())
        nics = nic_plans(_on_default_network(spec.networks, self.config.options.get("network")),
                         static_known=not spec.cloud_init.network_config)
        created: list[Any] = []
        try:
            disks = self.storage.create_disks(spec, pool, created)
            seed = upload_seed(self.storage, spec, pool, vm_id, nics, created) if needs_seed(spec) else None
            plan = dx.DomainPlan(
                name=spec.name, uuid=vm_id, domain_type=self._resolved_domain_type(), cpu=spec.cpu or 1,
                memory_mib=spec.memory_mib or 512, firmware=spec.firmware or "bios", disks=disks, nics=nics,
                seed=seed, tags=tuple(spec.tags or ()), secure_boot=bool(spec.secure_boot),
                console=spec.console, console_password=new_console_password(spec.console.type if spec.console else ""),
            )
            self.conn.defineXMLFlags(dx.domain_xml(plan), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        except BaseException:
            self.storage.delete_volumes(created)
            raise
        return vm_id, _DONE

    @contextmanager
    def _one_at_a_time(self, name: str) -> Iterator[None]:
        """Creates and clones of one VM name on this host, one at a time (a lock file, released if the process
        dies): a create takes over volumes no domain uses, which must never be those of a create still running.
        Over a remote URI there is no lock to take, and two creates of one name at once are the caller's to avoid."""
        uri = self.client.uri
        if urlsplit(uri).netloc:
            yield
            return
        key = hashlib.sha256(("%s\0%s" % (uri, name)).encode("utf-8")).hexdigest()[:16]
        with open(os.path.join(tempfile.gettempdir(), "virtrigaud-libvirt-%s.lock" % key), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    @backend_call("delete")
    def delete(self, vm_id: str, delete_disks: bool = True) -> TaskRef:
        domain = self._find_domain(vm_id)
        if domain is None:
            return _DONE
        if domain.isActive():
            raise PreconditionError("VM '%s' is running; stop it before deleting it" % domain.name())
        facts = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        nvram = libvirt.VIR_DOMAIN_UNDEFINE_NVRAM if delete_disks else libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
        domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | nvram)
        if delete_disks:
            volumes = [v for v in map(self.storage.volume_at, facts.metadata.owned_paths()) if v is not None]
            left = self.storage.delete_volumes(volumes)
            if left:
                raise PreconditionError(
                    "VM '%s' was removed but these volumes could not be deleted: %s" % (facts.name, ", ".join(left))
                )
        return _DONE

    @backend_call("power")
    def power(self, vm_id: str, op: PowerOp, graceful_timeout: int = 60) -> TaskRef:
        domain = self._domain(vm_id)
        active = domain.isActive()
        if op is PowerOp.ON and not active:
            domain.create()
        elif op is PowerOp.OFF and active:
            domain.destroy()
        elif op is PowerOp.REBOOT:
            if active:
                # A new QEMU process, not reset(): under emulation, a guest reset in its first instants can hang in
                # its firmware for good.
                domain.destroy()
            domain.create()
        elif op is PowerOp.SHUTDOWN_GRACEFUL and active:
            self._shut_down(domain, graceful_timeout)
        return _DONE

    def _shut_down(self, domain: Any, timeout: int) -> None:
        """Press the ACPI power button until the guest is off; a guest still booting misses the first press."""
        deadline = Deadline(float(timeout))
        pressed_at = None
        while domain.isActive():
            if deadline.expired:
                raise DeadlineExceededError(
                    "the guest did not shut down within %d s of the ACPI power button" % timeout)
            if pressed_at is None or time.monotonic() - pressed_at >= SHUTDOWN_PRESS_INTERVAL:
                self.client.quietly(domain.shutdown, ["OPERATION_INVALID"])
                pressed_at = time.monotonic()
            time.sleep(deadline.cap(0.5))

    @backend_call("reconfigure")
    def reconfigure(self, vm_id: str, change: Reconfiguration) -> TaskRef:
        domain = self._domain(vm_id)
        facts = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        live = bool(domain.isActive())
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if live else 0)
        if change.cpu:
            self._set_cpu(domain, facts, change.cpu, live, flags)
        if change.memory_mib:
            self._set_memory(domain, facts, change.memory_mib, live, flags)
        for name, size_gib in sorted(change.disk_sizes_gib.items()):
            self.storage.resize_disk(domain, facts, name, size_gib, live)
        meta = facts.metadata
        if change.add_disks:
            meta = self.storage.add_disks(domain, facts, change, flags)
        if change.add_networks or change.change_networks or change.remove_networks:
            added = _on_default_network(change.add_networks, self.config.options.get("network"))
            meta = change_nics(domain, facts, meta, dataclasses.replace(change, add_networks=added), flags)
        if change.tags is not None:
            meta = dx.Metadata(meta.disks, meta.nics, meta.seed, tuple(change.tags))
        if meta != facts.metadata:
            domain.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, dx.metadata_xml(meta, namespaced=False), dx.PREFIX,
                               dx.NAMESPACE, flags)
        if change.console is not None:
            consoles.set_console(self.conn, domain, change.console)
        elif change.rotate_console_password:
            consoles.rotate_password(domain, flags)
        return _DONE

    def _set_cpu(self, domain: Any, facts: dx.DomainFacts, cpu: int, live: bool, flags: int) -> None:
        if cpu > facts.max_cpu:
            if live:
                raise PreconditionError("%d vCPUs exceed the hot-plug maximum of %d" % (cpu, facts.max_cpu))
            domain.setVcpusFlags(dx.hotplug_ceiling_cpu(cpu),
                                 libvirt.VIR_DOMAIN_AFFECT_CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        domain.setVcpusFlags(cpu, flags)

    def _set_memory(self, domain: Any, facts: dx.DomainFacts, memory_mib: int, live: bool, flags: int) -> None:
        if memory_mib > facts.max_memory_mib:
            if live:
                raise PreconditionError(
                    "%d MiB exceed the memory hot-plug maximum of %d MiB" % (memory_mib, facts.max_memory_mib)
                )
            domain.setMemoryFlags(dx.hotplug_ceiling_memory(memory_mib) * 1024,
                                  libvirt.VIR_DOMAIN_AFFECT_CONFIG | libvirt.VIR_DOMAIN_MEM_MAXIMUM)
        domain.setMemoryFlags(memory_mib * 1024, flags)

    def task_status(self, task: TaskRef) -> TaskStatus:
        return TaskStatus(done=True, error="no such task: libvirt calls finish before they return" if task.id else "")

    @backend_call("snapshot_list")
    def snapshot_list(self, vm_id: str) -> list[Snapshot]:
        return snapshots.listing(self._domain(vm_id))

    @backend_call("check_snapshot")
    def check_snapshot(self, vm_id: str, include_memory: bool = False) -> None:
        """libvirt saves the memory of a running VM whatever ``include_memory`` says, so that is what is checked."""
        snapshots.refuse_unrestorable(self._domain(vm_id))

    @backend_call("snapshot_create")
    def snapshot_create(
        self, vm_id: str, name: str, description: str = "", include_memory: bool = False
    ) -> tuple[str, TaskRef]:
        """An internal qcow2 snapshot; on a running VM libvirt always saves the memory state with it."""
        snapshots.take(libvirt, self._domain(vm_id), name, description)
        return name, _DONE

    def _snapshot(self, domain: Any, snapshot_id: str) -> Any:
        return self.client.quietly(lambda: domain.snapshotLookupByName(snapshot_id, 0), ["NO_DOMAIN_SNAPSHOT"])

    @backend_call("snapshot_delete")
    def snapshot_delete(self, vm_id: str, snapshot_id: str) -> TaskRef:
        handle = self._snapshot(self._domain(vm_id), snapshot_id)
        if handle is not None:
            handle.delete(0)
        return _DONE

    @backend_call("snapshot_revert")
    def snapshot_revert(self, vm_id: str, snapshot_id: str) -> TaskRef:
        domain = self._domain(vm_id)
        handle = self._snapshot(domain, snapshot_id)
        if handle is None:
            raise NotFoundError("snapshot '%s' not found" % snapshot_id)
        snapshots.revert(libvirt, domain, handle)
        return _DONE

    @backend_call("clone")
    def clone(self, source_id: str, target_name: str, linked: bool = False) -> tuple[str, TaskRef]:
        with self._one_at_a_time(target_name):
            return self._clone(source_id, target_name, linked)

    def _clone(self, source_id: str, target_name: str, linked: bool) -> tuple[str, TaskRef]:
        source = self._domain(source_id)
        if source.isActive():
            raise PreconditionError("VM '%s' is running; stop it before cloning it" % source.name())
        if self.client.quietly(lambda: self.conn.lookupByName(target_name), ["NO_DOMAIN"]) is not None:
            raise ConflictError("a VM named '%s' exists already" % target_name)
        source_xml = source.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        facts = dx.parse_domain(source_xml)
        names = {d.dev: d.name for d in facts.metadata.disks}
        vm_id = str(uuid.uuid4())
        created: list[Any] = []
        try:
            disks = tuple(
                self.storage.clone_disk(target_name, names.get(dev, dev), dev, path, linked, created)
                for dev, path in facts.disk_paths.items()
            )
            macs = [random_mac() for dummy in facts.nics]
            meta = dx.Metadata(
                disks=disks,
                nics=tuple(dataclasses.replace(old, mac=mac).ref() for old, mac in zip(dx.interfaces(facts), macs)),
                tags=facts.metadata.tags,
            )
            self.conn.defineXMLFlags(
                dx.clone_xml(source_xml, target_name, vm_id, meta, macs, new_console_password(facts.console.type)),
                libvirt.VIR_DOMAIN_DEFINE_VALIDATE,
            )
        except BaseException:
            self.storage.delete_volumes(created)
            raise
        return vm_id, _DONE

    @backend_call("open console")
    def open_console(self, vm_id: str) -> Optional[ConsoleAccess]:
        return consoles.access(self._domain(vm_id), self.config.uri)

    # moves between storage pools, and to another libvirtd (target.host, its URI)

    migration_keys = ("host", "datastore")

    def where(self, vm: ObservedVM) -> Placement:
        """The host is this connection's URI: one libvirtd, one host."""
        return Placement(host=self.client.uri, datastore=vm.placement.datastore)

    def elsewhere(self, target: Placement) -> Optional["LibvirtProvider"]:
        """The libvirtd at ``target.host`` when it is not this one.  Its connection is the URI alone: this
        connection's username and password are not sent there (libvirt's own client settings, such as SSH keys or
        auth.conf, answer for it)."""
        if not target.host or target.host == self.client.uri:
            return None
        return LibvirtProvider(ProviderConfig(type="libvirt", uri=target.host, options=self.config.options))

    @backend_call("check migration")
    def check_migration(self, vm_id: str, target: Placement, live: bool, prefix: str = "placement.") -> None:
        domain = self._domain(vm_id)
        other = self.elsewhere(target)
        if other is None:
            self._check_pool_move(domain, target, live, prefix)
            self._refuse_snapshots(domain, prefix + "datastore")
            return
        try:
            self._checked_host_move(other, domain, target, prefix)
        finally:
            other.close()

    def _check_pool_move(self, domain: Any, target: Placement, live: bool, prefix: str) -> None:
        if target.datastore:
            self.storage.pool(target.datastore, prefix + "datastore")
        if live or domain.isActive():
            raise PreconditionError("VM '%s' is running; libvirt moves the disks of a stopped VM only: stop it first"
                                    % domain.name(), option=prefix + "datastore")

    @staticmethod
    def _refuse_snapshots(domain: Any, option: str) -> None:
        if domain.snapshotNum(0):
            raise PreconditionError("VM '%s' has snapshots, which a copy of its disks would lose; remove them first"
                                    % domain.name(), option=option)

    def _checked_host_move(self, other: "LibvirtProvider", domain: Any, target: Placement, prefix: str) -> HostMove:
        """The move to ``other``, into ``target.datastore`` there, else into the pool named as the VM's is here,
        once the target answers and may take the VM."""
        self._refuse_snapshots(domain, prefix + "host")
        try:
            other.conn.getLibVersion()
        except VirtrigaudError as err:
            raise UnavailableError("the libvirtd at %s does not answer: %s" % (other.config.label, err.msg),
                                   option=prefix + "host") from None
        pool_name = target.datastore or self._root_pool(domain)
        if not pool_name:
            raise SpecError("say which storage pool of the target libvirtd the disks go to",
                            option=prefix + "datastore")
        move = HostMove(self.storage, other.storage, other.storage.pool(pool_name, prefix + "datastore"), domain)
        move.check(prefix + "host")
        return move

    def _root_pool(self, domain: Any) -> Optional[str]:
        root = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).metadata.disk(dx.ROOT_DISK)
        volume = self.storage.volume_at(root.path) if root is not None else None
        return volume.storagePoolLookupByVolume().name() if volume is not None else None

    @backend_call("migrate")
    def migrate(self, vm_id: str, target: Placement, live: bool) -> TaskRef:
        other = self.elsewhere(target)
        if other is not None:
            try:
                return self._move_to_host(other, vm_id, target, live)
            finally:
                other.close()
        if not target.datastore:
            return _DONE
        self.check_migration(vm_id, target, live)
        domain = self._domain(vm_id)
        # SECURE: without it libvirt leaves the display password out, and the redefined VM would have none.
        xml = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
        facts = dx.parse_domain(xml)
        pool = self.storage.pool(target.datastore, "placement.datastore")
        created: list[Any] = []
        try:
            moved = self.storage.move_volumes(facts.metadata.owned_paths(), pool, created)
            self.conn.defineXMLFlags(dx.moved_xml(xml, moved), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        except BaseException:
            self.storage.delete_volumes(created)
            raise
        left = self.storage.delete_volumes(v for v in map(self.storage.volume_at, moved) if v is not None)
        self._warn_left(left)
        return _DONE

    def _move_to_host(self, other: "LibvirtProvider", vm_id: str, target: Placement, live: bool) -> TaskRef:
        domain = self._domain(vm_id)
        move = self._checked_host_move(other, domain, target, "placement.")
        running = bool(domain.isActive())
        if running != live:
            raise PreconditionError("VM '%s' is %s now; run the move again" % (domain.name(),
                                    "running" if running else "stopped"), vm=domain.name())
        with self._one_at_a_time(domain.name()):
            self._warn_left(move.running() if running else move.stopped())
        return _DONE

    def _warn_left(self, left: list[str]) -> None:
        if left:
            self.warnings.append("the VM moved, but its old volumes %s could not be removed" % ", ".join(left))

    # observing

    def _observe(self, domain: Any, addresses: Callable[[Any], dict[str, tuple[str, ...]]]) -> ObservedVM:
        return observe.observed(domain, self.storage, self.client, addresses, self.config.uri)

    def _observe_if_present(self, domain: Any,
                            addresses: Callable[[Any], dict[str, tuple[str, ...]]]) -> Optional[ObservedVM]:
        """The domain as observed, or None when there is none or it was undefined while being read."""
        if domain is None:
            return None
        return self.client.quietly(functools.partial(self._observe, domain, addresses), ["NO_DOMAIN"])

    # images

    @backend_call("find image")
    def find_image(self, spec: ImageSpec) -> Optional[PreparedImage]:
        return images.find_image(self.storage, spec)

    @backend_call("prepare image")
    def prepare_image(self, spec: ImageSpec, transfer: Transfer) -> PreparedImage:
        return images.prepare_image(self.storage, spec, transfer)

    @backend_call("delete image")
    def delete_image(self, image: PreparedImage) -> None:
        images.delete_image(self.storage, image)

    # disks as files

    def _stopped_facts(self, vm_id: str, doing: str) -> dx.DomainFacts:
        domain = self._domain(vm_id)
        if domain.isActive():
            raise PreconditionError("VM '%s' is running; stop it before %s its disk" % (domain.name(), doing),
                                    vm=domain.name())
        return dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))

    @backend_call("describe disk")
    def disk_info(self, vm_id: str, disk: str = "") -> DiskDetails:
        domain = self._domain(vm_id)
        facts = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        names = tuple(s.name for s in snapshots.listing(domain))
        return disks.disk_info(self.storage, facts, disk, names)

    @backend_call("export disk")
    def export_disk(self, spec: ExportSpec, transfer: Transfer) -> ExportedDisk:
        return disks.export_disk(self.storage, self._stopped_facts(spec.vm_id, "exporting"), spec, transfer)

    @backend_call("import disk")
    def import_disk(self, spec: ImportSpec, transfer: Transfer) -> ImportedDisk:
        return disks.import_disk(self.storage, spec, transfer)
