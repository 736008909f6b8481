# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One function per API route, each with PVE's checks on the side PVE makes them.

Checks PVE makes before forking a worker raise :class:`PveError` (HTTP 500, no
UPID); checks made inside the worker go into the task's work and end the task
with an error exit status.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Callable

from .api import (
    CONFIG,
    PROPERTY_STRINGS,
    ParamError,
    declared,
    drive_keys,
    parse_property_string,
    print_property_string,
)
from .model import GIB, INTEGER_KEYS, VM, Cluster, format_size, is_disk, parse_size
from .tasks import PveError, Task, TaskWarning

Params = dict[str, Any]
HANDLERS: dict[str, Callable[..., Any]] = {}
RESERVED_SNAPSHOTS = ("current", "pending")
NO_CONFIG_FILE = "unable to find configuration file for VM %(vmid)d on node '%(node)s'"
VERSION = {"version": "8.4.1", "release": "8.4", "repoid": "2a5fa54a8503f96d"}


def handler(function: Callable[..., Any]) -> Callable[..., Any]:
    HANDLERS[function.__name__] = function
    return function


def _split(value: str) -> list[str]:
    return [item for item in re.split(r"[,; ]+", value or "") if item]


# cluster and nodes

@handler
def version(cluster: Cluster, params: Params, user: str) -> Any:
    return dict(VERSION)


@handler
def nodes(cluster: Cluster, params: Params, user: str) -> Any:
    listing = []
    for node in cluster.nodes.values():
        used = sum(vm.memory_mib() * 1024 * 1024 for vm in cluster.vms.values() if vm.node == node.name and vm.running)
        entry = {"node": node.name, "id": "node/" + node.name, "type": "node",
                 "status": "online" if node.online else "offline", "level": ""}
        if node.online:
            entry.update(maxcpu=node.maxcpu, cpu=0.02, maxmem=node.maxmem, mem=2 * GIB + used, uptime=86400,
                         ssl_fingerprint="00:" * 31 + "00")
        listing.append(entry)
    return listing


@handler
def node_status(cluster: Cluster, params: Params, user: str) -> Any:
    node = cluster.node(params["node"])
    return {"uptime": 86400, "cpuinfo": {"cpus": node.maxcpu}, "memory": {"total": node.maxmem},
            "pveversion": "pve-manager/%s" % VERSION["version"]}


@handler
def cluster_resources(cluster: Cluster, params: Params, user: str) -> Any:
    kind = params.get("type")
    entries: list[dict[str, Any]] = []
    if kind in (None, "node"):
        entries += [dict(n, id="node/" + n["node"]) for n in nodes(cluster, {}, user)]
    if kind in (None, "storage"):
        for node in cluster.nodes.values():
            for storage in cluster.storages.values():
                entries.append({"id": "storage/%s/%s" % (node.name, storage.name), "type": "storage",
                                "node": node.name, "storage": storage.name, "plugintype": storage.type,
                                "content": storage.content, "status": "available" if node.online else "unknown",
                                "maxdisk": storage.total, "disk": 0, "shared": 1 if storage.shared else 0})
    if kind in (None, "vm"):
        for vm in sorted(cluster.vms.values(), key=lambda v: v.vmid):
            entry = {"id": "qemu/%d" % vm.vmid, "vmid": vm.vmid, "node": vm.node, "type": "qemu"}
            entry.update(vm.stats or {"status": "unknown"})
            if vm.conf.get("lock"):
                entry["lock"] = vm.conf["lock"]
            if vm.conf.get("tags"):
                entry["tags"] = vm.conf["tags"]
            entries.append(entry)
    return entries


@handler
def nextid(cluster: Cluster, params: Params, user: str) -> Any:
    if "vmid" in params:
        if params["vmid"] in cluster.vms:
            raise ParamError({"vmid": "VM %d already exists" % params["vmid"]})
        return str(params["vmid"])
    return str(cluster.next_id())


