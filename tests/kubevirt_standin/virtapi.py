# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt-api's ``subresources.kubevirt.io/v1`` start, stop and restart, served behind the kube-apiserver's
aggregator (an APIService), which authenticates and authorizes the caller first.  Only the aggregator's
front-proxy client certificate is accepted.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from . import client as k
from .client import Api, ApiError

LOG = logging.getLogger("kubevirt-standin")
GROUP_VERSION = "subresources.kubevirt.io/v1"
ACTIONS = ("start", "stop", "restart")
_PATH = re.compile(r"^/apis/subresources\.kubevirt\.io/v1/namespaces/([^/]+)/virtualmachines/([^/]+)/(\w+)$")


def _status(code: int, reason: str, message: str, name: str = "") -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message, "details": {"name": name, "group": "kubevirt.io", "kind": "virtualmachines"}}


def discovery() -> dict:
    resources = [{"name": "virtualmachines/%s" % action, "singularName": "", "namespaced": True,
                  "kind": "VirtualMachine", "verbs": ["update"]} for action in ACTIONS]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": resources}


class VirtApi:
    def __init__(self, api: Api) -> None:
        self.api = api

    def act(self, action: str, namespace: str, name: str, body: dict) -> tuple[int, dict]:
        vm = self.api.get(k.VM, name, namespace)
        if vm is None:
            return 404, _status(404, "NotFound", 'virtualmachines.kubevirt.io "%s" not found' % name, name)
        vmi = self.api.get(k.VMI, name, namespace)
        running = vmi is not None and not vmi["metadata"].get("deletionTimestamp")
        strategy = vm["spec"].get("runStrategy") or ("Always" if vm["spec"].get("running") else "Halted")
        if action == "start":
            if running:
                return 409, _status(409, "Conflict", "Always does not support manual start requests", name)
            self._run_strategy(vm, "Always")
        elif action == "stop":
            if vmi is None and strategy == "Halted":
                return 409, _status(409, "Conflict", "VM is not running", name)
            if body.get("gracePeriod") is not None and vmi is not None:
                self.api.patch(k.VMI, name, namespace, {"spec": {"terminationGracePeriodSeconds": body["gracePeriod"]}})
            self._run_strategy(vm, "Halted")
        else:
            if strategy == "Halted":
                return 409, _status(409, "Conflict", "RunStategy Halted does not support manual restart requests",
                                    name)
            if vmi is None:
                return 409, _status(409, "Conflict", "VM is not running", name)
            self.api.delete(k.VMI, name, namespace)
        LOG.info("virt-api: %s %s/%s", action, namespace, name)
        return 202, {}

    def _run_strategy(self, vm: dict, strategy: str) -> None:
        metadata = vm["metadata"]
        self.api.patch(k.VM, metadata["name"], metadata["namespace"],
                       {"spec": {"runStrategy": strategy, "running": None}})


def handler_for(virt_api: VirtApi) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: with Nagle's algorithm on, a keep-alive client would wait for
        # the delayed ACK (40 ms on Linux) of the first before it sees the second, on every request.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # requests are logged by the actions
            pass

        def _reply(self, code: int, document: Optional[dict]) -> None:
            body = json.dumps(document).encode() if document is not None else b""
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/apis/subresources.kubevirt.io/v1":
                self._reply(200, discovery())
            elif path in ("/healthz", "/readyz"):
                self._reply(200, {"status": "ok"})
            else:
                self._reply(404, _status(404, "NotFound", "the server could not find the requested resource"))

        def do_PUT(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            match = _PATH.match(self.path.split("?", 1)[0])
            if not match or match.group(3) not in ACTIONS:
                self._reply(404, _status(404, "NotFound", "the server could not find the requested resource"))
                return
            try:
                body = json.loads(raw) if raw.strip() else {}
                code, document = virt_api.act(match.group(3), match.group(1), match.group(2), body)
            except (ValueError, ApiError) as err:
                code, document = 500, _status(500, "InternalError", str(err))
            self._reply(code, document)

    return Handler


def serve(virt_api: VirtApi, port: int, cert: str, key: str, client_ca: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(virt_api))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
