# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the fake hub: ``python -m ovim_hub --port 18480 --control-port 18481 [--token TOKEN]``."""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import threading

from . import wire
from .server import Hub, HubServer, serve_control


def main() -> None:
    parser = argparse.ArgumentParser(prog="ovim_hub", description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18480)
    parser.add_argument("--control-port", type=int, default=18481)
    parser.add_argument("--token", default=os.environ.get("OVIM_FAKE_HUB_TOKEN") or wire.UPSTREAM_TOKEN,
                        help="the bearer token spokes must send (upstream's is fixed: %s)" % wire.UPSTREAM_TOKEN)
    parser.add_argument("--cert", help="serve HTTPS with this certificate (the hub's default); else plain HTTP")
    parser.add_argument("--key")
    parser.add_argument("--down", action="store_true", help="start with the hub's port closed")
    parser.add_argument("--pid-file")
    args = parser.parse_args()
    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
    server = HubServer(Hub(args.token), args.bind, args.port, tls)
    if args.down:
        server.set_mode("down", 0)
    else:
        server.open()
    serve_control(server, args.bind, args.control_port)
    if args.pid_file:
        with open(args.pid_file, "w", encoding="utf-8") as handle:
            handle.write("%d\n" % os.getpid())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *dummy: stop.set())
    signal.signal(signal.SIGINT, lambda *dummy: stop.set())
    stop.wait()


main()
