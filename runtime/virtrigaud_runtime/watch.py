# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypervisor check behind readiness: run on a timer in its own thread, read from a cache by the probes.

A probe never makes a backend round trip.  After each check that reached the
hypervisor, ``refresh`` runs (the VM counts of the metrics), so readiness never
waits for a listing.  A check that hangs longer than
``timeout`` counts as failed until it returns, so a hypervisor that stops
answering (rather than refusing) still turns readiness off.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Clock


@dataclass(frozen=True)
class Verdict:
    reachable: bool
    message: str


UNCHECKED = Verdict(False, "not checked yet")


class BackendWatch:
    def __init__(self, check: Callable[[], Verdict], interval: float, timeout: float,
                 on_verdict: Callable[[Verdict, Verdict], None] = lambda old, new: None,
                 refresh: Callable[[], None] = lambda: None, clock: Clock = time.monotonic) -> None:
        self.check = check
        self.refresh = refresh
        self.interval = interval
        self.timeout = timeout
        self.on_verdict = on_verdict
        self.clock = clock
        self._verdict = UNCHECKED
        self._since: Optional[float] = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def verdict(self) -> Verdict:
        """The last check's answer, or a failure when the check running now has outlasted ``timeout``."""
        with self._lock:
            since, verdict = self._since, self._verdict
        if since is not None and self.clock() - since > self.timeout:
            return Verdict(False, "the hypervisor check has not answered for %d s" % (self.clock() - since))
        return verdict

    def run_once(self) -> Verdict:
        """One check; ``check`` reports failures as a verdict and never raises."""
        with self._lock:
            self._since = self.clock()
        verdict = self.check()
        with self._lock:
            old, self._verdict, self._since = self._verdict, verdict, None
        self.on_verdict(old, verdict)
        return verdict

    def _loop(self) -> None:
        while True:
            if self.run_once().reachable:
                self.refresh()
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="hypervisor-check")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
