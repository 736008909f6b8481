# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the fake PVE: ``python -m pvefake --port 18006 --cert c.pem --key k.pem --user root@pam=secret``."""

from __future__ import annotations

import argparse
import os
import signal
import threading

from .control import broadcast_forever, seed_template, seed_vms, serve_control
from .model import Cluster
from .server import Auth, FakePve, write_pid


def _pairs(values: list[str]) -> dict[str, str]:
    return dict(value.rsplit("=", 1) for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(prog="pvefake", description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18006)
    parser.add_argument("--control-port", type=int, default=0, help="plain-HTTP fault injection; 0 for none")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--nodes", default="pve1,pve2,pve3")
    parser.add_argument("--user", action="append", default=[], help="user@realm=password")
    parser.add_argument("--token", action="append", default=[], help="user@realm!tokenid=secret")
    parser.add_argument("--template", action="append", default=[], help="name:vmid:node[:storage]")
    parser.add_argument("--seed-vms", type=int, default=0, help="this many VMs to start with (benchmarks)")
    parser.add_argument("--storage-dir", required=True, help="the directory behind storage 'local'")
    parser.add_argument("--task-seconds", type=float, default=0.3)
    parser.add_argument("--stats-interval", type=float, default=10.0, help="how often pvestatd broadcasts")
    parser.add_argument("--request-log")
    parser.add_argument("--anchor-routes", action="store_true",
                        help="also serve /nodes/{node}/lxc, outside the schema subset")
    parser.add_argument("--pid-file")
    args = parser.parse_args()

    cluster = Cluster(args.nodes.split(","), args.storage_dir, task_seconds=args.task_seconds)
    for template in args.template:
        name, vmid, node, *storage = template.split(":")
        seed_template(cluster, name, int(vmid), node, *storage)
    seed_vms(cluster, args.seed_vms)
    cluster.broadcast_stats()
    os.makedirs(os.path.join(args.storage_dir, "snippets"), exist_ok=True)
    fake = FakePve(cluster, Auth(_pairs(args.user), _pairs(args.token)), args.request_log)
    fake.anchor_routes = args.anchor_routes
    fake.serve(args.bind, args.port, args.cert, args.key)
    if args.control_port:
        serve_control(fake, args.bind, args.control_port)
    stop = threading.Event()
    threading.Thread(target=broadcast_forever, args=(cluster, args.stats_interval, stop), daemon=True).start()
    write_pid(args.pid_file)
    signal.signal(signal.SIGTERM, lambda *dummy: stop.set())
    signal.signal(signal.SIGINT, lambda *dummy: stop.set())
    stop.wait()


main()
