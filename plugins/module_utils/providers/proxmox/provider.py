# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Proxmox VE backend, through proxmoxer.

A VM's id is its VMID.  Names are not unique in PVE, so create makes them so:
it finds an existing VM by name first, and when two creates of one name race,
the lower VMID wins and the other run removes its own copy.  Every call waits
for its PVE task (bounded by ``wait_timeout``), so returned tasks are done.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any, Optional, cast

from ... import errors
from ...image_transfer import Transfer
from ...images import ImageSpec, PreparedImage
from ...placement import Host
from ...resilience import Deadline
from ...spec import Placement, VMSpec
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
)
from ..discovery import Discovery
from . import cloudinit, images, nodes, snapshots, storage, vmconfig
from . import migration as moves
from . import translate as pve
from .client import Session, task_failure
from .discovery import discover as discover_cluster

_DONE = TaskRef()
LINKED_CLONE_SNAPSHOT = "virtrigaud-linked-base"
ID_ATTEMPTS = 8
# One nextid-and-create at a time per PVE endpoint in this process: the threads of a VM set converge would
# otherwise all be handed the same VMID by nextid and race for it, and the losers run out of attempts.
_RESERVING: dict[str, threading.Lock] = {}
_RESERVING_GUARD = threading.Lock()
SETTLE_SECONDS = 120.0
DIGEST_ATTEMPTS = 3
# VMs whose config and status list_vms reads at once: below the 10 pooled connections of the API session, so
# every reader reuses a connection instead of opening (and TLS-handshaking) a new one.
LIST_READERS = 8