@handler
def cluster_tasks(cluster: Cluster, params: Params, user: str) -> Any:
    entries = []
    for task in cluster.tasks.tasks.values():
        entry = task.list_entry()
        entry["saved"] = "0" if task.running else "1"
        if task.running:
            entry.pop("status", None)
        entries.append(entry)
    return entries


@handler
def storage_list(cluster: Cluster, params: Params, user: str) -> Any:
    cluster.node(params["node"])
    wanted = set(_split(params.get("content", "")))
    listing = []
    for storage in cluster.storages.values():
        if wanted and not wanted & set(storage.content.split(",")):
            continue
        if params.get("storage") and params["storage"] != storage.name:
            continue
        used = sum(v["size"] for volid, v in cluster.volumes.items() if volid.startswith(storage.name + ":"))
        listing.append({"storage": storage.name, "type": storage.type, "content": storage.content, "active": 1,
                        "enabled": 1, "shared": 1 if storage.shared else 0, "total": storage.total, "used": used,
                        "avail": storage.total - used})
    return listing


# VM listing and status

def _vmstatus(cluster: Cluster, vm: VM) -> dict[str, Any]:
    data: dict[str, Any] = {
        "vmid": vm.vmid, "name": vm.name, "status": "running" if vm.running else "stopped",
        "cpus": vm.cpus(), "maxmem": vm.memory_mib() * 1024 * 1024,
        "mem": vm.memory_mib() * 1024 * 1024 // 3 if vm.running else 0,
        "maxdisk": sum(parse_size(d.get("size", "0"))[1] for d in vm.disks().values()),
        "disk": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
        "uptime": int(time.time() - vm.started) if vm.running else 0,
    }
    if vm.running:
        data["pid"] = 4000 + vm.vmid
    for key in ("lock", "tags"):
        if vm.conf.get(key):
            data[key] = vm.conf[key]
    if vm.template:
        data["template"] = 1
    return data


@handler
def qemu_list(cluster: Cluster, params: Params, user: str) -> Any:
    cluster.node(params["node"])
    return [_vmstatus(cluster, vm) for vm in cluster.vms.values() if vm.node == params["node"]]


