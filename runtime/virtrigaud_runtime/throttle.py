# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider.spec.rateLimit: one token bucket in front of the backend, shared by every provider.v1 call.

Each call that reaches the backend takes one token first; a call that finds
none waits its turn, and the wait is counted.  The runtime's own periodic
checks (one Validate and one ListVMs an interval) take none, so a busy
runtime still knows whether its hypervisor answers.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import RateLimiter

from .metrics import Metrics


class Throttle:
    def __init__(self, limiter: Optional[RateLimiter], metrics: Metrics) -> None:
        self.limiter = limiter
        self.metrics = metrics

    def admit(self, method: str) -> float:
        """Wait for a token (no wait without a limit); return the seconds waited."""
        if self.limiter is None:
            return 0.0
        waited = self.limiter.acquire()
        self.metrics.waited(method, waited)
        return waited
