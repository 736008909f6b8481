# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus metrics of seed 000, plus the rate limiter's, in one registry per runtime."""

from __future__ import annotations

from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

# Seconds; wide enough for a 0.95 quantile of both a Describe (milliseconds) and a Create (minutes).
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# The contract's power states as the metric's label values.
VM_STATES = {"On": "running", "Off": "stopped"}


def public_endpoint(uri: Optional[str]) -> str:
    """The endpoint as a label: no user, password, query or fragment, which may carry credentials."""
    text = (uri or "").strip()
    if "://" not in text:
        return text.rpartition("@")[2]
    parts = urlsplit(text)
    return "%s://%s%s" % (parts.scheme, parts.netloc.rpartition("@")[2], parts.path)


class Metrics:
    """One registry per runtime, so tests can run several in a process.

    With several worker processes (``--workers``), prometheus_client keeps each process's values in files under
    PROMETHEUS_MULTIPROC_DIR (set before it is first imported), and ``exposed`` adds up every worker's; the
    gauges say how: the health of the worker that checks, the latest connection check and VM count.
    """

    def __init__(self, provider: str = "", endpoint: str = "", shared_folder: Optional[str] = None) -> None:
        self.registry = CollectorRegistry()
        self.exposed = self.registry
        if shared_folder is not None:
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, path=shared_folder)  # type: ignore[no-untyped-call]
        self.requests = Counter("provider_grpc_requests_total", "provider.v1 calls by method and outcome",
                                ("method", "status"), registry=self.registry)
        self.duration = Histogram("provider_grpc_request_duration_seconds", "provider.v1 call duration by method",
                                  ("method",), registry=self.registry, buckets=DURATION_BUCKETS)
        self.vms = Gauge("provider_vms_total", "VMs of this provider by power state", ("state",),
                         registry=self.registry, multiprocess_mode="mostrecent")
        self.health = Gauge("provider_health_status", "1 while the runtime serves and reaches its hypervisor",
                            ("provider",), registry=self.registry, multiprocess_mode="max").labels(provider)
        self.connection = Gauge("provider_hypervisor_connection_status",
                                "1 when the last check of the hypervisor connection succeeded", ("endpoint",),
                                registry=self.registry, multiprocess_mode="mostrecent",
                                ).labels(public_endpoint(endpoint))
        self.rate_limited = Counter("provider_rate_limited_requests_total",
                                    "provider.v1 calls that waited for the rate limit (Provider.spec.rateLimit)",
                                    ("method",), registry=self.registry)
        self.rate_limit_wait = Histogram("provider_rate_limit_wait_seconds",
                                         "seconds a provider.v1 call waited for the rate limit", ("method",),
                                         registry=self.registry, buckets=WAIT_BUCKETS)
        self.health.set(0)
        self.connection.set(0)
        # (method, ok) -> (its counter, its duration histogram), made at a method's first call of that outcome
        # (a series appears once it counts): labels() takes a lock and builds a key, which showed in the profile
        # of the Describe path.
        self._calls: dict[tuple[str, bool], tuple[Any, Any]] = {}

    def observe(self, method: str, ok: bool, seconds: float) -> None:
        children = self._calls.get((method, ok))
        if children is None:
            children = self._calls[method, ok] = (self.requests.labels(method, "success" if ok else "error"),
                                                  self.duration.labels(method))
        children[0].inc()
        children[1].observe(seconds)

    def count_vms(self, states: Iterable[str]) -> None:
        """Power states as the contract spells them (On, Off)."""
        listed = list(states)
        for state, label in VM_STATES.items():
            self.vms.labels(label).set(sum(1 for found in listed if found == state))

    def waited(self, method: str, seconds: float) -> None:
        self.rate_limit_wait.labels(method).observe(seconds)
        if seconds > 0:
            self.rate_limited.labels(method).inc()
