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
from typing import Any, Callable, Iterable, Iterator, Optional, TypeVar, cast
from urllib.parse import urlsplit
from xml.etree import ElementTree

from ...errors import (
    ConflictError,
    DeadlineExceededError,
    MissingDependency,
    NotFoundError,
    PreconditionError,
    SpecError,
    VirtrigaudError,
)
from ...resilience import Deadline
from ...spec import GIB, NetworkSpec, Placement, VMSpec
from ..base import (
    Capabilities,
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
    backend_call,
    usable_ip,
)
from . import domain_xml as dx
from . import failures, snapshots
from .interfaces import change_nics, nic_plans, random_mac
from .seed import needs_seed, seed_files, seed_iso

try:
    import libvirt

    LIBVIRT_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the host
    libvirt = None
    LIBVIRT_ERROR = err

DEFAULT_URI = "qemu:///system"
DEFAULT_POOL = "default"
DEFAULT_ROOT_GIB = 10
DOMAIN_TYPES = ("auto", "kvm", "qemu")
SHUTDOWN_PRESS_INTERVAL = 10.0
_DONE = TaskRef()
_RUNNING_STATES = ("VIR_DOMAIN_RUNNING", "VIR_DOMAIN_BLOCKED", "VIR_DOMAIN_PAUSED", "VIR_DOMAIN_SHUTDOWN",
                   "VIR_DOMAIN_PMSUSPENDED")
T = TypeVar("T")


