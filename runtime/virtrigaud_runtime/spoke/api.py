# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local API: probes, status, Prometheus metrics, and the hub's push of operations."""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import wire

MAX_BODY = 1024 * 1024


class LocalApi:
    """``accept(document, via)`` takes a pushed operation and returns it parsed, or raises BadOperation or
    RuntimeError (the agent is stopping)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.server: Optional[ThreadingHTTPServer] = None

    def start(self, address: str, port: int) -> None:
        self.server = ThreadingHTTPServer((address, port), _handler(self.agent))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="local-api", daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _handler(agent: Any) -> type[BaseHTTPRequestHandler]:
    """The request handler class for ``agent``: the server makes one handler per connection, from the class."""
    return type("Handler", (_Handler,), {"agent": agent})


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection for ``agent``, which a subclass made by :func:`_handler` sets."""

    agent: Any = None
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: with Nagle's algorithm on, a keep-alive client would wait for
    # the delayed ACK (40 ms on Linux) of the first before it sees the second, on every request.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # pylint: disable=arguments-differ
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode("utf-8"))

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        routes: dict[str, Callable[[], None]] = {
            "/health/live": lambda: self._json(200, {"status": "alive"}),
            "/health/ready": self._ready,
            "/health/status": lambda: self._json(200, self.agent.detailed_status()),
            "/status": lambda: self._json(200, self.agent.detailed_status()),
            "/health": lambda: self._json(200, {"status": self.agent.state.snapshot()["status"],
                                                "agent_id": self.agent.settings.agent_id}),
            "/metrics": self._metrics,
        }
        routes.get(path, lambda: self._json(404, {"error": "not found"}))()

    def _ready(self) -> None:
        snapshot = self.agent.state.snapshot()
        self._json(200 if self.agent.state.ready else 503, {"ready": self.agent.state.ready, **snapshot})

    def _metrics(self) -> None:
        if not self.agent.settings.metrics_enabled:
            self._json(404, {"error": "metrics are off (OVIM_METRICS_ENABLED=false)"})
            return
        self._send(200, generate_latest(self.agent.metrics.registry), CONTENT_TYPE_LATEST)

    def _authorized(self) -> bool:
        if self.agent.settings.push_auth == "none" or not self.agent.settings.hub_token:
            return True
        given = (self.headers.get("Authorization") or "").encode("utf-8")
        return hmac.compare_digest(given, ("Bearer " + self.agent.settings.hub_token).encode("utf-8"))

    def do_POST(self) -> None:  # pylint: disable=invalid-name
        length = int(self.headers.get("Content-Length") or 0)
        if self.path.split("?", 1)[0].rstrip("/") != "/operations":
            self._json(404, {"error": "not found"})
            return
        if not self._authorized():
            self._json(401, {"error": "a pushed operation needs the hub's bearer token"})
            return
        if length > MAX_BODY:
            self._json(413, {"error": "an operation is at most %d bytes" % MAX_BODY})
            return
        try:
            operation = self.agent.accept(json.loads(self.rfile.read(length) or b"null"), "push")
        except (ValueError, wire.BadOperation) as err:
            self._json(400, {"error": str(err)})
            return
        except RuntimeError as err:
            self._json(503, {"error": str(err)})
            return
        self._json(200, {"status": "accepted", "operation_id": operation.id})
