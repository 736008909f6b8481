# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's Prometheus metrics, in a registry of its own."""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..metrics import DURATION_BUCKETS

STATES = ("Connecting", "Healthy", "Degraded", "Unhealthy", "Disconnected")


class SpokeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.hub_latency = Histogram("ovim_spoke_hub_request_duration_seconds", "calls to the hub by route",
                                     ("route",), registry=self.registry, buckets=DURATION_BUCKETS)
        self.hub_errors = Counter("ovim_spoke_hub_errors_total", "failed calls to the hub by route and outcome",
                                  ("route", "outcome"), registry=self.registry)
        self.operations = Counter("ovim_spoke_operations_total", "operations run, by type and outcome",
                                  ("type", "outcome"), registry=self.registry)
        self.operation_duration = Histogram("ovim_spoke_operation_duration_seconds", "operation run time by type",
                                            ("type",), registry=self.registry, buckets=DURATION_BUCKETS)
        self.queue_depth = Gauge("ovim_spoke_queue_depth", "operations waiting or running", registry=self.registry)
        self.results_pending = Gauge("ovim_spoke_results_pending", "results not yet accepted by the hub",
                                     registry=self.registry)
        self.results_dropped = Counter("ovim_spoke_results_dropped_total",
                                       "results given up: refused by the hub (4xx) or beyond the bound",
                                       ("reason",), registry=self.registry)
        self.vms = Gauge("ovim_spoke_vms", "VMs of the backend by state, at the last report", ("state",),
                         registry=self.registry)
        self.state = Gauge("ovim_spoke_agent_state", "1 for the agent's current state", ("state",),
                           registry=self.registry)

    def hub_call(self, route: str, outcome: str, seconds: float) -> None:
        self.hub_latency.labels(route).observe(seconds)
        if not outcome.startswith("2"):
            self.hub_errors.labels(route, outcome).inc()

    def operation(self, kind: str, ok: bool, seconds: float) -> None:
        self.operations.labels(kind, "completed" if ok else "failed").inc()
        self.operation_duration.labels(kind).observe(seconds)

    def set_state(self, current: str) -> None:
        for name in STATES:
            self.state.labels(name).set(1 if name == current else 0)

    def count_vms(self, states: Iterable[str]) -> None:
        listed = list(states)
        for state in ("running", "stopped"):
            self.vms.labels(state).set(sum(1 for found in listed if found == state))