def _gib(size_bytes: int) -> int:
    return -(-size_bytes // GIB)


def _on_default_network(networks: Iterable[NetworkSpec], default: Optional[str]) -> tuple[NetworkSpec, ...]:
    """A NIC naming neither a network nor a bridge joins the Provider's default network (else libvirt's 'default')."""
    return tuple(n if n.network or n.bridge or not default else dataclasses.replace(n, network=default)
                 for n in networks)


def _allocation(disk_type: str, size: int) -> int:
    """Bytes to allocate up front: none for thin disks, all for the thick kinds."""
    return 0 if disk_type == "thin" else size


class LibvirtProvider(Provider):
    type_name = "libvirt"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        if LIBVIRT_ERROR is not None:
            raise MissingDependency("libvirt-python", "for the libvirt provider", LIBVIRT_ERROR)
        domain_type = config.options.get("domain_type") or "auto"
        if domain_type not in DOMAIN_TYPES:
            raise SpecError("'%s' is not one of: %s" % (domain_type, ", ".join(DOMAIN_TYPES)),
                            option="libvirt_domain_type")
        self._domain_type = domain_type
        self._conn: Any = None
        self._secure_boot: Optional[bool] = None
        self.backend_errors = (libvirt.libvirtError,)
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

    # connection and lookups

    def translate(self, err: BaseException, operation: Optional[str] = None) -> VirtrigaudError:
        return failures.translate(libvirt, err, (self.config.password,), operation=operation)

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> Any:
        uri = self.config.uri or DEFAULT_URI
        try:
            if self.config.username or self.config.password:
                wanted = [libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE]
                return libvirt.openAuth(uri, [wanted, self._answer_credentials, None], 0)
            return libvirt.open(uri)
        except libvirt.libvirtError as err:
            raise self.translate(err, "connect") from None

    def _answer_credentials(self, credentials: list[list[Any]], _data: Any) -> int:
        for credential in credentials:
            if credential[0] == libvirt.VIR_CRED_AUTHNAME:
                credential[4] = self.config.username or ""
            elif credential[0] == libvirt.VIR_CRED_PASSPHRASE:
                credential[4] = self.config.password or ""
        return 0

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except libvirt.libvirtError:
                pass
            self._conn = None

    def _quietly(self, call: Callable[[], T], missing: Iterable[str]) -> Optional[T]:
        """The call's result, or None when libvirt answers with one of the ``missing`` error codes."""
        try:
            return call()
        except libvirt.libvirtError as err:
            if err.get_error_code() in [getattr(libvirt, "VIR_ERR_" + name) for name in missing]:
                return None
            raise

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

    def _pool(self, name: str, option: str) -> Any:
        pool = self._quietly(lambda: self.conn.storagePoolLookupByName(name), ["NO_STORAGE_POOL"])
        if pool is None:
            raise SpecError("storage pool '%s' does not exist" % name, option=option)
        if not pool.isActive():
            raise SpecError("storage pool '%s' is not active" % name, option=option)
        return pool

    def _pool_for(self, spec: VMSpec) -> Any:
        if spec.placement.datastore:
            return self._pool(spec.placement.datastore, "placement.datastore")
        return self._pool(self.config.options.get("storage_pool") or DEFAULT_POOL, "default_datastore")

    def _volume_at(self, path: str) -> Any:
        return self._quietly(lambda: self.conn.storageVolLookupByPath(path), ["NO_STORAGE_VOL"])

    def _image(self, spec: VMSpec, pool: Any) -> Any:
        image = spec.image or ""
        if image.startswith("/"):
            volume = self._volume_at(image)
        else:
            volume = self._quietly(lambda: pool.storageVolLookupByName(image), ["NO_STORAGE_VOL"])
        if volume is None:
            raise SpecError(
                "image '%s' is neither a volume of storage pool '%s' nor the path of a volume" % (image, pool.name()),
                option="image",
            )
        return volume

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
        pool = self._pool_for(spec)
        if spec.image:
            capacity = self._image(spec, pool).info()[1]
            if spec.root_disk_gib is not None and spec.root_disk_gib * GIB < capacity:
                raise SpecError(
                    "image '%s' is %d GiB; the root disk cannot be smaller" % (spec.image, _gib(capacity)),
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
                found = self._quietly(functools.partial(self.conn.networkLookupByName, network.network), ["NO_NETWORK"])
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
            supported_disk_types=("qcow2", "raw"),
            supported_network_types=("network", "bridge"),
            # A static address rides on the cloud-init seed, which the guest reads once: it cannot change.
            nic_changes={"set_network": "live", "set_mac_address": "live", "remove_network": "live"},
            supports_secure_boot=self._has_secure_boot_firmware(),
        )

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
        domain = self._find_domain(vm_id)
        return self._observe(domain, self._domain_addresses) if domain is not None else None

    @backend_call("find")
    def find(self, name: str) -> Optional[ObservedVM]:
        domain = self._quietly(lambda: self.conn.lookupByName(name), ["NO_DOMAIN"])
        return self._observe(domain, self._domain_addresses) if domain is not None else None

    @backend_call("list")
    def list_vms(self) -> list[ObservedVM]:
        leases = self._lease_table()
        found = []
        for domain in self.conn.listAllDomains(0):
            vm = self._quietly(functools.partial(self._observe, domain, lambda _d: leases), ["NO_DOMAIN"])
            if vm is not None:
                found.append(vm)
        return found

    @backend_call("create")
    def create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        with self._one_at_a_time(spec.name):
            return self._create(spec)

    def _create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        existing = self._quietly(lambda: self.conn.lookupByName(spec.name), ["NO_DOMAIN"])
        if existing is not None:
            return existing.UUIDString(), _DONE
        pool = self._pool_for(spec)
        vm_id = str(uuid.uuid4())
        nics = nic_plans(_on_default_network(spec.networks, self.config.options.get("network")),
                         static_known=not spec.cloud_init.network_config)
        created: list[Any] = []
        try:
            disks = self._create_disks(spec, pool, created)
            seed = self._create_seed(spec, pool, vm_id, nics, created) if needs_seed(spec) else None
            plan = dx.DomainPlan(
                name=spec.name, uuid=vm_id, domain_type=self._resolved_domain_type(), cpu=spec.cpu or 1,
                memory_mib=spec.memory_mib or 512, firmware=spec.firmware or "bios", disks=disks, nics=nics,
                seed=seed, tags=tuple(spec.tags or ()), secure_boot=bool(spec.secure_boot),
            )
            self.conn.defineXMLFlags(dx.domain_xml(plan), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        except BaseException:
            self._delete_volumes(created)
            raise
        return vm_id, _DONE

    @contextmanager
    def _one_at_a_time(self, name: str) -> Iterator[None]:
        """Creates and clones of one VM name on this host, one at a time (a lock file, released if the process
        dies): a create takes over volumes no domain uses, which must never be those of a create still running.
        Over a remote URI there is no lock to take, and two creates of one name at once are the caller's to avoid."""
        uri = self.config.uri or DEFAULT_URI
        if urlsplit(uri).netloc:
            yield
            return
        key = hashlib.sha256(("%s\0%s" % (uri, name)).encode("utf-8")).hexdigest()[:16]
        with open(os.path.join(tempfile.gettempdir(), "virtrigaud-libvirt-%s.lock" % key), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _new_volume(self, pool: Any, xml: str, created: list[Any], source: Any = None) -> Any:
        name = ElementTree.fromstring(xml).findtext("name") or ""
        leftover = self._quietly(lambda: pool.storageVolLookupByName(name), ["NO_STORAGE_VOL"])
        if leftover is not None:
            self._take_over_leftover(leftover, name)
        volume = pool.createXMLFrom(xml, source, 0) if source is not None else pool.createXML(xml, 0)
        created.append(volume)
        return volume

    def _take_over_leftover(self, volume: Any, name: str) -> None:
        """Delete a volume of this VM's that no domain uses: what a create or clone cut short leaves (the module or
        libvirtd killed between the volumes and the define).  One that a domain uses is a real conflict."""
        path = volume.path()
        for domain in self.conn.listAllDomains(0):
            if path in dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).disk_paths.values():
                raise ConflictError("volume '%s' exists already, and VM '%s' uses it" % (name, domain.name()))
        volume.delete(0)
        self.warnings.append("removed volume '%s', which a create cut short had left behind" % name)

    def _create_disks(self, spec: VMSpec, pool: Any, created: list[Any]) -> tuple[dx.DiskRef, ...]:
        root_size = (spec.root_disk_gib or 0) * GIB
        backing = None
        if spec.image:
            image = self._image(spec, pool)
            backing = (image.path(), dx.volume_format(image.XMLDesc(0)))
            root_size = max(root_size, image.info()[1])
        root_size = root_size or DEFAULT_ROOT_GIB * GIB
        root = self._new_volume(
            pool,
            dx.volume_xml("%s-root.qcow2" % spec.name, root_size,
                          allocation=0 if backing else _allocation(spec.disk_type, root_size),
                          backing=backing),
            created,
        )
        disks = [dx.DiskRef(dx.ROOT_DISK, dx.disk_device(0), root.path())]
        for index, disk in enumerate(spec.disks, start=1):
            size = disk.size_gib * GIB
            volume = self._new_volume(
                pool,
                dx.volume_xml("%s-%s.qcow2" % (spec.name, disk.name), size, allocation=_allocation(disk.type, size)),
                created,
            )
            disks.append(dx.DiskRef(disk.name, dx.disk_device(index), volume.path()))
        return tuple(disks)

    def _create_seed(self, spec: VMSpec, pool: Any, vm_id: str, nics: tuple[dx.NicPlan, ...],
                     created: list[Any]) -> str:
        data = seed_iso(seed_files(spec, vm_id, nics))
        volume = self._new_volume(pool, dx.volume_xml("%s-cidata.iso" % spec.name, len(data), fmt="raw"), created)
        stream = self.conn.newStream(0)
        volume.upload(stream, 0, len(data), 0)
        stream.send(data)
        stream.finish()
        return cast(str, volume.path())

    def _delete_volumes(self, volumes: Iterable[Any]) -> list[str]:
        """Delete what can be deleted; return the paths that remain."""
        left = []
        for volume in volumes:
            try:
                volume.delete(0)
            except libvirt.libvirtError as err:
                if err.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
                    left.append(volume.path())
        return left

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
            volumes = [v for v in map(self._volume_at, facts.metadata.owned_paths()) if v is not None]
            left = self._delete_volumes(volumes)
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
                domain.reset(0)
            else:
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
                self._quietly(domain.shutdown, ["OPERATION_INVALID"])
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
            self._resize_disk(domain, facts, name, size_gib, live)
        meta = facts.metadata
        if change.add_disks:
            meta = self._add_disks(domain, facts, change, flags)
        if change.add_networks or change.change_networks or change.remove_networks:
            added = _on_default_network(change.add_networks, self.config.options.get("network"))
            meta = change_nics(domain, facts, meta, dataclasses.replace(change, add_networks=added), flags)
        if change.tags is not None:
            meta = dx.Metadata(meta.disks, meta.nics, meta.seed, tuple(change.tags))
        if meta != facts.metadata:
            domain.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, dx.metadata_xml(meta, namespaced=False), dx.PREFIX,
                               dx.NAMESPACE, flags)
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

    def _resize_disk(self, domain: Any, facts: dx.DomainFacts, name: str, size_gib: int, live: bool) -> None:
        ref = facts.metadata.disk(name)
        if ref is None:
            raise NotFoundError("the VM has no disk named '%s'" % name)
        if live:
            domain.blockResize(ref.dev, size_gib * GIB, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            return
        volume = self._volume_at(ref.path)
        if volume is None:
            raise NotFoundError("the volume '%s' of disk '%s' is gone" % (ref.path, name))
        volume.resize(size_gib * GIB, 0)

    def _add_disks(self, domain: Any, facts: dx.DomainFacts, change: Reconfiguration, flags: int) -> dx.Metadata:
        meta = facts.metadata
        root = meta.disk(dx.ROOT_DISK)
        root_volume = self._volume_at(root.path) if root else None
        pool = (root_volume.storagePoolLookupByVolume() if root_volume is not None
                else self._pool(self.config.options.get("storage_pool") or DEFAULT_POOL, "default_datastore"))
        used = set(facts.disk_paths)
        disks = list(meta.disks)
        for disk in change.add_disks:
            created: list[Any] = []
            size = disk.size_gib * GIB
            volume = self._new_volume(
                pool,
                dx.volume_xml("%s-%s.qcow2" % (facts.name, disk.name), size, allocation=_allocation(disk.type, size)),
                created,
            )
            ref = dx.DiskRef(disk.name, dx.next_disk_device(used), volume.path())
            try:
                domain.attachDeviceFlags(dx.device_string(dx.disk_xml(ref, facts.max_cpu)), flags)
            except BaseException:
                self._delete_volumes(created)
                raise
            used.add(ref.dev)
            disks.append(ref)
        return dx.Metadata(tuple(disks), meta.nics, meta.seed, meta.tags)

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
        return self._quietly(lambda: domain.snapshotLookupByName(snapshot_id, 0), ["NO_DOMAIN_SNAPSHOT"])

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
        if self._quietly(lambda: self.conn.lookupByName(target_name), ["NO_DOMAIN"]) is not None:
            raise ConflictError("a VM named '%s' exists already" % target_name)
        source_xml = source.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        facts = dx.parse_domain(source_xml)
        names = {d.dev: d.name for d in facts.metadata.disks}
        vm_id = str(uuid.uuid4())
        created: list[Any] = []
        try:
            disks = tuple(
                self._clone_disk(target_name, names.get(dev, dev), dev, path, linked, created)
                for dev, path in facts.disk_paths.items()
            )
            macs = [random_mac() for dummy in facts.nics]
            meta = dx.Metadata(
                disks=disks,
                nics=tuple(dataclasses.replace(old, mac=mac).ref() for old, mac in zip(dx.interfaces(facts), macs)),
                tags=facts.metadata.tags,
            )
            self.conn.defineXMLFlags(dx.clone_xml(source_xml, target_name, vm_id, meta, macs),
                                     libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        except BaseException:
            self._delete_volumes(created)
            raise
        return vm_id, _DONE

    def _clone_disk(self, target: str, name: str, dev: str, path: str, linked: bool, created: list[Any]) -> dx.DiskRef:
        source = self._volume_at(path)
        if source is None:
            raise PreconditionError("disk '%s' (%s) is not a storage volume, so it cannot be cloned" % (name, path))
        pool = source.storagePoolLookupByVolume()
        capacity = source.info()[1]
        volume_name = "%s-%s.qcow2" % (target, name)
        if linked:
            xml = dx.volume_xml(volume_name, capacity, backing=(path, dx.volume_format(source.XMLDesc(0))))
            volume = self._new_volume(pool, xml, created)
        else:
            volume = self._new_volume(pool, dx.volume_xml(volume_name, capacity), created, source=source)
        return dx.DiskRef(name, dev, volume.path())

    # observing

    def _observe(self, domain: Any, addresses: Callable[[Any], dict[str, tuple[str, ...]]]) -> ObservedVM:
        facts = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        state = domain.state()[0]
        running = state in [getattr(libvirt, name) for name in _RUNNING_STATES]
        names = {d.dev: d.name for d in facts.metadata.disks}
        disks = []
        pool = None
        for dev, path in facts.disk_paths.items():
            volume = self._volume_at(path) if path else None
            size = volume.info()[1] if volume is not None else 0
            disks.append(ObservedDisk(name=names.get(dev, dev), size_gib=_gib(size), format="qcow2", path=path,
                                      device=dev))
            if names.get(dev) == dx.ROOT_DISK and volume is not None:
                pool = self._quietly(volume.storagePoolLookupByVolume, ["NO_STORAGE_POOL"])
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
            tags=facts.metadata.tags,
            placement=Placement(datastore=pool.name() if pool is not None else None), raw={"state": state},
        )

    def _domain_addresses(self, domain: Any) -> dict[str, tuple[str, ...]]:
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

    def _lease_table(self) -> dict[str, tuple[str, ...]]:
        """IPs per MAC from the leases of every active libvirt network, in one call per network."""
        found: dict[str, tuple[str, ...]] = {}
        for network in self.conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE):
            for lease in network.DHCPLeases():
                mac, ip = (lease.get("mac") or "").lower(), lease.get("ipaddr") or ""
                if mac and usable_ip(ip):
                    found[mac] = found.get(mac, ()) + (ip,)
        return found
