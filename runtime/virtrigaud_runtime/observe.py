# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Structured JSON logs with a correlation id per call, and the Prometheus metrics of seed 000."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CORRELATION = contextvars.ContextVar("correlation_id", default="")
CORRELATION_KEYS = ("x-correlation-id", "x-request-id", "correlation-id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                 "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        if CORRELATION.get():
            entry["correlation_id"] = CORRELATION.get()
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logger(level: str, fmt: str) -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt != "text" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log = logging.getLogger("virtrigaud.runtime")
    log.handlers[:] = [handler]
    log.setLevel(getattr(logging, level.upper(), logging.INFO))
    log.propagate = False
    return log


def fields(**values: Any) -> dict[str, Any]:
    return {"fields": values}


class Metrics:
    """One registry per runtime, so tests can run several in a process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("provider_grpc_requests_total", "gRPC requests by method and status code",
                                ("method", "status"), registry=self.registry)
        self.duration = Histogram("provider_grpc_request_duration_seconds", "gRPC request duration by method",
                                  ("method",), registry=self.registry,
                                  buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                           30, 60, 120, 300))
        self.vms = Gauge("provider_vms_total", "VMs of this provider by power state", ("state",),
                         registry=self.registry)
        self.health = Gauge("provider_health_status", "1 when the runtime serves, 0 when it does not",
                            registry=self.registry)
        self.connection = Gauge("provider_hypervisor_connection_status",
                                "1 when the last check of the hypervisor connection succeeded", registry=self.registry)

    def observe(self, method: str, status: str, seconds: float) -> None:
        self.requests.labels(method, status).inc()
        self.duration.labels(method).observe(seconds)

    def count_vms(self, states: list[str]) -> None:
        for state in ("On", "Off"):
            self.vms.labels(state).set(sum(1 for s in states if s == state))