@handler
def status_current(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    data = _vmstatus(cluster, vm)
    data["ha"] = {"managed": 0}
    data["qmpstatus"] = "paused" if vm.paused else data["status"]
    if _agent_enabled(vm):
        data["agent"] = 1
    return data


def _agent_enabled(vm: VM) -> bool:
    return "agent" in vm.conf and bool(parse_property_string(vm.conf["agent"], PROPERTY_STRINGS["agent"]).get(
        "enabled"))


# config

def _typed(conf: dict[str, Any]) -> dict[str, Any]:
    typed = {k: (int(v) if k in INTEGER_KEYS else v) for k, v in conf.items()}
    if "cipassword" in typed:
        typed["cipassword"] = "**********"
    return typed


@handler
def config_get(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    if params.get("snapshot"):
        snapshot = vm.snapshots.get(params["snapshot"])
        if snapshot is None:
            raise PveError("snapshot '%s' does not exist" % params["snapshot"])
        return dict(_typed(snapshot["conf"]), digest=vm.digest)
    data = _typed(cluster.merged_config(vm, bool(params.get("current"))))
    data["digest"] = vm.digest
    return data


@handler
def pending(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    keys = sorted(set(vm.conf) | set(vm.pending) | vm.pending_delete)
    entries = [{"key": "digest", "value": vm.digest}]
    for key in keys:
        entry: dict[str, Any] = {"key": key}
        if key in vm.conf:
            entry["value"] = _typed({key: vm.conf[key]})[key]
        if key in vm.pending:
            entry["pending"] = _typed({key: vm.pending[key]})[key]
        if key in vm.pending_delete:
            entry["delete"] = 1
        entries.append(entry)
    return entries


def _config_values(params: Params) -> tuple[dict[str, str], list[str]]:
    skip = {"node", "vmid", "digest", "delete", "revert", "skiplock", "background_delay"}
    values = {k: ("1" if v is True else "0" if v is False else str(v)) for k, v in params.items() if k not in skip}
    delete = _split(params.get("delete", ""))
    both = [key for key in delete if key in values]
    if both:
        raise ParamError({"delete": "cannot set and delete '%s' at the same time" % both[0]})
    for key in delete:
        if declared(key, CONFIG) is None and not key.startswith("unused") and key != "lock":
            raise ParamError({"delete": "unknown option '%s'" % key})
    return values, delete


def _update(cluster: Cluster, params: Params, user: str) -> VM:
    vm = cluster.vm(params["node"], params["vmid"])
    values, delete = _config_values(params)
    if params.get("skiplock") and user != "root@pam":
        raise ParamError({"skiplock": "Only root may use this option."})
    if params.get("digest") and params["digest"] != vm.digest:
        raise PveError("checksum mismatch (file change by other user?)")
    if not params.get("skiplock"):
        vm.check_lock()
    for key in _split(params.get("revert", "")):
        vm.pending.pop(key, None)
        vm.pending_delete.discard(key)
    if params.get("revert") and not values and not delete:
        return vm
    cluster.update_config(vm, values, delete, user)
    return vm


@handler
def config_put(cluster: Cluster, params: Params, user: str) -> Any:
    _update(cluster, params, user)
    return None


@handler
def config_post(cluster: Cluster, params: Params, user: str) -> Any:
    vm = _update(cluster, params, user)
    return cluster.tasks.start(vm.node, "qmconfig", vm.vmid, user, lambda task: None)


# create, clone, template, destroy

@handler
def qemu_create(cluster: Cluster, params: Params, user: str) -> Any:
    node, vmid = params["node"], params["vmid"]
    cluster.node(node)
    if vmid in cluster.vms:
        owner = cluster.vms[vmid].node
        raise PveError("unable to create VM %d - VM %d already exists on node '%s'" % (vmid, vmid, owner))
    values, dummy = _config_values({k: v for k, v in params.items() if k not in ("start", "pool")})
    for key, value in values.items():
        if is_disk(key):
            target = parse_property_string(value, drive_keys(key)).get("file", "")
            if ":" in target:
                cluster.storage(target.split(":", 1)[0])
    vm = VM(vmid=vmid, node=node, conf={"lock": "create"})
    cluster.vms[vmid] = vm

    def work(task: Task) -> None:
        try:
            conf: dict[str, str] = {}
            for key, value in values.items():
                conf[key] = cluster.normalise(vm, key, value)
            disks = [k for k in conf if is_disk(k)]
            nets = sorted(k for k in conf if k.startswith("net"))
            conf.setdefault("boot", "order=" + ";".join(disks[:1] + nets[:1]) if disks or nets else "order=")
            cluster.fresh_identity(conf)
            vm.conf = conf
        except PveError:
            cluster.vms.pop(vmid, None)
            raise
        if params.get("start"):
            task.log.append("Execute autostart")
            vm_start(cluster, {"node": node, "vmid": vmid}, user)

    # PVE removes the config and the disks of a create that failed.
    return cluster.tasks.start(node, "qmcreate", vmid, user, work, undo=lambda: _forget(cluster, vmid))


def _forget(cluster: Cluster, vmid: int) -> None:
    cluster.vms.pop(vmid, None)
    for volid in [v for v, volume in cluster.volumes.items() if volume.get("vmid") == vmid]:
        del cluster.volumes[volid]


@handler
def vm_clone(cluster: Cluster, params: Params, user: str) -> Any:
    source = cluster.vm(params["node"], params["vmid"])
    source.check_lock()
    newid, target = params["newid"], params.get("target") or source.node
    cluster.node(target)
    full = params.get("full", not source.template)
    if params.get("storage") and not full:
        raise PveError("parameter 'storage' not allowed for linked clones")
    snapname = params.get("snapname")
    if snapname and snapname not in source.snapshots:
        raise PveError("snapshot '%s' does not exist" % snapname)
    conf = dict(source.snapshots[snapname]["conf"] if snapname else source.conf)
    for key, value in conf.items():
        if is_disk(key) and "media=cdrom" not in value and ":" in value:
            volid = parse_property_string(value, drive_keys(key))["file"]
            storage = cluster.storage(volid.split(":", 1)[0])
            if not full and not storage.supports_clone(volid, snapname):
                raise PveError("Linked clone feature is not supported for '%s' (%s)" % (volid, key))
            if target != source.node and not storage.shared and not params.get("storage"):
                raise PveError("can't clone VM to node '%s' (VM uses local storage)" % target)
    if newid in cluster.vms:
        raise PveError("unable to create VM %d: config file already exists" % newid)
    clone = VM(vmid=newid, node=target, conf={"lock": "clone"})
    cluster.vms[newid] = clone

    def work(task: Task) -> None:
        copy = {k: v for k, v in conf.items()
                if k not in ("template", "lock", "parent", "snaptime", "vmstate", "digest")
                and not k.startswith("unused")}
        copy["name"] = params.get("name") or "Copy-of-VM-%s" % source.name
        if params.get("description") is not None:
            copy["description"] = params["description"]
        for key, value in list(copy.items()):
            if key.startswith("net") and key[3:].isdigit():
                net = parse_property_string(value, PROPERTY_STRINGS["net"])
                net.pop("macaddr", None)
                copy[key] = cluster.normalise(clone, key, print_property_string(net, first="model"))
            elif is_disk(key) and "cloudinit" in value:
                drive = parse_property_string(value, drive_keys(key))
                drive["file"] = cluster.cloudinit_volume(cluster.storage(drive["file"].split(":")[0]), newid)
                copy[key] = print_property_string(drive, first="file")
            elif is_disk(key) and "media=cdrom" not in value:
                drive = parse_property_string(value, drive_keys(key))
                volid, size = drive["file"], cluster.volumes.get(drive["file"], {}).get("size", 0)
                storage = cluster.storage(params.get("storage") or volid.split(":", 1)[0])
                base = volid if not full and ("/base-" in volid or ":base-" in volid) else None
                drive["file"] = cluster.allocate(storage, newid, size, base=base)
                copy[key] = print_property_string(drive, first="file")
        cluster.fresh_identity(copy)
        clone.conf = copy

    def failed_cleanup(task: Task) -> None:
        try:
            work(task)
        except PveError:
            cluster.vms.pop(newid, None)
            raise

    return cluster.tasks.start(source.node, "qmclone", source.vmid, user, failed_cleanup)


@handler
def vm_template(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    vm.check_lock()
    if vm.snapshots:
        raise PveError("unable to create template, because VM contains snapshots")
    if vm.template:
        raise PveError("you can't convert a template to a template")
    if vm.running:
        raise PveError("you can't convert a VM to template if VM is running")

    def work(task: Task) -> None:
        for key, value in list(vm.conf.items()):
            if is_disk(key) and "media=cdrom" not in value:
                drive = parse_property_string(value, drive_keys(key))
                old = drive["file"]
                new = old.replace("vm-%d-disk" % vm.vmid, "base-%d-disk" % vm.vmid)
                cluster.volumes[new] = cluster.volumes.pop(old, {"size": 0, "vmid": vm.vmid, "base": None})
                drive["file"] = new
                vm.conf[key] = print_property_string(drive, first="file")
        vm.conf["template"] = "1"

    return cluster.tasks.start(vm.node, "qmtemplate", vm.vmid, user, work)


@handler
def qemu_destroy(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    if vm.conf.get("protection") == "1":
        raise PveError("can't remove VM %d - protection mode enabled" % vm.vmid)
    if vm.running:
        raise PveError("VM %d is running - destroy failed" % vm.vmid)

    held = vm.conf.get("lock")
    if not held:
        vm.conf["lock"] = "destroyed"

    def work(task: Task) -> None:
        if held and held != "suspended":
            raise PveError("VM is locked (%s)" % held)
        owned = [parse_property_string(v, drive_keys(k))["file"] for k, v in vm.conf.items()
                 if is_disk(k) and ("media=cdrom" not in v or "cloudinit" in v)]
        owned += [v for k, v in vm.conf.items() if k.startswith("unused")]
        for volid in owned:
            if any(info.get("base") == volid for info in cluster.volumes.values()):
                if not held:
                    vm.conf.pop("lock", None)
                raise PveError("base volume '%s' is still in use by linked cloned" % volid)
        for volid in owned:
            cluster.volumes.pop(volid, None)
        if params.get("destroy-unreferenced-disks"):
            for volid in [v for v, info in cluster.volumes.items() if info["vmid"] == vm.vmid]:
                cluster.volumes.pop(volid)
        cluster.vms.pop(vm.vmid, None)

    return cluster.tasks.start(vm.node, "qmdestroy", vm.vmid, user, work)


# power

def _power_task(cluster: Cluster, params: Params, user: str, kind: str, work: Callable[[VM, Task], None],
                missing: str) -> str:
    node, vmid = params["node"], params["vmid"]
    cluster.node(node)
    at_fork = cluster.vms.get(vmid)

    def run(task: Task) -> None:
        vm = cluster.vm(node, vmid, missing=missing)
        if at_fork is not None and vm is not at_fork:
            raise PveError(missing % {"vmid": vmid, "node": node})
        work(vm, task)

    return cluster.tasks.start(node, kind, vmid, user, run)


@handler
def vm_start(cluster: Cluster, params: Params, user: str) -> Any:
    def work(vm: VM, task: Task) -> None:
        if not params.get("skiplock"):
            vm.check_lock(allowed=("suspended",))
        if vm.template:
            raise PveError("you can't start a vm if it's a template")
        if vm.running:
            raise PveError("VM %d already running" % vm.vmid)
        cluster.power_on(vm)

    return _power_task(cluster, params, user, "qmstart", work,
                       "Configuration file 'nodes/%(node)s/qemu-server/%(vmid)d.conf' does not exist")


@handler
def vm_stop(cluster: Cluster, params: Params, user: str) -> Any:
    def work(vm: VM, task: Task) -> None:
        if vm.running:
            if not params.get("skiplock"):
                vm.check_lock()
            cluster.power_off(vm)

    return _power_task(cluster, params, user, "qmstop", work, NO_CONFIG_FILE)


@handler
def vm_shutdown(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"], missing=NO_CONFIG_FILE)
    if vm.paused and not params.get("forceStop"):
        raise PveError("VM is paused - cannot shutdown")
    timeout = params.get("timeout", 60)
    needed = float("inf") if vm.vmid in cluster.stubborn_guests else cluster.guest_shutdown_seconds

    def work(task: Task) -> None:
        if not vm.running:
            return
        if not params.get("skiplock"):
            vm.check_lock()
        if needed > timeout:
            if params.get("forceStop"):
                cluster.power_off(vm)
                raise TaskWarning("VM still running - terminating now with SIGTERM")
            raise PveError("VM quit/powerdown failed - got timeout")
        cluster.power_off(vm)

    seconds = min(needed, float(timeout)) if vm.running else None
    return cluster.tasks.start(vm.node, "qmshutdown", vm.vmid, user, work, seconds=seconds)


def _running_vm(cluster: Cluster, params: Params) -> VM:
    vm = cluster.vm(params["node"], params["vmid"], missing=NO_CONFIG_FILE)
    if not vm.running:
        raise PveError("VM %d not running" % vm.vmid)
    return vm


@handler
def vm_reboot(cluster: Cluster, params: Params, user: str) -> Any:
    vm = _running_vm(cluster, params)
    if vm.paused:
        raise PveError("VM is paused - cannot shutdown")

    def work(task: Task) -> None:
        vm.check_lock()
        cluster.power_off(vm)
        cluster.power_on(vm)

    return cluster.tasks.start(vm.node, "qmreboot", vm.vmid, user, work)


@handler
def vm_reset(cluster: Cluster, params: Params, user: str) -> Any:
    vm = _running_vm(cluster, params)

    def work(task: Task) -> None:
        vm.check_lock()
        vm.started = time.time()

    return cluster.tasks.start(vm.node, "qmreset", vm.vmid, user, work)


@handler
def vm_suspend(cluster: Cluster, params: Params, user: str) -> Any:
    vm = _running_vm(cluster, params)

    def work(task: Task) -> None:
        vm.check_lock()
        vm.paused = True

    return cluster.tasks.start(vm.node, "qmpause", vm.vmid, user, work)


@handler
def vm_resume(cluster: Cluster, params: Params, user: str) -> Any:
    vm = _running_vm(cluster, params)

    def work(task: Task) -> None:
        vm.paused = False

    return cluster.tasks.start(vm.node, "qmresume", vm.vmid, user, work)


# disks

@handler
def vm_resize(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    relative, size = parse_size(params["size"])

    def work(task: Task) -> None:
        if params.get("digest") and params["digest"] != vm.digest:
            raise PveError("checksum mismatch (file change by other user?)")
        if not params.get("skiplock"):
            vm.check_lock()
        value = vm.conf.get(params["disk"])
        if value is None:
            raise PveError("disk '%s' does not exist" % params["disk"])
        drive = parse_property_string(value, drive_keys(params["disk"]))
        current = parse_size(drive.get("size", "0"))[1]
        new = current + size if relative else size
        if new < current:
            raise PveError("shrinking disks is not supported")
        drive["size"] = format_size(new)
        if drive["file"] in cluster.volumes:
            cluster.volumes[drive["file"]]["size"] = new
        vm.conf[params["disk"]] = print_property_string(drive, first="file")

    return cluster.tasks.start(vm.node, "resize", vm.vmid, user, work)


# migration

ROOT_ONLY_MIGRATE = ("force", "migration_type", "migration_network")


def _local_disks(cluster: Cluster, vm: VM) -> list[str]:
    """The VM's volumes on storage the target node does not share (cloud-init drives included)."""
    volids = [drive["file"] for drive in vm.disks().values() if ":" in drive.get("file", "")]
    return [volid for volid in volids if not cluster.storage(volid.split(":", 1)[0]).shared]


@handler
def vm_migrate(cluster: Cluster, params: Params, user: str) -> Any:
    node, target = params["node"], params["target"]
    if target == node:
        raise ParamError({"target": "target is local node."})
    if target not in cluster.nodes:
        raise PveError("no such cluster node '%s'" % target)
    refused = {key: "Only root may use this option." for key in ROOT_ONLY_MIGRATE
               if params.get(key) and user != "root@pam"}
    if refused:
        raise ParamError(refused)
    vm = cluster.vm(node, params["vmid"])
    vm.check_lock()
    online = bool(params.get("online"))
    if vm.running and not online:
        raise PveError("can't migrate running VM without --online")
    if params.get("targetstorage"):
        for pair in _split(params["targetstorage"]):
            name = pair.split(":")[-1]
            if name != "1":
                cluster.storage(name)
    live = vm.running

    def work(task: Task) -> None:
        vm.conf["lock"] = "migrate"
        try:
            task.log.append("starting migration of VM %d to node '%s'" % (vm.vmid, target))
            if not cluster.nodes[target].online:
                raise PveError("migration problems: Can't connect to destination address using public key")
            local = _local_disks(cluster, vm)
            if live and local and not params.get("with-local-disks"):
                raise PveError("can't live migrate attached local disks without with-local-disks option")
            for volid in local:
                task.log.append("copying local disk '%s' to node '%s'" % (volid, target))
            vm.node = target
            task.log.append("migration finished successfully")
        finally:
            vm.conf.pop("lock", None)

    return cluster.tasks.start(node, "qmigrate", vm.vmid, user, work)


# snapshots

@handler
def snapshot_list(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    entries = []
    for name, snap in vm.snapshots.items():
        entry = {"name": name, "snaptime": snap["snaptime"], "vmstate": 1 if snap["vmstate"] else 0,
                 "description": snap["description"]}
        if snap.get("parent"):
            entry["parent"] = snap["parent"]
        entries.append(entry)
    current = {"name": "current", "description": "You are here!", "running": 1 if vm.running else 0,
               "digest": vm.digest}
    if vm.conf.get("parent"):
        current["parent"] = vm.conf["parent"]
    return entries[::-1] + [current]


@handler
def snapshot_create(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    name = params["snapname"]
    if name.lower() in RESERVED_SNAPSHOTS:
        raise PveError("unable to use snapshot name '%s' (reserved name)" % name)

    def work(task: Task) -> None:
        vm.check_lock()
        if vm.template:
            raise PveError("you can't take a snapshot if it's a template")
        if name in vm.snapshots:
            raise PveError("snapshot name '%s' already used" % name)
        vm.snapshots[name] = {"conf": dict(vm.conf), "snaptime": int(time.time()),
                              "vmstate": bool(params.get("vmstate")) and vm.running,
                              "description": params.get("description", ""), "parent": vm.conf.get("parent"),
                              "running": vm.running}
        vm.conf["parent"] = name

    return cluster.tasks.start(vm.node, "qmsnapshot", vm.vmid, user, work)


@handler
def snapshot_delete(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    name = params["snapname"]

    def work(task: Task) -> None:
        vm.check_lock()
        snap = vm.snapshots.get(name)
        if snap is None:
            raise PveError("snapshot '%s' does not exist" % name)
        for other in vm.snapshots.values():
            if other.get("parent") == name:
                other["parent"] = snap.get("parent")
        if vm.conf.get("parent") == name:
            if snap.get("parent"):
                vm.conf["parent"] = snap["parent"]
            else:
                vm.conf.pop("parent")
        del vm.snapshots[name]

    return cluster.tasks.start(vm.node, "qmdelsnapshot", vm.vmid, user, work)


@handler
def snapshot_rollback(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    name = params["snapname"]

    def work(task: Task) -> None:
        snap = vm.snapshots.get(name)
        if snap is None:
            raise PveError("snapshot '%s' does not exist" % name)
        vm.check_lock()
        if vm.template:
            raise PveError("you can't rollback if vm is a template")
        if vm.running:
            vm.running = False
        vm.conf = dict(snap["conf"], parent=name)
        vm.pending.clear()
        vm.pending_delete.clear()
        if snap["vmstate"] or params.get("start"):
            cluster.power_on(vm)

    return cluster.tasks.start(vm.node, "qmrollback", vm.vmid, user, work)


# guest agent

@handler
def agent_interfaces(cluster: Cluster, params: Params, user: str) -> Any:
    vm = cluster.vm(params["node"], params["vmid"])
    if "agent" not in vm.conf:
        raise PveError("No QEMU guest agent configured")
    if not vm.running:
        raise PveError("VM %d is not running" % vm.vmid)
    if not cluster.agent_ready(vm):
        raise PveError("QEMU guest agent is not running")
    interfaces = [{"name": "lo", "hardware-address": "00:00:00:00:00:00",
                   "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
                                    {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128}]}]
    for key in sorted((k for k in vm.conf if k.startswith("net") and k[3:].isdigit()), key=lambda k: int(k[3:])):
        index = int(key[3:])
        net = parse_property_string(vm.conf[key], PROPERTY_STRINGS["net"])
        mac = net.get("macaddr", "00:00:00:00:00:00").lower()
        static = re.search(r"ip=([0-9.]+)/", vm.conf.get("ipconfig%d" % index, ""))
        octets = [int(part, 16) for part in mac.split(":")[-2:]]
        bridge = cluster.nodes[vm.node].bridges.index(net["bridge"]) if net.get("bridge") in \
            cluster.nodes[vm.node].bridges else 9
        address = static.group(1) if static else "10.%d.%d.%d" % (bridge, octets[0], max(octets[1], 2))
        link_local = "fe80::%s" % ":".join(mac.split(":")[-2:]).replace(":", "")
        interfaces.append({"name": "eth%d" % index, "hardware-address": mac, "ip-addresses": [
            {"ip-address": address, "ip-address-type": "ipv4", "prefix": 24},
            {"ip-address": link_local, "ip-address-type": "ipv6", "prefix": 64}]})
    return {"result": interfaces}


@handler
def agent_ping(cluster: Cluster, params: Params, user: str) -> Any:
    agent_interfaces(cluster, params, user)
    return {"result": {}}


# tasks

def _task(cluster: Cluster, params: Params) -> Task:
    upid = params["upid"]
    if not re.match(r"^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:\s]+:[^:\s]*:[^:\s]+:$", upid):
        raise ParamError({"upid": "unable to parse worker upid"})
    task = cluster.tasks.tasks.get(upid)
    if task is None or task.node != params["node"]:
        raise ParamError({"upid": "no such task"})
    return task


@handler
def task_status(cluster: Cluster, params: Params, user: str) -> Any:
    return _task(cluster, params).status()


@handler
def task_log(cluster: Cluster, params: Params, user: str) -> Any:
    task = _task(cluster, params)
    lines = task.log or ["no content"]
    start, limit = params.get("start", 0), params.get("limit", 50)
    chosen = lines[start:] if limit == 0 else lines[start:start + limit]
    return [{"n": start + i + 1, "t": line} for i, line in enumerate(chosen)]


@handler
def task_list(cluster: Cluster, params: Params, user: str) -> Any:
    source = params.get("source", "archive")
    tasks = [t for t in cluster.tasks.tasks.values() if t.node == params["node"]
             and (source == "all" or (source == "active") == t.running)
             and ("vmid" not in params or t.id == str(params["vmid"]))]
    return [t.list_entry() for t in tasks][params.get("start", 0):][:params.get("limit", 50) or None]


# routes beyond the schema subset

@handler
def vm_vncproxy(cluster: Cluster, params: Params, user: str) -> Any:
    """A VNC ticket and a port on the node for a running VM, and the ``vncproxy`` task that would wait for the
    client (here it ends as any task does: no VNC server listens on the port)."""
    vm = _running_vm(cluster, params)
    port = 5900 + vm.vmid % 100
    ticket = "PVEVNC:%08X::%s" % (int(time.time()), secrets.token_urlsafe(48))
    upid = cluster.tasks.start(vm.node, "vncproxy", vm.vmid, user, lambda task: None)
    # PVE sends the port as a string (a Perl scalar); the ticket is for this user and /vms/VMID only.
    answer = {"user": user, "ticket": ticket, "port": str(port), "upid": upid,
              "cert": "-----BEGIN CERTIFICATE-----\n(the node's pve-ssl.pem)\n-----END CERTIFICATE-----\n"}
    if params.get("generate-password"):
        answer["password"] = secrets.token_urlsafe(6)[:8]
    return answer


# pools, and the routes served only with --anchor-routes

@handler
def pools(cluster: Cluster, params: Params, user: str) -> Any:
    return []


@handler
def lxc_list(cluster: Cluster, params: Params, user: str) -> Any:
    cluster.node(params["node"])
    return []


@handler
def network_list(cluster: Cluster, params: Params, user: str) -> Any:
    node = cluster.node(params["node"])
    return [{"iface": bridge, "type": "bridge", "active": 1, "autostart": 1} for bridge in node.bridges]