class ProxmoxProvider(Provider):
    type_name = "proxmox"
    # Each VM's config, status and guest-agent addresses are calls of their own.
    lists_in_bulk = False
    # import-from copies the file into the VM's own disk.
    imports_copy_image = True

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.session = Session(config)
        self._node_cache: Optional[list[dict[str, Any]]] = None

    def _deadline(self) -> Deadline:
        return Deadline(float(self.config.options.get("wait_timeout") or 600))

    def _wait(self, upid: Optional[str], what: str) -> None:
        self.session.wait(upid, self._deadline(), what)

    # lookups

    def _nodes(self) -> list[dict[str, Any]]:
        """The cluster's nodes, read once per provider: a module run is short."""
        if self._node_cache is None:
            self._node_cache = list(self.session.get("nodes"))
        return self._node_cache

    def _online(self) -> list[str]:
        names = []
        for node in self._nodes():
            if node.get("status") == "online":
                names.append(node["node"])
            else:
                self._warn_once("node '%s' is %s; its VMs are left out" % (node["node"], node.get("status")))
        return names

    def placement_hosts(self) -> tuple[Host, ...]:
        return tuple(Host(name) for name in sorted(self._online()))

    def _warn_once(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def _listing(self) -> list[dict[str, Any]]:
        """Every VM of every online node, names read live from the configs."""
        entries = []
        for node in self._online():
            try:
                entries += [dict(e, node=node) for e in self.session.get("nodes/%s/qemu" % node)]
            except errors.UnavailableError as err:
                self._warn_once("node '%s' did not answer (%s); its VMs are left out" % (node, err.msg))
        return entries

    def _named(self, name: str, templates: bool) -> list[dict[str, Any]]:
        return [e for e in self._listing() if e.get("name") == name and bool(e.get("template")) == templates]

    def _node_of(self, vmid: int) -> Optional[str]:
        for entry in self.session.get("cluster/resources", type="vm"):
            if entry.get("type") == "qemu" and int(entry.get("vmid", 0)) == vmid:
                return cast(str, entry["node"])
        return None

    @staticmethod
    def _vmid(vm_id: str) -> Optional[int]:
        return int(vm_id) if str(vm_id).isdigit() and 100 <= int(vm_id) <= 999999999 else None

    def _path(self, node: str, vmid: int, *rest: str) -> str:
        return "/".join(("nodes", node, "qemu", str(vmid)) + rest)

    def _observe(self, node: str, vmid: int) -> ObservedVM:
        config = self.session.get(self._path(node, vmid, "config"))
        status = self.session.get(self._path(node, vmid, "status", "current"))
        interfaces: list[Any] = []
        if status.get("status") == "running" and status.get("agent"):
            try:
                interfaces = self.session.get(self._path(node, vmid, "agent", "network-get-interfaces"))["result"]
            except (errors.ProviderError, errors.PreconditionError, errors.NotFoundError):
                interfaces = []  # the guest agent is not up yet
        return pve.observed(vmid, node, config, status, interfaces, self._web)

    @property
    def _web(self) -> str:
        return pve.web_address(self.session.endpoint.host, self.session.endpoint.port)

    def _where(self, vm_id: str) -> tuple[str, int]:
        vmid = self._vmid(vm_id)
        node = self._node_of(vmid) if vmid else None
        if node is None or vmid is None:
            raise errors.NotFoundError("VM '%s' not found" % vm_id)
        return node, vmid

    # the contract

    def validate(self) -> None:
        self.session.get("version")

    def capabilities(self) -> Capabilities:
        return Capabilities(
            supports_reconfigure_online=True,
            supports_disk_expansion_online=True,
            supports_snapshots=True,
            supports_memory_snapshots=True,
            supports_linked_clones=True,
            supported_disk_types=("thin", "ssd"),
            supported_network_types=("bridge",),
            # With the network hotplug feature (the collection sets it), PVE replugs a NIC whose MAC changes and
            # unplugs a removed one; ipconfigN reaches the guest through cloud-init at its next boot.
            nic_changes={"set_network": "live", "set_mac_address": "live", "remove_network": "live",
                         "set_ip_address": "offline"},
            supports_secure_boot=True,
            console_types=("vnc",),
            # download-url: the node fetches the file and checks its checksum (images.py).
            supports_image_import=True,
        )

    def open_console(self, vm_id: str) -> Optional[ConsoleAccess]:
        node, vmid = self._where(vm_id)
        if self.session.get(self._path(node, vmid, "status", "current")).get("status") != "running":
            return None
        answer = self.session.post(self._path(node, vmid, "vncproxy"), websocket=1)
        return pve.vnc_access(answer, self._web, self.session.endpoint.host, node, vmid)

    migration_keys = ("host",)

    def check_migration(self, vm_id: str, target: Placement, live: bool, prefix: str = "placement.") -> None:
        node, vmid = self._where(vm_id)
        if target.host:
            config = self.session.get(self._path(node, vmid, "config"))
            moves.check(self._nodes(), config, target.host, prefix + "host")

    def migrate(self, vm_id: str, target: Placement, live: bool) -> TaskRef:
        node, vmid = self._where(vm_id)
        if target.host and target.host != node:
            moves.migrate(self.session, self._path(node, vmid), target.host, live, self._deadline())
        return _DONE

    def discover(self) -> Discovery:
        online = self._online()
        templates = [entry for entry in self._listing() if entry.get("template")]
        return discover_cluster(self.session, online, templates, dict(self.config.options), self.capabilities(),
                                self._warn_once)

    def check_spec(self, spec: VMSpec) -> None:
        pve.check_tags(spec.tags)
        self.check_networks(spec)
        node = self._placement_node(spec)
        chosen, option = storage.storage_choice(spec, self.config.options)
        if chosen:
            storage.require_storage(self.session, node or self._least_loaded(), chosen, option, "images")
        if self.config.options.get("snippets_storage"):
            storage.require_storage(self.session, node or self._least_loaded(), self.config.options["snippets_storage"],
                                    "snippets_storage", "snippets")
        if spec.image and not images.is_import_volume(spec.image):
            self._check_template_secure_boot(spec, self._template(spec.image))

    def _check_template_secure_boot(self, spec: VMSpec, template: dict[str, Any]) -> None:
        """A clone keeps its template's firmware and EFI vars, so secure boot must already be as wanted there."""
        if spec.secure_boot is None:
            return
        config = self.session.get(self._path(template["node"], int(template["vmid"]), "config"))
        if pve.secure_boot_of(config) != spec.secure_boot:
            raise errors.SpecError("template '%s' has secure boot %s and its clones keep it; leave secure_boot out "
                                   "or use a template that has it %s" % (
                                       spec.image, "on" if not spec.secure_boot else "off",
                                       "on" if spec.secure_boot else "off"), option="secure_boot")

    def check_networks(self, spec: VMSpec) -> None:
        for index, network in enumerate(spec.networks):
            bridge = network.bridge or network.network
            if bridge:
                pve.check_bridge(bridge, "networks[%d].%s" % (index, "bridge" if network.bridge else "network"))

    def _placement_node(self, spec: VMSpec) -> Optional[str]:
        return nodes.placement_node(self._nodes(), spec, self.config.options)

    def _least_loaded(self) -> str:
        return nodes.least_loaded(self.session)

    def _clone_to(self, source_node: str, source: int, node: str, params: dict[str, Any]) -> str:
        """Clone onto ``node``; a source on local storage can only be cloned on its own node."""
        path = self._path(source_node, source, "clone")
        if node == source_node:
            return cast(str, self.session.post(path, **params))
        try:
            return cast(str, self.session.post(path, target=node, **params))
        except errors.PreconditionError as err:
            if "local storage" not in err.msg:
                raise
            return cast(str, self.session.post(path, **params))

    def _template(self, image: str) -> dict[str, Any]:
        """A template by name or VMID."""
        templates = [e for e in self._listing() if e.get("template")]
        matches = [e for e in templates if e.get("name") == image or str(e.get("vmid")) == image]
        if len(matches) > 1:
            raise errors.ConflictError("%d templates are named '%s': VMIDs %s; give the VMID instead" % (
                len(matches), image, ", ".join(str(m["vmid"]) for m in matches)), option="image")
        if not matches:
            raise errors.SpecError("template '%s' does not exist" % image, option="image")
        return matches[0]

    def find_image(self, spec: ImageSpec) -> Optional[PreparedImage]:
        """A template by name or VMID, or a file of a storage that download-url fetched (see images.py)."""
        if not spec.template:
            images.check_importable(spec)
            return self._images(spec.storage).find(spec)
        try:
            template = self._template(spec.template)
        except errors.SpecError:
            return None
        except errors.ConflictError as err:
            err.option = "template"
            raise
        return PreparedImage(spec.name, str(template["vmid"]), format="template", storage=str(template.get("node")))

    def _images(self, storage_name: Optional[str]) -> images.PveImages:
        return images.PveImages(self.session, images.image_node(self._online(), self.config.options.get("node")),
                                storage_name)

    def prepare_image(self, spec: ImageSpec, transfer: Transfer) -> PreparedImage:
        if spec.template:
            return super().prepare_image(spec, transfer)
        images.check_importable(spec)
        storage_images = self._images(spec.storage)
        return storage_images.find(spec) or storage_images.download(spec, self._deadline())

    def delete_image(self, image: PreparedImage) -> None:
        if image.format == "template":
            raise errors.UnsupportedError("templates are VMs: remove them with virtrigaud_vm", option="template")
        self._images(image.storage).delete(image, self._deadline())

    def describe(self, vm_id: str) -> Optional[ObservedVM]:
        vmid = self._vmid(vm_id)
        node = self._node_of(vmid) if vmid else None
        if node is None or vmid is None:
            return None
        try:
            return self._observe(node, vmid)
        except errors.NotFoundError:
            return None

    def find(self, name: str) -> Optional[ObservedVM]:
        matches = self._named(name, templates=False)
        if len(matches) > 1:
            raise errors.ConflictError("%d VMs are named '%s': VMIDs %s" % (
                len(matches), name, ", ".join(str(m["vmid"]) for m in matches)), option="name")
        return self._observe(matches[0]["node"], int(matches[0]["vmid"])) if matches else None

    def list_vms(self) -> list[ObservedVM]:
        """Every VM, its config, status and addresses read ``LIST_READERS`` VMs at a time, in listing order.

        Each VM costs two or three round trips of its own; read one after another, 1,000 VMs took 11 s.
        """
        entries = [entry for entry in self._listing() if not entry.get("template")]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(LIST_READERS, len(entries)))) as pool:
            observed = list(pool.map(self._observe_listed, entries))
        return [vm for vm in observed if vm is not None]

    def _observe_listed(self, entry: dict[str, Any]) -> Optional[ObservedVM]:
        try:
            return self._observe(entry["node"], int(entry["vmid"]))
        except errors.NotFoundError:
            return None  # removed while we listed

    def inventory(self) -> list[ObservedVM]:
        """One ``cluster/resources`` call: names, power, CPU, memory, disk total and tags of every VM, no NICs.

        Its statistics come from pvestatd, so a VM made in the last ~10 s may show no name or an old state.
        """
        found = []
        for entry in self.session.get("cluster/resources", type="vm"):
            if entry.get("type") != "qemu" or entry.get("template"):
                continue
            found.append(pve.observed_resource(entry))
        return found

    # create and clone

    def _reserve(self, start: Any) -> tuple[int, str]:
        """Take a VMID from nextid and start the create; a VMID another client took meanwhile means try again."""
        with _RESERVING_GUARD:
            reserving = _RESERVING.setdefault(self.session.endpoint.label, threading.Lock())
        for dummy in range(ID_ATTEMPTS):
            # PVE records the new VMID when it accepts the create or clone, before its task runs: holding the
            # lock until then is enough, and the tasks themselves still run side by side.
            with reserving:
                vmid = int(self.session.get("cluster/nextid"))
                try:
                    return vmid, start(vmid)
                except errors.ConflictError as err:
                    if "already exists" not in err.msg:
                        raise
        raise errors.ConflictError("no free VMID after %d attempts; other clients keep taking them" % ID_ATTEMPTS)

    def create(self, spec: VMSpec) -> tuple[str, TaskRef]:
        existing = self.find(spec.name)
        if existing is not None:
            return existing.id, _DONE
        if spec.image and not images.is_import_volume(spec.image):
            vmid, node = self._create_from_template(spec)
        else:
            vmid, node = self._create_from_scratch(spec)
        return str(self._settle(spec.name, vmid, node)), _DONE

    def _create_from_scratch(self, spec: VMSpec) -> tuple[int, str]:
        node = self._placement_node(spec) or self._least_loaded()
        chosen = storage.storage_choice(spec, self.config.options)[0] or "local-lvm"
        root = pve.disk_value(chosen, storage.root_disk(spec))
        if spec.image:
            # PVE's STORAGE:0 with import-from: a new disk holding the file's bytes, of the file's virtual size.
            root = "%s:0,import-from=%s" % (chosen, spec.image) + (",ssd=1" if spec.disk_type == "ssd" else "")

        def start(vmid: int) -> str:
            values = self._hardware(spec, vmid, chosen, {})
            values.update(vmid=vmid, name=spec.name, ostype="l26", scsihw="virtio-scsi-pci", scsi0=root,
                          bios="ovmf" if spec.firmware == "uefi" else "seabios")
            if spec.secure_boot:
                values["efidisk0"] = pve.efi_disk(chosen)
            return cast(str, self.session.post("nodes/%s/qemu" % node, **values))

        vmid, upid = self._reserve(start)
        self._wait(upid, "create")
        return vmid, node

    def _create_from_template(self, spec: VMSpec) -> tuple[int, str]:
        template = self._template(spec.image or "")
        source_node = template["node"]
        node = self._placement_node(spec) or self._least_loaded()
        chosen = storage.storage_choice(spec, self.config.options)[0]

        def start(vmid: int) -> str:
            params: dict[str, Any] = {"newid": vmid, "name": spec.name, "full": True, "storage": chosen}
            return self._clone_to(source_node, int(template["vmid"]), node, params)

        vmid, upid = self._reserve(start)
        self._wait(upid, "create")
        node = self._node_of(vmid) or node
        try:
            config = self.session.get(self._path(node, vmid, "config"))
            values = self._hardware(spec, vmid, pve.root_storage(config) or chosen or "local-lvm", config)
            stale = [k for k in config if k.startswith("net") and k[3:].isdigit() and k not in values]
            self._put_config(node, vmid, values, delete=stale)
            root_gib = pve.size_gib(pve.property_string(str(config.get(pve.ROOT_KEY, "")), "file").get("size", ""))
            if spec.root_disk_gib and spec.root_disk_gib > root_gib:
                self._resize(node, vmid, pve.ROOT_KEY, spec.root_disk_gib)
        except errors.VirtrigaudError:
            self._remove_quietly(node, vmid)
            raise
        return vmid, node

    def _hardware(self, spec: VMSpec, vmid: int, disk_storage: str, config: dict[str, Any]) -> dict[str, Any]:
        return vmconfig.hardware(spec, vmid, disk_storage, config, self.config.options, self._warn_once)

    def _settle(self, name: str, vmid: int, node: str) -> int:
        """Make the name unique again after a race: wait out creates that could win it, keep the lowest VMID.

        Only a create with a lower VMID can take the name from this one; one with a higher VMID waits for this
        one instead. Waiting for every create in flight made the members of a VM set wait for each other.
        """
        deadline = Deadline(SETTLE_SECONDS)
        while not deadline.expired:
            busy = [e for e in self.session.get("cluster/resources", type="vm")
                    if e.get("lock") in ("create", "clone") and int(e.get("vmid", 0)) < vmid]
            if not busy:
                break
            time.sleep(deadline.cap(0.2))
        owners = sorted(int(e["vmid"]) for e in self._named(name, templates=False))
        winner = owners[0] if owners else vmid
        if winner != vmid:
            self._remove_quietly(node, vmid)
        return winner

    def _remove_quietly(self, node: str, vmid: int) -> None:
        try:
            self._wait(self.session.delete(self._path(node, vmid), purge=True,
                                           **{"destroy-unreferenced-disks": True}), "cleanup")
        except errors.VirtrigaudError:
            self._warn_once("VM %d on node '%s' was left behind after a failure; remove it by hand" % (vmid, node))

    def clone(self, source_id: str, target_name: str, linked: bool = False) -> tuple[str, TaskRef]:
        node, source = self._where(source_id)
        if self._named(target_name, templates=False):
            raise errors.ConflictError("a VM named '%s' exists already" % target_name)
        status = self.session.get(self._path(node, source, "status", "current"))
        params: dict[str, Any] = {"name": target_name, "full": not linked}
        if linked and not status.get("template"):
            taken = {s["name"] for s in self.session.get(self._path(node, source, "snapshot"))}
            if LINKED_CLONE_SNAPSHOT not in taken:
                self._wait(self.session.post(self._path(node, source, "snapshot"), snapname=LINKED_CLONE_SNAPSHOT,
                                             description="base of linked clones"), "clone")
            params["snapname"] = LINKED_CLONE_SNAPSHOT

        target = node if linked else self._least_loaded()

        def start(vmid: int) -> str:
            return self._clone_to(node, source, target, dict(params, newid=vmid))

        vmid, upid = self._reserve(start)
        self._wait(upid, "clone")
        return str(self._settle(target_name, vmid, self._node_of(vmid) or target)), _DONE

    # lifecycle

    def delete(self, vm_id: str, delete_disks: bool = True) -> TaskRef:
        vmid = self._vmid(vm_id)
        node = self._node_of(vmid) if vmid else None
        if node is None or vmid is None:
            return _DONE
        if not delete_disks:
            raise errors.UnsupportedError("Proxmox VE removes a VM's disks with it; there is no way to keep them",
                                          option="delete_disks")
        status = self.session.get(self._path(node, vmid, "status", "current"))
        if status.get("status") == "running":
            raise errors.PreconditionError("VM %d is running; stop it before deleting it" % vmid)
        try:
            self._wait(self.session.delete(self._path(node, vmid), purge=True,
                                           **{"destroy-unreferenced-disks": True}), "delete")
        except errors.NotFoundError:
            return _DONE
        cloudinit.remove_snippets(self.config.options.get("snippets_dir"), vmid)
        return _DONE

    def power(self, vm_id: str, op: PowerOp, graceful_timeout: int = 60) -> TaskRef:
        node, vmid = self._where(vm_id)
        running = self.session.get(self._path(node, vmid, "status", "current")).get("status") == "running"
        action = {
            (PowerOp.ON, False): "start", (PowerOp.OFF, True): "stop", (PowerOp.REBOOT, True): "reboot",
            (PowerOp.REBOOT, False): "start", (PowerOp.SHUTDOWN_GRACEFUL, True): "shutdown",
        }.get((op, running))
        if action is None:
            return _DONE
        params = {"timeout": graceful_timeout} if action == "shutdown" else {}
        try:
            self._wait(self.session.post(self._path(node, vmid, "status", action), **params), action)
        except errors.VirtrigaudError as err:
            if action == "start" and "already running" in err.msg:
                return _DONE
            if action == "shutdown" and "got timeout" in err.msg:
                raise errors.DeadlineExceededError("the guest did not shut down within %d s" % graceful_timeout
                                                   ) from None
            raise
        return _DONE

    def reconfigure(self, vm_id: str, change: Reconfiguration) -> TaskRef:
        node, vmid = self._where(vm_id)
        for attempt in range(DIGEST_ATTEMPTS):
            config = self.session.get(self._path(node, vmid, "config"))
            values, delete = vmconfig.changes(config, change, self.config.options.get("bridge"))
            try:
                if values or delete:
                    self._put_config(node, vmid, values, delete, digest=config.get("digest"), live=change.live)
                break
            except errors.ConflictError as err:
                if "checksum mismatch" not in err.msg or attempt == DIGEST_ATTEMPTS - 1:
                    raise
        record = pve.read_record(config.get("description"))
        keys = {name: key for key, name in dict(record.get("disks") or {}, **{pve.ROOT_KEY: "root"}).items()}
        for name, size in sorted(change.disk_sizes_gib.items()):
            self._resize(node, vmid, keys.get(name, name), size)
        return _DONE

    def _put_config(self, node: str, vmid: int, values: dict[str, Any], delete: Optional[list[str]] = None,
                    digest: Optional[str] = None, live: bool = False) -> None:
        vmconfig.put(self.session, self._path(node, vmid), values, delete, digest, live)

    def _resize(self, node: str, vmid: int, disk: str, size_gib: int) -> None:
        storage.resize(self.session, self._path(node, vmid), disk, size_gib, self._deadline())

    def task_status(self, task: TaskRef) -> TaskStatus:
        if not task.id:
            return TaskStatus(done=True)
        try:
            status = self.session.task(task.id)
        except errors.SpecError:
            return TaskStatus(done=True, error="no such task: %s" % task.id)
        if status.get("status") != "stopped":
            return TaskStatus(done=False)
        return TaskStatus(done=True, error=task_failure(status) or "")

    # snapshots

    def snapshot_list(self, vm_id: str) -> list[Snapshot]:
        node, vmid = self._where(vm_id)
        return snapshots.listing(self.session.get(self._path(node, vmid, "snapshot")))

    def snapshot_create(self, vm_id: str, name: str, description: str = "",
                        include_memory: bool = False) -> tuple[str, TaskRef]:
        node, vmid = self._where(vm_id)
        self._wait(self.session.post(self._path(node, vmid, "snapshot"), snapname=name, description=description,
                                     vmstate=include_memory), "snapshot_create")
        return name, _DONE

    def snapshot_delete(self, vm_id: str, snapshot_id: str) -> TaskRef:
        node, vmid = self._where(vm_id)
        if any(s.id == snapshot_id for s in self.snapshot_list(vm_id)):
            self._wait(self.session.delete(self._path(node, vmid, "snapshot", snapshot_id)), "snapshot_delete")
        return _DONE

    def snapshot_revert(self, vm_id: str, snapshot_id: str) -> TaskRef:
        node, vmid = self._where(vm_id)
        self._wait(self.session.post(self._path(node, vmid, "snapshot", snapshot_id, "rollback")), "snapshot_revert")
        return _DONE
