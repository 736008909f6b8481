# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble and run the runtime: gRPC (provider.v1 and grpc.health.v1) and HTTP probes and metrics."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import VERSION
from .config import Settings, provider_config
from .observe import Metrics, fields, logger
from .service import ProviderService
from .tasks import TaskTable

GRACE_SECONDS = 30.0
SERVICE_NAMES = ("", "provider")
KEEPALIVE = (("grpc.keepalive_time_ms", 30000), ("grpc.keepalive_timeout_ms", 10000),
             ("grpc.http2.min_ping_interval_without_data_ms", 5000), ("grpc.max_connection_idle_ms", 900000))


class Runtime:
    def __init__(self, current: Settings, workers: int = 8) -> None:
        self.settings = current
        self.log = logger(current.log_level, current.log_format)
        self.metrics = Metrics()
        self.tasks = TaskTable(window=current.task_window)
        self.service = ProviderService(provider_config(current), self.tasks, self.metrics, self.log)
        self.health = health.HealthServicer()
        self.ready = threading.Event()
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                                        thread_name_prefix="rpc"),
                                  options=KEEPALIVE)
        self.server.add_generic_rpc_handlers((self.service.handlers(),))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.grpc_port = self._listen()
        self.http = ThreadingHTTPServer(_split(current.http_address), _probe_handler(self))
        self.http.daemon_threads = True

    def _listen(self) -> int:
        material = self.settings.tls
        if material is None:
            self.log.warning("serving plaintext gRPC: insecure mode was asked for explicitly")
            return self.server.add_insecure_port(self.settings.grpc_address)
        credentials = grpc.ssl_server_credentials(((material["tls.key"], material["tls.crt"]),),
                                                  root_certificates=material["ca.crt"],
                                                  require_client_auth=True)
        return self.server.add_secure_port(self.settings.grpc_address, credentials)

    def start(self) -> None:
        self.server.start()
        threading.Thread(target=self.http.serve_forever, daemon=True, name="http").start()
        for name in SERVICE_NAMES:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self.metrics.health.set(1)
        self.ready.set()
        self.log.info("serving", extra=fields(version=VERSION, provider_type=self.settings.provider_type,
                                              grpc=self.settings.grpc_address, port=self.grpc_port,
                                              http=self.settings.http_address,
                                              tls="mtls" if self.settings.tls else "plaintext"))
        threading.Thread(target=self._check_connection, daemon=True, name="connection").start()

    def _check_connection(self) -> None:
        response = self.service.Validate(None)
        if not response["ok"]:
            self.log.warning("the hypervisor connection does not work yet", extra=fields(reason=response["message"]))

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Stop taking calls, let the ones in flight finish, then stop."""
        self.ready.clear()
        self.metrics.health.set(0)
        for name in SERVICE_NAMES:
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.log.info("shutting down", extra=fields(grace_seconds=grace))
        self.server.stop(grace).wait()
        self.tasks.shutdown()
        self.http.shutdown()
        self.log.info("stopped")

    def serve_until_signal(self) -> None:
        done = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *dummy: done.set())
        self.start()
        done.wait()
        self.stop()


def _split(address: str) -> tuple[str, int]:
    host, dummy, port = address.rpartition(":")
    return (host.strip("[]") if host not in ("[::]", "") else ""), int(port)


def _probe_handler(runtime: Runtime) -> Any:
    class Probe(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
            """Probes every few seconds would drown the log."""

        def do_GET(self) -> None:  # pylint: disable=invalid-name
            ready = runtime.ready.is_set()
            if self.path == "/healthz":
                self._reply(200, "ok\n")
            elif self.path == "/readyz":
                self._reply(200 if ready else 503, "ready\n" if ready else "not ready\n")
            elif self.path == "/health":
                body = {"status": "healthy" if ready else "unhealthy",
                        "checks": {"grpc": "serving" if ready else "not serving"},
                        "summary": {"provider_type": runtime.settings.provider_type, "tasks": len(runtime.tasks)}}
                self._reply(200 if ready else 503, json.dumps(body) + "\n", "application/json")
            elif self.path == "/metrics":
                self._reply(200, generate_latest(runtime.metrics.registry).decode(), CONTENT_TYPE_LATEST)
            else:
                self._reply(404, "not found\n")

        def _reply(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Probe
