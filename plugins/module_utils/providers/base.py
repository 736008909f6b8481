# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider contract: one abstract class every backend implements.

It mirrors VirtRigaud's ``provider.v1.Provider`` RPCs, so a direct backend and a
remote runtime are interchangeable.  Providers take plain configuration, return
the plain values below and raise :mod:`errors`; they never see AnsibleModule.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import functools
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, TypeVar

from ..disks import DiskDetails, ExportedDisk, ExportSpec, ImportedDisk, ImportSpec
from ..errors import UnsupportedError, VirtrigaudError
from ..images import IMPORT_OPTIONS, ImageSpec, PreparedImage
from ..placement import Host
from ..spec import ConsoleSpec, DiskSpec, NetworkSpec, Placement, VMSpec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..image_transfer import Transfer  # the transfer does I/O, the contract does not
    from .discovery import Discovery  # discovery's dataclasses use Capabilities, defined here

T = TypeVar("T")


class PowerOp(enum.Enum):
    """Values match VirtRigaud's PowerOp enum on the wire."""

    ON = 1
    OFF = 2
    REBOOT = 3
    SHUTDOWN_GRACEFUL = 4


@dataclass(frozen=True)
class ProviderConfig:
    """Where and how to connect; secrets stay here and are never echoed."""

    type: str
    uri: Optional[str] = None
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    validate_certs: bool = True
    name: Optional[str] = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How errors and results name this provider: never includes credentials."""
        if self.name:
            return self.name
        return _strip_userinfo(self.uri) if self.uri else "%s (default connection)" % self.type


def _strip_userinfo(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return scheme + sep + rest


@dataclass(frozen=True)
class TaskRef:
    """An asynchronous operation still running in the backend; an empty id means done."""

    id: str = ""


@dataclass(frozen=True)
class TaskStatus:
    done: bool
    error: str = ""


@dataclass(frozen=True)
class ObservedDisk:
    name: str
    size_gib: int
    format: Optional[str] = None
    path: Optional[str] = None
    device: Optional[str] = None


@dataclass(frozen=True)
class ObservedNIC:
    name: str
    mac_address: Optional[str] = None
    network: Optional[str] = None
    bridge: Optional[str] = None
    model: Optional[str] = None
    ip_addresses: tuple[str, ...] = ()
    # The static IPv4 configuration the backend keeps for the guest, as "192.0.2.10/24"; "" when it keeps none,
    # None when the backend does not know (a NIC's static address then never counts as changed).
    static_ip: Optional[str] = None
    gateway: Optional[str] = None
    dns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self), ip_addresses=list(self.ip_addresses), dns=list(self.dns))


@dataclass(frozen=True)
class Snapshot:
    id: str
    name: str
    description: str = ""
    created: Optional[str] = None
    has_memory: bool = False
    parent: Optional[str] = None
    current: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class ObservedVM:
    """What a backend reports about one VM, in the spec's units."""

    id: str
    name: str
    power_state: str
    cpu: Optional[int] = None
    memory_mib: Optional[int] = None
    firmware: Optional[str] = None
    # None where the backend does not report it.
    secure_boot: Optional[bool] = None
    max_cpu: Optional[int] = None
    max_memory_mib: Optional[int] = None
    disks: tuple[ObservedDisk, ...] = ()
    nics: tuple[ObservedNIC, ...] = ()
    tags: tuple[str, ...] = ()
    # Where a console client connects, without any secret in it; None when the backend has none to offer now.
    console_url: Optional[str] = None
    # The console device a backend lets users choose (a libvirt graphics device, or type "none"); None where the
    # backend's console is built in (vSphere, Proxmox VE, KubeVirt).
    console: Optional[ConsoleSpec] = None
    # Where the VM is, as far as the backend reports it cheaply; None for what it does not report.
    placement: Placement = field(default_factory=Placement)
    # What else the backend reports that users act on (a KubeVirt VM's namespace, node, instancetype); only
    # in results when there is some.
    details: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ip_addresses(self) -> tuple[str, ...]:
        return tuple(ip for nic in self.nics for ip in nic.ip_addresses)

    def disk(self, name: str) -> Optional[ObservedDisk]:
        return next((d for d in self.disks if d.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The normalised VM as returned to users and the wire; never a raw backend object."""
        result = {
            "id": self.id,
            "name": self.name,
            "power_state": self.power_state,
            "cpu": self.cpu,
            "memory_mib": self.memory_mib,
            "firmware": self.firmware,
            "secure_boot": self.secure_boot,
            "disks": [dict(vars(d)) for d in self.disks],
            "nics": [n.to_dict() for n in self.nics],
            "ip_addresses": list(self.ip_addresses),
            "tags": list(self.tags),
            "console_url": self.console_url,
            "placement": {k: v for k, v in vars(self.placement).items() if v},
        }
        if self.details:
            result["details"] = dict(self.details)
        return result


@dataclass(frozen=True)
class ConsoleAccess:
    """How to open a VM's console now.  ``url`` carries no secret; ``password`` (a device password or a one-time
    ticket) and ``websocket_url`` (which embeds the ticket) are secrets, shown only to whoever asked."""

    type: str
    url: str
    host: Optional[str] = None
    port: Optional[int] = None
    password: Optional[str] = field(default=None, repr=False)
    websocket_url: Optional[str] = field(default=None, repr=False)
    expires_in: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class Capabilities:
    """Field names follow GetCapabilitiesResponse."""

    supports_reconfigure_online: bool = False
    supports_disk_expansion_online: bool = False
    supports_snapshots: bool = False
    supports_memory_snapshots: bool = False
    supports_linked_clones: bool = False
    supports_image_import: bool = False
    supports_disk_export: bool = False
    supports_disk_import: bool = False
    supports_export_compression: bool = False
    supported_disk_types: tuple[str, ...] = ()
    supported_network_types: tuple[str, ...] = ()
    supported_export_formats: tuple[str, ...] = ()
    supported_import_formats: tuple[str, ...] = ()
    supported_export_backends: tuple[str, ...] = ()
    supported_import_backends: tuple[str, ...] = ()
    supported_transfer_modes: tuple[str, ...] = ()
    # Not on the wire (GetCapabilitiesResponse has no such field; the collection's runtime sends it as metadata):
    # the in-place NIC changes the backend makes, each "live" (on a running VM) or "offline" (on a stopped one).
    # A change missing here is refused.
    nic_changes: Mapping[str, str] = field(default_factory=dict, metadata={"wire": False})
    # Not on the wire either: whether the backend creates VMs with UEFI secure boot (``secure_boot: true``).
    supports_secure_boot: bool = field(default=False, metadata={"wire": False})
    # Not on the wire either: the console types ``console.type`` may ask for, and whether ``console.listen`` is
    # honoured (a graphics device the collection adds).  Empty: the backend's console is not offered.
    console_types: tuple[str, ...] = field(default=(), metadata={"wire": False})
    console_listen: bool = field(default=False, metadata={"wire": False})
    # Not on the wire either: the options an image import carries out (``registry`` for a docker:// URL); any other
    # given is refused by name (check_import_options).
    image_import_options: tuple[str, ...] = field(default=IMPORT_OPTIONS, metadata={"wire": False})

    @classmethod
    def wire_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("wire", True))

    def to_dict(self) -> dict[str, Any]:
        """The GetCapabilitiesResponse fields."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items() if k in self.wire_fields()}


@dataclass(frozen=True)
class NicChange:
    """One NIC changed in place, found by its name: ``fields`` says which of ``network``'s values to apply
    (``network`` for the network or bridge, ``mac_address``, ``ip_address`` for the whole static configuration)."""

    network: NetworkSpec
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Reconfiguration:
    """Changes to apply to an existing VM (the Reconfigure RPC); ``None`` or empty leaves a field alone."""

    cpu: Optional[int] = None
    memory_mib: Optional[int] = None
    disk_sizes_gib: Mapping[str, int] = field(default_factory=dict)
    add_disks: tuple[DiskSpec, ...] = ()
    add_networks: tuple[NetworkSpec, ...] = ()
    change_networks: tuple[NicChange, ...] = ()
    remove_networks: tuple[str, ...] = ()
    # The whole desired NIC list the NIC changes come from: what the wire carries, for the runtime to work out
    # the same changes against the VM it sees.
    networks: Optional[tuple[NetworkSpec, ...]] = None
    tags: Optional[tuple[str, ...]] = None
    # A console device to put in place of the VM's (type "none" removes it), and whether to give it a new password.
    console: Optional[ConsoleSpec] = None
    rotate_console_password: bool = False
    live: bool = False

    def __bool__(self) -> bool:
        return bool(
            self.cpu or self.memory_mib or self.disk_sizes_gib or self.add_disks or self.add_networks
            or self.change_networks or self.remove_networks or self.console or self.rotate_console_password
        ) or self.tags is not None


def usable_ip(address: str) -> bool:
    """An address worth reporting: not loopback, link-local or unspecified."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)


def backend_call(operation: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Mark a provider method whose backend library errors become the collection's, named by ``operation``."""

    def wrap(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def run(self: "Provider", *args: Any, **kwargs: Any) -> T:
            try:
                return method(self, *args, **kwargs)
            except self.backend_errors as err:
                raise self.translate(err, operation) from None

        return run

    return wrap


class Provider(abc.ABC):
    """One backend connection.  All methods raise :class:`errors.VirtrigaudError` subclasses.

    Mutating calls return a :class:`TaskRef` for work still running in the
    backend (an empty id means it already finished); :meth:`task_status` polls it.
    """

    type_name = ""
    # False when list_vms() costs round trips per VM, so that describing known VMs in parallel is quicker.
    lists_in_bulk = True
    # Whether a VM created from an image holds its own copy of the image's bytes, so that the image may be
    # removed afterwards (a migration's transferred disk); False where the VM reads through it (a backing file).
    imports_copy_image = False
    # The backend library's exception classes, which translate() turns into VirtrigaudError.
    backend_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        # Things the user should hear about that did not stop the call (a node down, a setting dropped).
        self.warnings: list[str] = []

    def translate(self, err: BaseException, operation: Optional[str] = None) -> VirtrigaudError:
        """One of ``backend_errors`` as the collection's error."""
        raise NotImplementedError

    def __enter__(self) -> "Provider":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional, nothing to release by default
        """Release the connection; safe to call twice."""

    @abc.abstractmethod
    def validate(self) -> None:
        """Check that the backend is reachable and the credentials work."""

    @abc.abstractmethod
    def check_spec(self, spec: VMSpec) -> None:
        """Check a spec against the backend (image, networks, datastore exist) without changing anything.

        Raises:
            SpecError: naming the offending option.
        """

    def check_networks(self, spec: VMSpec) -> None:  # noqa: B027 - optional, nothing to check by default
        """Check that the networks and bridges the spec's NICs name exist (part of check_spec), for NIC changes
        on an existing VM.

        Raises:
            SpecError: naming the offending option.
        """

    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What this backend supports."""

    def discover(self) -> "Discovery":
        """What the backend offers, read live in bulk: networks, storage, hosts, instance types, images, features.

        Raises:
            UnsupportedError: the backend has no discovery, naming ``discover``.
        """
        raise UnsupportedError("the %s provider cannot discover what it offers" % self.type_name, option="discover")

    def placement_hosts(self) -> tuple[Host, ...]:
        """Where a new VM can go, for a placement policy to choose from: hosts, nodes or the connection itself.

        Raises:
            UnsupportedError: the backend offers no choice of host, naming ``placement_policy``.
        """
        raise UnsupportedError("the %s backend has no hosts for a placement policy to choose from" % self.type_name,
                               option="placement_policy")

    @abc.abstractmethod
    def describe(self, vm_id: str) -> Optional[ObservedVM]:
        """The VM with this id, or None when it does not exist."""

    @abc.abstractmethod
    def find(self, name: str) -> Optional[ObservedVM]:
        """The VM with this name, or None.

        Raises:
            ConflictError: several VMs carry the name; the message lists their ids.
        """

    # Listings, all in bulk.  list_vms() is the full one: every VM as it is now, as describe() reports it;
    # whatever acts on what it reads (modules, the runtime's ListVMs) uses it.  list_states() is its narrower
    # cut for VM sets.  inventory() is the light one the inventory shows: one cheap query, which may leave out
    # what costs a round trip per VM (disks, NICs) and may trail behind changes by seconds (Proxmox reads
    # pvestatd's statistics); nothing acts on it.

    @abc.abstractmethod
    def list_vms(self) -> list[ObservedVM]:
        """Every VM of this provider as it is now, fetched in bulk: the full listing."""

    def inventory(self) -> list[ObservedVM]:
        """Every VM from the backend's cheapest bulk query: the summary listing the inventory shows.  Backends
        whose full listing is that query already keep this default."""
        return self.list_vms()

    def list_states(self) -> list[ObservedVM]:
        """Every VM as it is now, in bulk, with what a VM set decides and reports by: id, name, tags, power state,
        addresses and host.  A backend may leave out the rest (disks, NIC devices) where reading it costs most of
        the query, as vSphere's device lists do; others keep this default, the full listing."""
        return self.list_vms()

    @abc.abstractmethod
    def create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        """Create the VM (powered off) and return its id; an existing VM of that name is returned as is."""

    @abc.abstractmethod
    def delete(self, vm_id: str, delete_disks: bool = True) -> TaskRef:
        """Remove the VM, and its disks unless told otherwise.

        Raises:
            PreconditionError: the VM is running.
        """

    @abc.abstractmethod
    def power(self, vm_id: str, op: PowerOp, graceful_timeout: int = 60) -> TaskRef:
        """Change the power state.

        Raises:
            DeadlineExceededError: a graceful shutdown did not finish in ``graceful_timeout`` seconds.
        """

    @abc.abstractmethod
    def reconfigure(self, vm_id: str, change: Reconfiguration) -> TaskRef:
        """Apply cpu, memory, disk growth, new disks, NIC additions, changes and removals, and tags.

        ``change.live`` says the VM is running.  NICs are found by name.
        """

    @abc.abstractmethod
    def task_status(self, task: TaskRef) -> TaskStatus:
        """Poll a task.  An unknown task is reported done with an error."""

    @abc.abstractmethod
    def snapshot_list(self, vm_id: str) -> list[Snapshot]:
        """The VM's snapshots, oldest first."""

    def check_snapshot(self, vm_id: str, include_memory: bool = False) -> None:  # noqa: B027 - optional, nothing to check by default
        """Refuse, before anything changes, a snapshot the backend would take but could not revert.

        Raises:
            PreconditionError: naming ``include_memory``, saying why and how to take a disk-only snapshot.
        """

    @abc.abstractmethod
    def snapshot_create(
        self, vm_id: str, name: str, description: str = "", include_memory: bool = False
    ) -> tuple[str, TaskRef]:
        """Take a snapshot and return its id."""

    @abc.abstractmethod
    def snapshot_delete(self, vm_id: str, snapshot_id: str) -> TaskRef:
        """Remove a snapshot; a missing one is a success."""

    @abc.abstractmethod
    def snapshot_revert(self, vm_id: str, snapshot_id: str) -> TaskRef:
        """Return the VM to a snapshot."""

    @abc.abstractmethod
    def clone(self, source_id: str, target_name: str, linked: bool = False) -> tuple[str, TaskRef]:
        """Copy a VM (powered off) under a new name, fully or as a linked clone; return the new id."""

    def open_console(self, vm_id: str) -> Optional[ConsoleAccess]:
        """How to reach the VM's console now, with its password or a fresh one-time ticket; None when the VM has
        no console to reach (stopped, or none configured).

        Raises:
            UnsupportedError: the backend offers no console, naming ``console``.
        """
        raise UnsupportedError("the %s provider offers no console" % self.type_name, option="console")

    # Moves within the backend (VMMigration's within-one-backend kind).  ``migration_keys`` names the placement
    # keys the backend moves a VM between; a move of any other key is refused by name.
    migration_keys: tuple[str, ...] = ()

    def where(self, vm: ObservedVM) -> Placement:
        """Where ``vm`` (as just described) is, for the keys in ``migration_keys`` at least.  Backends whose
        description leaves a key out read it here."""
        return vm.placement

    def elsewhere(self, target: Placement) -> Optional["Provider"]:
        """The same backend over another connection, when ``target.host`` names a host that this connection does not
        reach (libvirt: another libvirtd's URI); None when it reaches it.  The caller closes what it gets."""
        return None

    def check_migration(self, vm_id: str, target: Placement, live: bool, prefix: str = "placement.") -> None:
        """Refuse, before anything moves, a move the backend would refuse: a target it does not have (naming
        ``prefix`` + the key), a VM it cannot move running or at all.

        Raises:
            SpecError: the target does not exist.
            PreconditionError: the backend would refuse the move.
            UnsupportedError: the backend moves no VMs.
        """
        raise UnsupportedError("the %s backend cannot move VMs" % self.type_name, option=prefix + "host")

    def migrate(self, vm_id: str, target: Placement, live: bool) -> TaskRef:
        """Move the VM to ``target`` (only its set keys), running when ``live``.  On a failure the VM stays where
        it was, as it was, and nothing is left on the target side.

        Raises:
            UnsupportedError: the backend moves no VMs.
        """
        raise UnsupportedError("the %s backend cannot move VMs" % self.type_name, option="target")

    # Images (VMImage, ImagePrepare).  Backends that import images say so with Capabilities.supports_image_import.

    def find_image(self, spec: ImageSpec) -> Optional[PreparedImage]:
        """The image ``spec`` names, as the backend holds it, or None.

        Raises:
            UnsupportedError: the backend keeps no images this collection can find.
        """
        raise UnsupportedError("the %s backend keeps no images this collection can find" % self.type_name,
                               option=spec.source_option)

    def prepare_image(self, spec: ImageSpec, transfer: "Transfer") -> PreparedImage:
        """Bring the image onto the backend (``transfer`` fetches its bytes); an image already there is returned
        once usable: an import found still running (not :attr:`PreparedImage.ready`) is waited for.

        Raises:
            ProviderError: an import found failed (:func:`images.failed_import`), left as it is.
            UnsupportedError: the backend cannot import images, naming the source option.
            PreconditionError: the checksum does not match; nothing is left behind.
        """
        raise UnsupportedError("the %s backend cannot import images" % self.type_name, option=spec.source_option)

    def delete_image(self, image: PreparedImage) -> None:
        """Remove an image this collection prepared; a missing one is a success."""
        raise UnsupportedError("the %s backend cannot remove images" % self.type_name, option="state")

    # Disks as files, for migrations (ExportDisk, ImportDisk, GetDiskInfo).  Backends that move them say so with
    # Capabilities.supports_disk_export and supports_disk_import.

    def disk_info(self, vm_id: str, disk: str = "") -> DiskDetails:
        """One disk of the VM (its name or device; "" the root disk): format, sizes, backing chain.

        Raises:
            UnsupportedError: the backend cannot reach its disks as files, naming the backend.
            NotFoundError: no such VM or disk.
        """
        raise UnsupportedError("the %s backend does not describe disks as files (GetDiskInfo)" % self.type_name,
                               option="vm_id")

    def export_disk(self, spec: ExportSpec, transfer: "Transfer") -> ExportedDisk:
        """Write a stopped VM's disk to ``spec.destination`` in the format asked for, with its SHA-256.

        Raises:
            UnsupportedError: the backend cannot export disks, naming the backend.
            PreconditionError: the VM is running.
        """
        raise UnsupportedError("the %s backend cannot export disks (ExportDisk)" % self.type_name,
                               option="vm_id")

    def import_disk(self, spec: ImportSpec, transfer: "Transfer") -> ImportedDisk:
        """Bring a disk file into the backend's storage as ``spec.name``, verified against ``spec.checksum``;
        a disk of that name already there is returned as it is.

        Raises:
            UnsupportedError: the backend cannot import disks, naming the backend.
            PreconditionError: the checksum does not match; nothing is left behind.
            ConflictError: a disk of that name holds other bytes.
        """
        raise UnsupportedError("the %s backend cannot import disks (ImportDisk)" % self.type_name,
                               option="source_url")

    def delete_disk(self, disk: ImportedDisk) -> None:
        """Remove what ``import_disk`` made for ``disk``; what is missing already is a success.

        Raises:
            UnsupportedError: the backend cannot remove imported disks, naming it.
        """
        raise UnsupportedError("the %s backend cannot remove a disk it imported; remove %s by hand"
                               % (self.type_name, disk.path or disk.disk_id))
