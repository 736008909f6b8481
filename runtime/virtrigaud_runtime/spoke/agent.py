# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent: a hub loop (connect, report, pull, post results), workers, a backend check, the local API."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import queue
import signal
import sys
import threading
import time
from typing import Any, Iterator, Mapping, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import VirtrigaudError
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import backoff

from .. import VERSION
from ..observe import JsonFormatter
from . import cluster, wire
from . import settings as settings_module
from .api import LocalApi
from .backend import EVERY_NAMESPACE, Backend
from .hub import HubClient, HubError
from .journal import Journal
from .metrics import SpokeMetrics
from .operations import OperationFailed, Operations
from .settings import SettingsError, SpokeSettings
from .state import AgentState, Outbox
from .vdc import VdcManager
from .vms import vm_status

FIRST_CHECK_SECONDS = 10.0
CONFIG_KEYS = {"report_interval": "report_interval", "reportInterval": "report_interval",
               "log_level": "log_level", "logLevel": "log_level"}


def make_logger(level: str) -> logging.Logger:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("virtrigaud.ovim_spoke")
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False
    return log


class Agent:  # pylint: disable=too-many-instance-attributes
    def __init__(self, settings: SpokeSettings, log: logging.Logger) -> None:
        self.settings = settings
        self.log = log
        self.report_interval = settings.report_interval
        self.templates: Mapping[str, str] = settings.templates
        self.metrics = SpokeMetrics()
        self.state = AgentState()
        self.outbox = Outbox(settings.results_kept)
        self.journal = Journal(settings.journal_dir)
        self.hub = HubClient(settings, self.metrics.hub_call)
        self.backend = Backend(settings.provider, settings.default_namespace)
        self.vdcs = VdcManager(settings.provider)
        self.operations = Operations(self.backend, self.vdcs, lambda: self.templates, {
            "health": self.health, "metrics": self.metrics_answer, "config": self.configure,
            "reload_templates": self.reload_templates}, log, settings.operation_timeout)
        self.intake: queue.Queue[Optional[wire.Operation]] = queue.Queue()
        self.running: dict[int, wire.Operation] = {}
        self.answered: set[int] = set()
        self.counts: dict[str, int] = {}
        self.vm_count = 0
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.first_check = threading.Event()
        self.started = time.monotonic()
        self.api = LocalApi(self)
        self.metrics.set_state("Connecting")

    # intake

    def accept(self, document: Any, via: str, key: Optional[str] = None) -> wire.Operation:
        if self.stopping.is_set():
            raise RuntimeError("the spoke is stopping and takes no more operations")
        operation = wire.parse_operation(document, via, next(self._seq))
        operation = dataclasses.replace(operation, key=self.journal.add(document, via) if key is None else key)
        self.log.info("operation %s (%s) received by %s", operation.id, operation.given_type, via)
        self.intake.put(operation)
        self.metrics.queue_depth.set(self.intake.qsize() + len(self.running))
        return operation

    def work(self) -> None:
        while True:
            operation = self.intake.get()
            if operation is None:
                return
            with self._lock:
                self.running[operation.seq] = operation
            started = time.monotonic()
            ok, body, error = self.operations.run(operation)
            self.finish(operation, ok, time.monotonic() - started, body, error)

    def finish(self, operation: wire.Operation, ok: bool, seconds: float, body: Optional[dict[str, Any]],
               error: Optional[str]) -> None:
        with self._lock:
            self.running.pop(operation.seq, None)
            if operation.seq in self.answered:
                return
            self.answered.add(operation.seq)
            key = "%s/%s" % (operation.type, "completed" if ok else "failed")
            self.counts[key] = self.counts.get(key, 0) + 1
        self.metrics.operation(operation.type, ok, seconds)
        self.metrics.queue_depth.set(self.intake.qsize() + len(self.running))
        outcome = "completed" if ok else "failed: %s" % error
        (self.log.info if ok else self.log.warning)("operation %s (%s) in %.3f s: %s", operation.id, operation.type,
                                                    seconds, outcome)
        given_up = self.outbox.add({"result": wire.result(operation, ok, seconds, body, error), "key": operation.key})
        if given_up is not None:
            self.journal.done(given_up["key"])
            self.metrics.results_dropped.labels("bound").inc()
            self.log.error("result of %s given up: more than %d results wait for the hub",
                           given_up["result"]["operation_id"], self.settings.results_kept)
        self.metrics.results_pending.set(len(self.outbox))
        self.wake.set()

    # the hub

    def hub_loop(self) -> None:
        delays: Optional[Iterator[float]] = None
        connected = False
        next_report = next_poll = 0.0
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                if not connected:
                    self.hub.health()
                    connected, next_report = True, 0.0
                    self._hub_answered()
                    self.log.info("connected to the hub at %s", self.settings.hub_endpoint)
                    # The first report says how the backend is, so it waits (a little) for the first check.
                    self.first_check.wait(FIRST_CHECK_SECONDS)
                now = time.monotonic()
                if now >= next_report:
                    next_report = now + self.report_interval
                    self.send_report()
                if now >= next_poll:
                    next_poll = now + self.settings.poll_interval
                    for document in self.hub.operations():
                        self._take_pulled(document)
                self.flush()
                delays = None
                self.wake.wait(max(0.0, min(next_report, next_poll) - time.monotonic()))
            except HubError as err:
                if err.retryable:
                    connected = False
                    delays = delays or backoff(base=0.5, factor=2.0, cap=30.0, jitter=0.2)
                    delay = next(delays)
                    self._hub_trouble(self.state.hub_unreachable, err, "retrying in %.1f s" % delay)
                    self.stopping.wait(delay)
                else:
                    self._hub_trouble(self.state.hub_refused, err, "not retried")
                    self.stopping.wait(self.settings.poll_interval)
            except Exception:  # pylint: disable=broad-exception-caught  # the loop must outlive a bug
                self.log.exception("the hub loop failed; going on after %s s", self.settings.poll_interval)
                self.stopping.wait(self.settings.poll_interval)

    def _hub_trouble(self, mark: Any, err: HubError, then: str) -> None:
        mark(str(err))
        self.metrics.set_state(self.state.snapshot()["state"])
        self.log.warning("hub %s; %s", err, then)

    def _take_pulled(self, document: Any) -> None:
        try:
            self.accept(document, "pull")
        except (wire.BadOperation, RuntimeError) as err:
            self.log.error("pulled operation skipped: %s", err)

    def _hub_answered(self) -> None:
        self.state.hub_ok(wire.now())
        self.metrics.set_state(self.state.snapshot()["state"])

    def send_report(self) -> None:
        self.hub.report(self.report())
        self._hub_answered()

    def flush(self) -> None:
        """Post the kept results, oldest first; a 4xx answer gives one up, a retryable failure stops the round."""
        while True:
            entry = self.outbox.head()
            if entry is None:
                return
            try:
                self.hub.post_result(entry["result"])
                self._hub_answered()
            except HubError as err:
                if err.retryable:
                    raise
                self.metrics.results_dropped.labels("refused").inc()
                self.log.error("result of %s refused by the hub, not retried: %s", entry["result"]["operation_id"],
                               err)
            self.outbox.done(entry)
            self.journal.done(entry["key"])
            self.metrics.results_pending.set(len(self.outbox))

    def report(self) -> dict[str, Any]:
        errors: list[str] = []
        metrics: Optional[dict[str, Any]] = None
        vms: list[dict[str, Any]] = []
        vdcs: list[dict[str, Any]] = []
        when = wire.rfc3339(wire.now()) or ""
        try:
            vms = [vm_status(vm, self.settings.default_namespace, when)
                   for vm in self.backend.provider(EVERY_NAMESPACE).list_vms()]
            self.vm_count = len(vms)
            self.metrics.count_vms(vm["status"] for vm in vms)
        except VirtrigaudError as err:
            errors.append("VMs not listed: %s" % err.message)
            self.backend.forget()
        if self.backend.namespaced:
            try:
                vdcs = self.vdcs.report(when, collections.Counter(vm["namespace"] for vm in vms))
            except VirtrigaudError as err:
                errors.append("VDCs not listed: %s" % err.message)
            try:
                metrics, notes = cluster.collect(lambda: self.vdcs.kube, len(vms),
                                                 (self.settings.cluster_id, self.settings.zone_id), when)
                errors += notes
            except VirtrigaudError as err:
                errors.append("cluster metrics not collected: %s" % err.message)
        else:
            errors.append("cluster metrics come from Kubernetes: the %s backend has none" % self.settings.provider_type)
        snapshot = self.state.snapshot()
        return {"agent_id": self.settings.agent_id, "cluster_id": self.settings.cluster_id,
                "zone_id": self.settings.zone_id, "status": snapshot["status"],
                "version": VERSION, "metrics": metrics, "vdcs": vdcs, "vms": vms,
                "last_hub_contact": snapshot["last_hub_contact"] or wire.rfc3339(wire.now()),
                "report_time": wire.rfc3339(wire.now()), "errors": errors, "callback_url": self.settings.callback_url}

    # the backend

    def check_backend(self) -> None:
        while not self.stopping.is_set():
            try:
                self.backend.provider().validate()
                self.state.backend(True, "%s answers" % self.settings.provider.label)
            except VirtrigaudError as err:
                self.state.backend(False, err.message)
                self.backend.forget()
            except Exception as err:  # pylint: disable=broad-exception-caught  # the checks must go on after a bug
                self.log.exception("the backend check failed")
                self.state.backend(False, "internal error: %s" % type(err).__name__)
                self.backend.forget()
            self.metrics.set_state(self.state.snapshot()["state"])
            self.first_check.set()
            self.stopping.wait(self.settings.health_check_interval)

    # the agent's own answers

    def health(self) -> dict[str, Any]:
        return dict(self.state.snapshot(), agent_id=self.settings.agent_id, version=VERSION,
                    backend_type=self.settings.provider_type, hub_endpoint=self.settings.hub_endpoint)

    def metrics_answer(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
        return {"operations": counts, "queue_depth": self.intake.qsize() + len(self.running),
                "results_pending": len(self.outbox), "vm_count": self.vm_count,
                "uptime_seconds": int(time.monotonic() - self.started)}

    def detailed_status(self) -> dict[str, Any]:
        return dict(self.health(), **self.metrics_answer(), report_interval_seconds=self.report_interval,
                    log_level=logging.getLevelName(self.log.level).lower(), cluster_id=self.settings.cluster_id,
                    zone_id=self.settings.zone_id, callback_url=self.settings.callback_url)

    def configure(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """ConfigUpdate: the report interval and the log level, and nothing else."""
        unknown = sorted(key for key in payload if key not in CONFIG_KEYS)
        if unknown or not payload:
            raise OperationFailed("ConfigUpdate changes report_interval and log_level only; %s" % (
                "not %s" % ", ".join(unknown) if unknown else "it named neither"))
        given = {CONFIG_KEYS[key]: str(value) for key, value in payload.items()}
        try:
            interval = settings_module.seconds(given, "report_interval", self.report_interval)
            level = given.get("log_level", logging.getLevelName(self.log.level)).lower()
            if level not in settings_module.LOG_LEVELS:
                raise SettingsError("log_level=%r is none of: %s" % (level, ", ".join(settings_module.LOG_LEVELS)))
        except SettingsError as err:
            raise OperationFailed(str(err)) from None
        self.report_interval = interval
        self.log.setLevel(level.upper())
        self.log.info("configuration changed: report interval %s s, log level %s", interval, level)
        self.wake.set()
        return {"report_interval_seconds": interval, "log_level": level}

    def reload_templates(self) -> Mapping[str, str]:
        try:
            self.templates = settings_module.load_catalogue(settings_module.environment())
        except SettingsError as err:
            raise OperationFailed(str(err)) from None
        return self.templates

    # running and stopping

    def serve_until_signal(self) -> int:
        signal.signal(signal.SIGTERM, lambda *dummy: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *dummy: self.stopping.set())
        self.api.start(self.settings.api_address, self.settings.api_port)
        current = self.settings
        self.log.info("OVIM spoke %s for cluster %s (zone %s) on %s, hub %s, local API on %s:%d", current.agent_id,
                      current.cluster_id, current.zone_id, current.provider.label, current.hub_endpoint,
                      current.api_address, current.api_port)
        workers = [threading.Thread(target=self.work, name="worker-%d" % i, daemon=True)
                   for i in range(self.settings.workers)]
        hub = threading.Thread(target=self.hub_loop, name="hub", daemon=True)
        for thread in workers + [hub, threading.Thread(target=self.check_backend, name="check", daemon=True)]:
            thread.start()
        self._resume()
        self.stopping.wait()
        self.shut_down(workers, hub)
        return 0

    def _resume(self) -> None:
        """Run again what an earlier run took and never answered (it was killed): every operation is idempotent."""
        for key, document, via in self.journal.pending():
            try:
                self.log.warning("operation %s taken by an earlier run and not answered: running it again",
                                 (document or {}).get("id") if isinstance(document, dict) else "?")
                self.accept(document, via, key)
            except (wire.BadOperation, RuntimeError) as err:
                self.log.error("journalled operation skipped: %s", err)
                self.journal.done(key)

    def shut_down(self, workers: list[threading.Thread], hub: threading.Thread) -> None:
        """Intake is closed: finish what runs within the grace, answer the rest as failed, post every result."""
        deadline = time.monotonic() + self.settings.shutdown_grace
        self.log.info("stopping: no more operations taken; %d running, %d queued", len(self.running),
                      self.intake.qsize())
        self.wake.set()
        hub.join()
        for dummy in workers:
            self.intake.put(None)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self._abandon()
        self._last_flush(deadline)
        self.api.stop()
        self.log.info("stopped; %d results not delivered", len(self.outbox))

    def _abandon(self) -> None:
        leftovers = []
        while True:
            try:
                operation = self.intake.get_nowait()
            except queue.Empty:
                break
            if operation is not None:
                leftovers.append((operation, "not run: the spoke stopped before it started it"))
        with self._lock:
            leftovers += [(op, "the spoke stopped before it finished; it may have been done in part")
                          for op in self.running.values()]
        for operation, reason in leftovers:
            self.finish(operation, False, 0.0, None, reason)

    def _last_flush(self, deadline: float) -> None:
        delays = backoff(base=0.2, factor=2.0, cap=2.0, jitter=0.2)
        while len(self.outbox) and time.monotonic() < deadline:
            try:
                self.flush()
            except HubError as err:
                self.log.warning("hub %s; %d results still to post", err, len(self.outbox))
                time.sleep(min(next(delays), max(0.0, deadline - time.monotonic())))


def main() -> int:
    try:
        current = settings_module.load()
        log = make_logger(current.log_level)
        agent = Agent(current, log)
    except SettingsError as err:
        print("virtrigaud-ovim-spoke: %s" % err, flush=True, file=sys.stderr)
        return 2
    return agent.serve_until_signal()
