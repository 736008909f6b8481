# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state of a fake PVE cluster: nodes, storages, volumes and VM configs with pending and snapshot sections.

Configs are kept as PVE keeps them, as strings per key, so the digest, the
pending section and the types GET config returns behave like the real files.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from .api import PROPERTY_STRINGS, ParamError, drive_keys, parse_property_string, print_property_string
from .tasks import PveError, TaskRunner

GIB = 1024 ** 3
EFI_VARS_BYTES = 4 * 1024 ** 2
INTEGER_KEYS = {"cores", "sockets", "vcpus", "balloon", "numa", "onboot", "protection", "template"}
FAST_PLUG = {"name", "description", "tags", "onboot", "protection", "ciuser", "cipassword", "sshkeys", "cicustom",
             "nameserver", "searchdomain", "citype", "lock"}
DISK_PREFIXES = ("scsi", "virtio", "sata", "ide", "efidisk", "tpmstate")
DEFAULT_HOTPLUG = "network,disk,usb"
_NEW_DISK = re.compile(r"^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$", re.I)
_SIZE = re.compile(r"^(\+?)(\d+(?:\.\d+)?)([KMGT]?)$")
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": GIB, "T": 1024 ** 4}


def is_disk(key: str) -> bool:
    return key.startswith(DISK_PREFIXES) and key[-1].isdigit() and not key.startswith("unused")


