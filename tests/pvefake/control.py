# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fixture's own control port (plain HTTP, loopback): fault injection, seeding and a state dump.

POST /faults takes a JSON object with any of:
  node_down / node_up: a node name;
  slow_factor: a multiplier for every task's duration;
  fail_task: {"type": "qmstart", "message": "..."}, the next task of that type fails with the message;
  lock: {"vmid": 100, "lock": "backup"} (or null to clear) holds a config lock;
  http_errors: {"count": 2, "status": 503, "message": "Service Unavailable"};
  stubborn_guest: a vmid whose guest ignores shutdown requests;
  vanish: a vmid removed right after the next VM listing is answered (a VM deleted mid-scan);
  broadcast: true, to publish cluster/resources statistics now.
GET /state returns every VM's config, pending section and snapshots by VMID, and under ``volumes`` every volume
with the VMID it was allocated for.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .model import VM, Cluster

TEMPLATE_CONF = {"cores": "1", "memory": "512", "ostype": "l26", "scsihw": "virtio-scsi-pci", "agent": "1",
                 "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0", "boot": "order=scsi0;net0"}


def seed_template(cluster: Cluster, name: str, vmid: int, node: str, storage: str = "ceph-vm") -> None:
    """A template made the way users make them: a 1 GiB root disk on ``storage``, converted to a base image."""
    vm = VM(vmid=vmid, node=node, conf=dict(TEMPLATE_CONF, name=name, template="1"))
    volid = cluster.allocate(cluster.storage(storage), vmid, 1024 ** 3)
    base = volid.replace("vm-%d-disk" % vmid, "base-%d-disk" % vmid)
    cluster.volumes[base] = cluster.volumes.pop(volid)
    vm.conf["scsi0"] = "%s,size=1G" % base
    vm.conf["net0"] = "virtio=%s,bridge=vmbr0" % cluster.new_mac()
    cluster.fresh_identity(vm.conf)
    cluster.vms[vmid] = vm


def seed_vms(cluster: Cluster, count: int) -> None:
    """``count`` VMs spread over the nodes, one in three running, for benchmarks."""
    nodes = sorted(cluster.nodes)
    for index in range(count):
        vmid = 1000 + index
        vm = VM(vmid=vmid, node=nodes[index % len(nodes)], conf={
            "name": "bench-%05d" % index, "cores": "2", "memory": "1024", "ostype": "l26", "agent": "1",
            "scsihw": "virtio-scsi-pci", "tags": "bench;%s" % ("web" if index % 2 else "db"),
            "scsi0": "%s,size=8G" % cluster.allocate(cluster.storage("ceph-vm"), vmid, 8 * 1024 ** 3),
            "net0": "virtio=%s,bridge=vmbr0" % cluster.new_mac()})
        cluster.fresh_identity(vm.conf)
        cluster.vms[vmid] = vm
        if index % 3 == 0:
            cluster.power_on(vm)


def apply_faults(cluster: Cluster, faults: Any, request: dict[str, Any]) -> None:
    with cluster.lock:
        if request.get("node_down"):
            cluster.node(request["node_down"]).online = False
        if request.get("node_up"):
            cluster.node(request["node_up"]).online = True
        if "slow_factor" in request:
            cluster.tasks.slow_factor = float(request["slow_factor"])
        if request.get("fail_task"):
            cluster.tasks.failures[request["fail_task"]["type"]] = request["fail_task"]["message"]
        if "lock" in request:
            vm = cluster.vms[int(request["lock"]["vmid"])]
            if request["lock"].get("lock"):
                vm.conf["lock"] = request["lock"]["lock"]
            else:
                vm.conf.pop("lock", None)
        if request.get("http_errors"):
            errors = request["http_errors"]
            faults.http_errors = int(errors.get("count", 1))
            faults.http_status = int(errors.get("status", 503))
            faults.http_message = errors.get("message", "Service Unavailable")
        if "vanish" in request:
            faults.vanish = int(request["vanish"])
        if "stubborn_guest" in request:
            cluster.stubborn_guests.add(int(request["stubborn_guest"]))
    if request.get("broadcast"):
        cluster.broadcast_stats()


def state(cluster: Cluster) -> dict[str, Any]:
    with cluster.lock:
        vms = {str(vm.vmid): {"node": vm.node, "conf": vm.conf, "pending": vm.pending, "running": vm.running,
                              "snapshots": sorted(vm.snapshots)} for vm in cluster.vms.values()}
        return dict(vms, volumes={volid: {"vmid": volume["vmid"], "size": volume["size"]}
                                  for volid, volume in sorted(cluster.volumes.items())})


class ControlHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """Quiet."""

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        self._reply(state(self.server.fake.cluster))  # type: ignore[attr-defined]

    def do_POST(self) -> None:  # pylint: disable=invalid-name
        fake = self.server.fake  # type: ignore[attr-defined]
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        try:
            apply_faults(fake.cluster, fake.faults, request)
        except (KeyError, ValueError, TypeError) as err:
            self._reply({"error": str(err)}, 400)
            return
        self._reply({"applied": sorted(request)})

    def _reply(self, data: Any, status: int = 200) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def serve_control(fake: Any, host: str, port: int) -> None:
    server = ThreadingHTTPServer((host, port), ControlHandler)
    server.fake = fake  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()


def broadcast_forever(cluster: Cluster, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        cluster.broadcast_stats()
