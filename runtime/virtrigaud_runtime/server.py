# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble and run the runtime: gRPC (provider.v1 and grpc.health.v1) and HTTP probes and metrics."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.wire import SERVICE
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import RateLimiter

from . import VERSION
from .config import Settings, provider_config
from .metrics import Metrics
from .observe import fields, logger
from .service import NameLocks, ProviderService
from .tasks import TaskTable
from .throttle import Throttle
from .watch import UNCHECKED, BackendWatch, Verdict

GRACE_SECONDS = 30.0
SERVICE_NAMES = ("", "provider")
NOT_CHECKED = Verdict(True, "not checked: the Provider's health check is disabled")
KEEPALIVE = (("grpc.keepalive_time_ms", 30000), ("grpc.keepalive_timeout_ms", 10000),
             ("grpc.http2.min_ping_interval_without_data_ms", 5000), ("grpc.max_connection_idle_ms", 900000))


@dataclass(frozen=True)
class Worker:
    """This process's place among the runtime's workers, and the folder they share (None for a lone runtime)."""

    index: int = 0
    shared_folder: Optional[str] = None

    def folder(self, name: str) -> Optional[str]:
        return os.path.join(self.shared_folder, name) if self.shared_folder else None


class Runtime:
    """One gRPC server process.  Worker 0 also serves the HTTP probes and metrics and checks the hypervisor."""

    def __init__(self, current: Settings, threads: int = 8, worker: Worker = Worker()) -> None:
        self.settings = current
        self.worker = worker
        self.log = logger(current.log_level, current.log_format)
        config = provider_config(current)
        self.metrics = Metrics(current.label, config.uri or current.endpoint or "", worker.folder("metrics"))
        self.tasks = TaskTable(window=current.task_window, shared_folder=worker.folder("tasks"))
        self.service = ProviderService(config, self.tasks, self.metrics, self.log, self._throttle(),
                                       NameLocks(worker.folder("names")))
        if current.hypervisor_check:
            self.watch = BackendWatch(self.service.check_backend, current.check_interval, current.check_timeout,
                                      self._verdict_changed, self.service.count_vms)
        else:
            self.watch = BackendWatch(lambda: NOT_CHECKED, current.check_interval, current.check_timeout,
                                      self._verdict_changed)
        self.health = health.HealthServicer()
        self.serving = threading.Event()
        # Several workers bind one port on purpose; a lone runtime keeps grpc's own default.
        sharing = (("grpc.so_reuseport", 1),) if current.workers > 1 else ()
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=threads,
                                                                        thread_name_prefix="rpc"),
                                  options=KEEPALIVE + sharing)
        self._add_provider_service()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.grpc_port = self._listen()
        self.http: Optional[ThreadingHTTPServer] = None
        if worker.index == 0:
            self.http = ThreadingHTTPServer(_split(current.http_address), _probe_handler(self))
            self.http.daemon_threads = True

    def _throttle(self) -> Throttle:
        """Provider.spec.rateLimit, each worker taking an equal share, so that together they keep to it."""
        limit, share = self.settings.rate_limit, self.settings.workers
        limiter = RateLimiter(limit[0] / share, limit[1] // share) if limit else None
        return Throttle(limiter, self.metrics)

    def _add_provider_service(self) -> None:
        """Registered methods where grpcio has them (newer releases): gRPC core matches the path, no lookup per call."""
        table = self.service.handlers()
        register = getattr(self.server, "add_registered_method_handlers", None)
        if register is not None:
            register(SERVICE, table)
        else:
            self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, table),))

    def _listen(self) -> int:
        material = self.settings.tls
        if material is None:
            self.log.warning("serving plaintext gRPC: insecure mode was asked for explicitly")
            return cast(int, self.server.add_insecure_port(self.settings.grpc_address))
        credentials = grpc.ssl_server_credentials(((material["tls.key"], material["tls.crt"]),),
                                                  root_certificates=material["ca.crt"],
                                                  require_client_auth=True)
        return cast(int, self.server.add_secure_port(self.settings.grpc_address, credentials))

    def start(self) -> None:
        self.server.start()
        if self.http is not None:
            threading.Thread(target=self.http.serve_forever, daemon=True, name="http").start()
        for name in SERVICE_NAMES:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self.serving.set()
        limit = self.settings.rate_limit
        self.log.info("serving", extra=fields(version=VERSION, provider_type=self.settings.provider_type,
                                              grpc=self.settings.grpc_address, port=self.grpc_port,
                                              http=self.settings.http_address,
                                              tls="mtls" if self.settings.tls else "plaintext",
                                              rate_limit={"qps": limit[0], "burst": limit[1]} if limit else None,
                                              worker=self.worker.index, workers=self.settings.workers))
        if self.http is not None:
            self.watch.start()

    @property
    def ready(self) -> bool:
        """Serving, and the hypervisor answered the last check: the cached answer, never a round trip."""
        return self.serving.is_set() and self.watch.verdict.reachable

    def _verdict_changed(self, old: Verdict, new: Verdict) -> None:
        self.metrics.health.set(1 if self.serving.is_set() and new.reachable else 0)
        if new.reachable == old.reachable and old is not UNCHECKED:
            return
        if new.reachable:
            self.log.info("the hypervisor answers; ready")
        else:
            self.log.warning("the hypervisor does not answer; not ready", extra=fields(reason=new.message))

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Stop taking calls, let the ones in flight finish, then stop."""
        self.serving.clear()
        self.watch.stop()
        self.metrics.health.set(0)
        for name in SERVICE_NAMES:
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.log.info("shutting down", extra=fields(grace_seconds=grace))
        self.server.stop(grace).wait()
        self.tasks.shutdown()
        if self.http is not None:
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


def _health(runtime: Runtime) -> dict[str, Any]:
    verdict = runtime.watch.verdict
    return {"status": "healthy" if runtime.ready else "unhealthy",
            "checks": {"grpc": "serving" if runtime.serving.is_set() else "not serving",
                       "hypervisor": _hypervisor_state(runtime.settings.hypervisor_check, verdict)},
            "summary": {"provider_type": runtime.settings.provider_type, "tasks": len(runtime.tasks)}}


def _hypervisor_state(checked: bool, verdict: Verdict) -> str:
    if not checked:
        return "not checked"
    return "reachable" if verdict.reachable else "unreachable: %s" % verdict.message


def _probe_handler(runtime: Runtime) -> Any:
    class Probe(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
            """Probes every few seconds would drown the log."""

        def do_GET(self) -> None:  # pylint: disable=invalid-name
            ready = runtime.ready
            if self.path == "/healthz":
                self._reply(200, "ok\n")
            elif self.path == "/readyz":
                self._reply(200 if ready else 503, "ready\n" if ready else "not ready\n")
            elif self.path == "/health":
                self._reply(200 if ready else 503, json.dumps(_health(runtime)) + "\n", "application/json")
            elif self.path == "/metrics":
                self._reply(200, generate_latest(runtime.metrics.exposed).decode(), CONTENT_TYPE_LATEST)
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
