# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KubeVirt stand-in on the test bed's kube-apiserver.

``python -m kubevirt_standin install --kubeconfig K --crds A.yaml --crds B.yaml --ca CA --rbac R --user U=full``
installs what a KubeVirt cluster has; ``... serve --kubeconfig K --cert C --key K --client-ca F`` plays its
controllers and virt-api until SIGTERM; ``... power-api on|off`` registers or removes the virt-api APIService.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from . import fixtures
from .client import Api, Kind
from .controller import Controller
from .virtapi import VirtApi, serve

APISERVICES = Kind("apiregistration.k8s.io/v1", "apiservices", namespaced=False)


def main() -> None:
    parser = argparse.ArgumentParser(prog="kubevirt_standin", description=__doc__)
    parser.add_argument("command", choices=["install", "serve", "power-api"])
    parser.add_argument("state", nargs="?", choices=["on", "off"])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--crds", action="append", default=[])
    parser.add_argument("--ca", help="the CA of the virt-api serving certificate (the APIService's caBundle)")
    parser.add_argument("--rbac", help="the guide's Role and ClusterRole")
    parser.add_argument("--user", action="append", default=[], help="NAME=full or NAME=no-vmi")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca", help="the front proxy's CA: the aggregator's client certificate")
    parser.add_argument("--port", type=int, default=fixtures.VIRT_API_PORT)
    parser.add_argument("--pid-file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    api = Api(args.kubeconfig)
    if args.command == "install":
        with open(args.ca, "rb") as handle:
            ca_bundle = handle.read()
        users = {name: level == "full" for name, level in (entry.split("=", 1) for entry in args.user)}
        fixtures.install(api, args.crds, ca_bundle, args.rbac, users, args.port)
    elif args.command == "power-api":
        if args.state == "off":
            api.delete(APISERVICES, "v1.subresources.kubevirt.io")
        else:
            with open(args.ca, "rb") as handle:
                api.create(APISERVICES, fixtures.api_service(handle.read(), args.port))
    else:
        controller = Controller(api)
        controller.run()
        serve(VirtApi(api), args.port, args.cert, args.key, args.client_ca)
        if args.pid_file:
            with open(args.pid_file, "w", encoding="utf-8") as handle:
                handle.write(str(os.getpid()))
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *dummy: stop.set())
        signal.signal(signal.SIGINT, lambda *dummy: stop.set())
        stop.wait()
        controller.stopped.set()


if __name__ == "__main__":
    main()
