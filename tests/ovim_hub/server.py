# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hub's spoke routes and the fixture's control port, on the standard library's HTTP server."""

from __future__ import annotations

import datetime
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from . import wire

STATUS_ROUTE = "/api/v1/spoke/status"
OPERATIONS_ROUTE = "/api/v1/spoke/operations"


class Hub:
    """The hub's memory: queues by agent, the reports and results received, what was refused, the mode."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.mode = "up"
        self.delay = 0.0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.queues: dict[str, list[dict]] = {}
            self.reports: list[dict] = []
            self.results: list[dict] = []
            self.refused: list[dict] = []
            self.callbacks: dict[str, str] = {}

    def enqueue(self, agent: str, operations: list[dict]) -> list[dict]:
        now = datetime.datetime.now(datetime.timezone.utc)
        made = [{"id": op.get("id") or wire.operation_id(now), "type": op["type"], "payload": op.get("payload") or {},
                 "timestamp": now.isoformat()} for op in operations]
        with self.lock:
            self.queues.setdefault(agent, []).extend(made)
        return made

    def take(self, agent: str) -> list[dict]:
        with self.lock:
            return self.queues.pop(agent, [])

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"mode": self.mode, "delay": self.delay, "reports": list(self.reports),
                    "results": list(self.results), "refused": list(self.refused),
                    "queued": {agent: len(ops) for agent, ops in self.queues.items()},
                    "callbacks": dict(self.callbacks)}


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class HubHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: with Nagle's algorithm on, a keep-alive client would wait for
        # the delayed ACK (40 ms on Linux) of the first before it sees the second, on every request.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # pylint: disable=arguments-differ
            pass

        def _answer(self, status: int, document: Any = None) -> None:
            body = b"" if document is None else json.dumps(document).encode()
            self.send_response(status)
            if body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _refuse(self, status: int, message: str) -> None:
            with hub.lock:
                hub.refused.append({"path": self.path, "status": status, "error": message})
            self._answer(status, {"error": message})

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _degraded(self) -> bool:
            if hub.mode == "down":
                # A connection accepted while the port was closing: a hub that is gone answers nothing.
                self.close_connection = True
                return True
            if hub.delay and hub.mode == "slow":
                time.sleep(hub.delay)
            if hub.mode == "error":
                self._answer(500, {"error": "internal server error (injected)"})
                return True
            return False

        def do_GET(self) -> None:  # pylint: disable=invalid-name
            url = urlsplit(self.path)
            if self._degraded():
                return
            if url.path == "/health":
                self._answer(200, {"service": "ovim-fake-hub", "status": "healthy", "version": "fake"})
                return
            if url.path != OPERATIONS_ROUTE:
                self._answer(404, {"error": "not found"})
                return
            refusal = wire.check_auth(self.headers, hub.token)
            if refusal:
                self._refuse(*refusal)
                return
            agent = (parse_qs(url.query).get("agent_id") or [""])[0]
            if not agent:
                self._refuse(400, "agent_id is required")
                return
            operations = hub.take(agent)
            self._answer(200, operations) if operations else self._answer(204)

        def do_POST(self) -> None:  # pylint: disable=invalid-name
            path = urlsplit(self.path).path
            body = self._body()
            if self._degraded():
                return
            refusal = wire.check_auth(self.headers, hub.token)
            if refusal:
                self._refuse(*refusal)
                return
            try:
                document = wire.decode(body)
            except ValueError:
                self._refuse(400, "Invalid request body")
                return
            if path == STATUS_ROUTE:
                self._report(document)
            elif path.startswith(OPERATIONS_ROUTE + "/") and path.endswith("/result"):
                self._result(path[len(OPERATIONS_ROUTE) + 1:-len("/result")], document)
            else:
                self._answer(404, {"error": "not found"})

        def _report(self, report: Any) -> None:
            refusal = wire.check_report(report)
            if refusal:
                self._refuse(*refusal)
                return
            with hub.lock:
                hub.reports.append(report)
                if report.get("callback_url"):
                    hub.callbacks[report["agent_id"]] = report["callback_url"]
            self._answer(200, {"status": "received", "message": "Status report received"})

        def _result(self, operation_id: str, result: Any) -> None:
            refusal = wire.check_result(result)
            if refusal:
                self._refuse(*refusal)
                return
            with hub.lock:
                hub.results.append(dict(result, path_id=operation_id, agent=self.headers["X-Agent-ID"]))
            self._answer(200, {"status": "received"})

    return HubHandler


class HubServer:
    """The hub's port, which can really close (mode ``down``) and open again on the same address."""

    def __init__(self, hub: Hub, bind: str, port: int, tls: Optional[ssl.SSLContext] = None) -> None:
        self.hub = hub
        self.address = (bind, port)
        self.tls = tls
        self.server: Optional[ThreadingHTTPServer] = None

    def open(self) -> None:
        if self.server is None:
            ThreadingHTTPServer.allow_reuse_address = True
            self.server = ThreadingHTTPServer(self.address, _handler(self.hub))
            self.server.daemon_threads = True
            if self.tls is not None:
                self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set_mode(self, mode: str, delay: float) -> None:
        if mode not in ("up", "down", "error", "slow"):
            raise ValueError("mode %r is none of up, down, error, slow" % mode)
        with self.hub.lock:
            self.hub.mode, self.hub.delay = mode, delay
        self.close() if mode == "down" else self.open()


def push(hub: Hub, agent: str, operation: dict, token: Optional[str]) -> dict[str, Any]:
    """Post an operation to the agent's callback URL as the hub does (no auth), or with a bearer token."""
    url = hub.callbacks.get(agent)
    if not url:
        return {"status": 0, "error": "no callback_url reported by %s" % agent}
    headers = {"Content-Type": "application/json", "X-Operation-ID": operation["id"]}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(url.rstrip("/") + "/operations", json.dumps(operation).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return {"status": answer.status, "body": answer.read().decode()}
    except urllib.error.HTTPError as err:
        return {"status": err.code, "body": err.read().decode()}


def _control_handler(server: HubServer) -> type[BaseHTTPRequestHandler]:
    hub = server.hub

    class ControlHandler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # pylint: disable=arguments-differ
            pass

        def _answer(self, status: int, document: Any) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # pylint: disable=invalid-name
            self._answer(200, hub.state()) if self.path == "/state" else self._answer(404, {})

        def do_POST(self) -> None:  # pylint: disable=invalid-name
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            try:
                self._answer(200, self._control(request))
            except (KeyError, ValueError) as err:
                self._answer(400, {"error": str(err)})

        def _control(self, request: dict) -> Any:
            if self.path == "/enqueue":
                return hub.enqueue(request["agent_id"], request["operations"])
            if self.path == "/push":
                operation = hub.enqueue("-push-", [request["operation"]])[0]
                hub.take("-push-")
                return dict(push(hub, request["agent_id"], operation, request.get("token")), operation=operation)
            if self.path == "/mode":
                server.set_mode(request["mode"], float(request.get("delay") or 0))
                return hub.state()
            if self.path == "/reset":
                hub.reset()
                return {}
            raise KeyError("no control route %s" % self.path)

    return ControlHandler


def serve_control(server: HubServer, bind: str, port: int) -> ThreadingHTTPServer:
    control = ThreadingHTTPServer((bind, port), _control_handler(server))
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, daemon=True).start()
    return control