def format_size(size: int) -> str:
    for unit, factor in (("T", 1024 ** 4), ("G", GIB), ("M", 1024 ** 2), ("K", 1024)):
        if size % factor == 0:
            return "%d%s" % (size // factor, unit)
    return str(size)


@dataclass
class Node:
    name: str
    online: bool = True
    maxcpu: int = 16
    maxmem: int = 64 * GIB
    bridges: tuple[str, ...] = ("vmbr0", "vmbr1")


@dataclass
class Storage:
    name: str
    type: str
    content: str
    path: Optional[str] = None
    shared: bool = False
    total: int = 2048 * GIB

    def supports_clone(self, volid: str, snapshot: Optional[str]) -> bool:
        """Linked clones: from base images anywhere, from snapshots only on LVM-thin and RBD."""
        base = "/base-" in volid or ":base-" in volid
        if self.type in ("lvmthin", "rbd"):
            return base or snapshot is not None
        return base


@dataclass
class VM:
    vmid: int
    node: str
    conf: dict[str, str]
    pending: dict[str, str] = field(default_factory=dict)
    pending_delete: set[str] = field(default_factory=set)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: bool = False
    paused: bool = False
    started: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        raw = json.dumps([self.conf, self.pending, sorted(self.pending_delete), self.snapshots], sort_keys=True)
        return hashlib.sha1(raw.encode()).hexdigest()

    @property
    def name(self) -> str:
        return self.conf.get("name", "VM %d" % self.vmid)

    @property
    def template(self) -> bool:
        return self.conf.get("template") == "1"

    def hotplug(self) -> set[str]:
        value = self.conf.get("hotplug", DEFAULT_HOTPLUG)
        return set(DEFAULT_HOTPLUG.split(",")) if value == "1" else set() if value == "0" else set(value.split(","))

    def memory_mib(self, conf: Optional[dict[str, str]] = None) -> int:
        text = (conf or self.conf).get("memory", "512")
        return int(parse_property_string(text, PROPERTY_STRINGS["memory"]).get("current", 512))

    def cpus(self, conf: Optional[dict[str, str]] = None) -> int:
        conf = conf or self.conf
        return int(conf.get("vcpus") or int(conf.get("cores", 1)) * int(conf.get("sockets", 1)))

    def disks(self) -> dict[str, dict[str, Any]]:
        return {key: parse_property_string(value, drive_keys(key))
                for key, value in self.conf.items() if is_disk(key)}

    def check_lock(self, allowed: tuple[str, ...] = ()) -> None:
        lock = self.conf.get("lock")
        if lock and lock not in allowed:
            raise PveError("VM is locked (%s)" % lock)

    def config_path(self) -> str:
        return "nodes/%s/qemu-server/%d.conf" % (self.node, self.vmid)


class Cluster:
    """Everything the API handlers read and change; ``lock`` guards all of it."""

    def __init__(self, nodes: list[str], storage_dir: str, task_seconds: float = 0.3,
                 guest_shutdown_seconds: float = 1.0, agent_seconds: float = 1.0) -> None:
        self.lock = threading.RLock()
        self.nodes = {name: Node(name) for name in nodes}
        self.storages = {
            "local": Storage("local", "dir", "images,iso,vztmpl,backup,snippets,import", path=storage_dir),
            "local-lvm": Storage("local-lvm", "lvmthin", "images,rootdir"),
            "ceph-vm": Storage("ceph-vm", "rbd", "images", shared=True),
        }
        self.volumes: dict[str, dict[str, Any]] = {}
        self.vms: dict[int, VM] = {}
        self.tasks = TaskRunner(self.lock, task_seconds)
        self.guest_shutdown_seconds = guest_shutdown_seconds
        self.agent_seconds = agent_seconds
        self.stubborn_guests: set[int] = set()
        self.mac_random = random.Random()

    # lookups

    def node(self, name: str) -> Node:
        node = self.nodes.get(name)
        if node is None:
            raise PveError("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not "
                           "known" % (name, name))
        return node

    def vm(self, node: str, vmid: int, missing: Optional[str] = None) -> VM:
        found = self.vms.get(vmid)
        if found is None or found.node != node:
            raise PveError(missing % {"vmid": vmid, "node": node} if missing else
                           "Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist" % (node, vmid))
        return found

    def storage(self, name: str) -> Storage:
        found = self.storages.get(name)
        if found is None:
            raise PveError("storage '%s' does not exist" % name)
        return found

    def next_id(self) -> int:
        vmid = 100
        while vmid in self.vms:
            vmid += 1
        return vmid

    # config writing

    def new_mac(self) -> str:
        return "BC:24:11:%02X:%02X:%02X" % tuple(self.mac_random.randrange(256) for dummy in range(3))

    def normalise(self, vm: VM, key: str, value: str) -> str:
        """What PVE stores for a written value: MACs filled in, new volumes allocated, tags sorted."""
        if key.startswith("net") and key[3:].isdigit():
            net = parse_property_string(value, PROPERTY_STRINGS["net"])
            model = net.pop("model", "virtio")
            mac = net.pop("macaddr", None) or self.new_mac()
            return print_property_string(dict({model: mac.upper()}, **net))
        if is_disk(key):
            efi = key.startswith("efidisk")
            drive = parse_property_string(value, drive_keys(key))
            match = _NEW_DISK.match(drive.get("file", ""))
            if drive.get("file", "").endswith(":cloudinit"):
                drive["file"] = self.cloudinit_volume(self.storage(drive["file"].split(":")[0]), vm.vmid)
                drive["media"] = "cdrom"
            elif match and drive.get("import-from"):
                size = self.import_size(drive.pop("import-from"))
                drive["file"] = self.allocate(self.storage(match.group(1)), vm.vmid, size)
                drive["size"] = format_size(size)
            elif match:
                # PVE ignores an EFI vars disk's size: it copies the OVMF vars template, 4 MiB for efitype=4m.
                size = EFI_VARS_BYTES if efi else int(float(match.group(2)) * GIB)
                storage = self.storage(match.group(1))
                drive["file"] = self.allocate(storage, vm.vmid, size)
                drive["size"] = format_size(size)
            return print_property_string(drive, first="file")
        if key == "tags":
            return ";".join(sorted({tag.lower() for tag in re.split(r"[,; ]+", value) if tag}))
        return value

    def allocate(self, storage: Storage, vmid: int, size: int, base: Optional[str] = None) -> str:
        if "images" not in storage.content:
            raise PveError("storage '%s' does not support vm images" % storage.name)
        index = 0
        while True:
            name = "vm-%d-disk-%d" % (vmid, index)
            if not any(volid.endswith(name) or ("/%s." % name) in volid or volid.endswith(name + ".qcow2")
                       for volid in self.volumes if volid.startswith(storage.name + ":")):
                break
            index += 1
        if storage.type == "dir":
            volid = "%s:%s%d/%s.qcow2" % (storage.name, (base.split(":", 1)[1] + "/") if base else "", vmid, name)
        else:
            volid = "%s:%s%s" % (storage.name, (base.split(":", 1)[1] + "/") if base else "", name)
        self.volumes[volid] = {"size": size, "vmid": vmid, "base": base}
        return volid

    def import_size(self, volid: str) -> int:
        """The virtual size of the image a new disk is made from (create_disks' import-from): a disk image of a
        storage's ``import`` content, or a VM's disk; qemu-img reads a file's size when it is there to read."""
        volume = self.volumes.get(volid)
        if volume is None:
            raise PveError("volume '%s' does not exist" % volid)
        path = volume.get("path")
        if path and shutil.which("qemu-img"):
            found = subprocess.run(["qemu-img", "info", "--output=json", path], capture_output=True, check=False)
            if found.returncode != 0:
                raise PveError("could not read '%s': %s" % (volid, found.stderr.decode(errors="replace").strip()))
            return int(json.loads(found.stdout)["virtual-size"])
        return int(volume["size"])

    def cloudinit_volume(self, storage: Storage, vmid: int) -> str:
        volid = ("%s:%d/vm-%d-cloudinit.qcow2" if storage.type == "dir" else "%s:vm-%d-cloudinit") % (
            (storage.name, vmid, vmid) if storage.type == "dir" else (storage.name, vmid))
        self.volumes[volid] = {"size": 4 * 1024 * 1024, "vmid": vmid, "base": None}
        return volid

    def update_config(self, vm: VM, values: dict[str, str], delete: list[str], user: str) -> None:
        """PUT/POST config after its checks: apply now, hot-plug, or leave pending, as PVE does."""
        if not values and not delete:
            raise PveError("no options specified")
        if "lock" in values and user != "root@pam":
            raise PveError("only root can set 'lock' config")
        hot_errors: dict[str, str] = {}
        for key, value in values.items():
            stored = self.normalise(vm, key, value)
            if not vm.running or _applied_at_once(key):
                vm.conf[key] = stored
                vm.pending.pop(key, None)
                continue
            vm.pending[key] = stored
            problem = self._hotplug(vm, key, stored)
            if problem:
                hot_errors[key] = "hotplug problem - %s" % problem
        for key in delete:
            if key not in vm.conf and key not in vm.pending:
                continue
            if not vm.running or _applied_at_once(key) or (_is_net(key) and "network" in vm.hotplug()):
                self._remove_key(vm, key)  # a NIC is hot-unplugged with the network hotplug feature
            else:
                vm.pending_delete.add(key)
        if hot_errors:
            raise ParamError(hot_errors)

    def _hotplug(self, vm: VM, key: str, value: str) -> Optional[str]:
        """Apply one pending value to a running VM when its hotplug feature allows; return a problem text."""
        features = vm.hotplug()
        live = False
        if _is_net(key):
            bridge = parse_property_string(value, PROPERTY_STRINGS["net"]).get("bridge")
            if bridge and bridge not in self.nodes[vm.node].bridges:
                return "bridge '%s' does not exist" % bridge
        if _is_net(key) and "network" in features:
            live = True  # a new NIC is plugged; another model or MAC is an unplug and a plug
        elif is_disk(key) and "disk" in features:
            live = key not in vm.conf
        elif key.startswith("net") and key in vm.conf:
            live = _same_device(vm.conf[key], value, "net")
        elif key == "vcpus" and "cpu" in features:
            maximum = int(vm.conf.get("cores", 1)) * int(vm.conf.get("sockets", 1))
            if int(value) > maximum:
                return "you can't add more vcpus than maxcpus"
            live = True
        elif key == "memory" and "memory" in features:
            if vm.conf.get("numa") != "1":
                return "NUMA needs to be enabled for memory hotplug"
            live = True
        if live:
            vm.conf[key] = vm.pending.pop(key)
        return None

    def _remove_key(self, vm: VM, key: str) -> None:
        value = vm.conf.pop(key, None)
        vm.pending.pop(key, None)
        if value is not None and is_disk(key):
            index = 0
            while "unused%d" % index in vm.conf:
                index += 1
            vm.conf["unused%d" % index] = parse_property_string(value, drive_keys(key))["file"]
        elif key.startswith("unused") and value is not None:
            self.volumes.pop(value, None)

    def apply_pending(self, vm: VM) -> None:
        for key, value in list(vm.pending.items()):
            vm.conf[key] = value
        for key in vm.pending_delete:
            self._remove_key(vm, key)
        vm.pending.clear()
        vm.pending_delete.clear()

    def merged_config(self, vm: VM, current: bool = False) -> dict[str, Any]:
        conf = dict(vm.conf)
        if not current:
            conf.update(vm.pending)
            for key in vm.pending_delete:
                conf.pop(key, None)
        return conf

    # power

    def power_on(self, vm: VM) -> None:
        for key, value in vm.conf.items():
            if key.startswith("net") and key[3:].isdigit():
                bridge = parse_property_string(value, PROPERTY_STRINGS["net"]).get("bridge")
                if bridge and bridge not in self.nodes[vm.node].bridges:
                    raise PveError("bridge '%s' does not exist" % bridge)
        for volume in re.findall(r"=([^,]+)", vm.conf.get("cicustom", "")):
            if not self.snippet_exists(volume):
                raise PveError("volume '%s' does not exist" % volume)
        self.apply_pending(vm)
        vm.running, vm.paused, vm.started = True, False, time.time()

    def power_off(self, vm: VM) -> None:
        vm.running = vm.paused = False
        self.apply_pending(vm)

    def snippet_exists(self, volume: str) -> bool:
        storage_name, dummy, path = volume.partition(":")
        storage = self.storages.get(storage_name)
        if storage is None or storage.path is None or "snippets" not in storage.content:
            return False
        return os.path.isfile(os.path.join(storage.path, path))

    def agent_ready(self, vm: VM) -> bool:
        return vm.running and time.time() - vm.started >= self.agent_seconds

    # copies

    def fresh_identity(self, conf: dict[str, str]) -> None:
        conf["smbios1"] = "uuid=%s" % uuid.uuid4()
        conf["vmgenid"] = str(uuid.uuid4())
        conf["meta"] = "creation-qemu=8.1.5,ctime=%d" % int(time.time())

    def broadcast_stats(self) -> None:
        """What pvestatd does every 10 s: the status and names cluster/resources shows."""
        with self.lock:
            for vm in self.vms.values():
                if not self.nodes[vm.node].online:
                    continue
                vm.stats = {
                    "status": "running" if vm.running else "stopped",
                    "name": vm.name,
                    "template": 1 if vm.template else 0,
                    "maxmem": vm.memory_mib() * 1024 * 1024,
                    "mem": vm.memory_mib() * 1024 * 1024 // 3 if vm.running else 0,
                    "maxcpu": vm.cpus(),
                    "cpu": 0.01 if vm.running else 0,
                    "maxdisk": sum(_size(d.get("size", "0")) for d in vm.disks().values()),
                    "disk": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
                    "uptime": int(time.time() - vm.started) if vm.running else 0,
                }


def _size(text: str) -> int:
    match = _SIZE.match(text)
    return int(float(match.group(2)) * _UNITS[match.group(3)]) if match else 0


def parse_size(text: str) -> tuple[bool, int]:
    """(relative, bytes) from resize's ``+2G`` or ``10G``."""
    match = _SIZE.match(text)
    if not match:
        raise PveError("unable to parse size '%s'" % text)
    return bool(match.group(1)), int(float(match.group(2)) * _UNITS[match.group(3)])


def _is_net(key: str) -> bool:
    return key.startswith("net") and key[3:].isdigit()


def _applied_at_once(key: str) -> bool:
    """Options PVE writes to the config even while the VM runs: the fast-plug ones and every cloud-init key."""
    return key in FAST_PLUG or key.startswith("ipconfig")


def _same_device(old: str, new: str, kind: str) -> bool:
    """A NIC change that only touches options PVE applies live (bridge, tag, rate, link_down)."""
    before = parse_property_string(old, PROPERTY_STRINGS[kind])
    after = parse_property_string(new, PROPERTY_STRINGS[kind])
    return before.get("model") == after.get("model") and before.get("macaddr") == after.get("macaddr")
