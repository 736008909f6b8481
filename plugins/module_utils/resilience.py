# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deadlines, jittered backoff, retries and polling, with the clock injected.

Tests pass a fake clock and sleep, so nothing here ever really waits in a unit test.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, TypeVar

from .errors import DeadlineExceededError, UnavailableError, VirtrigaudError

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass
class Deadline:
    """A point in time operations must finish by; ``None`` seconds means no limit."""

    seconds: Optional[float]
    clock: Clock = time.monotonic
    start: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.start = self.clock()

    @property
    def remaining(self) -> Optional[float]:
        if self.seconds is None:
            return None
        return max(0.0, self.start + self.seconds - self.clock())

    @property
    def expired(self) -> bool:
        remaining = self.remaining
        return remaining is not None and remaining <= 0

    def cap(self, delay: float) -> float:
        remaining = self.remaining
        return delay if remaining is None else min(delay, remaining)


def backoff(
    base: float = 0.5, factor: float = 2.0, cap: float = 30.0, jitter: float = 0.1,
    rng: Callable[[], float] = random.random,
) -> Iterator[float]:
    """Endless exponential delays, each spread by up to ``jitter`` of itself."""
    delay = base
    while True:
        yield delay * (1 + jitter * (2 * rng() - 1))
        delay = min(cap, delay * factor)


def retry(
    call: Callable[[], T],
    attempts: int = 5,
    delays: Optional[Iterator[float]] = None,
    sleep: Sleep = time.sleep,
    deadline: Optional[Deadline] = None,
    only: tuple[type[VirtrigaudError], ...] = (VirtrigaudError,),
) -> T:
    """Call until it succeeds; only errors marked ``retryable`` (and of the ``only`` kinds) are tried again."""
    delays = delays if delays is not None else backoff()
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except VirtrigaudError as err:
            final = attempt == attempts or (deadline is not None and deadline.expired)
            if not err.retryable or not isinstance(err, only) or final:
                raise
            delay = next(delays)
            sleep(deadline.cap(delay) if deadline else delay)
    raise AssertionError("unreachable")


def poll(
    probe: Callable[[], Optional[T]],
    deadline: Deadline,
    what: str,
    interval: float = 0.5,
    max_interval: float = 2.0,
    sleep: Sleep = time.sleep,
) -> T:
    """Call ``probe`` until it returns something other than None, or raise at the deadline.

    The probes are cheap reads (a task's status, a VM's addresses); by default they come at most 2 s apart, so a
    wait ends within 2 s of what it waits for, not 5.
    """
    delays = backoff(base=interval, factor=1.5, cap=max_interval, jitter=0.0)
    while True:
        result = probe()
        if result is not None:
            return result
        if deadline.expired:
            raise DeadlineExceededError("timed out after %ss waiting for %s" % (deadline.seconds, what))
        sleep(deadline.cap(next(delays)))


class CircuitBreaker:
    """Closed → open after ``threshold`` failures in a row → half-open after ``cool_down`` s → closed on a success.

    While open, :meth:`check` raises at once instead of letting the call wait on a dead endpoint.
    """

    def __init__(self, name: str, threshold: int = 5, cool_down: float = 30.0, clock: Clock = time.monotonic) -> None:
        self.name = name
        self.threshold = threshold
        self.cool_down = cool_down
        self.clock = clock
        self.failures = 0
        self.opened_at: Optional[float] = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cool_down else "open"

    def check(self) -> None:
        if self.state == "open":
            wait = self.cool_down - (self.clock() - (self.opened_at or 0.0))
            raise UnavailableError(
                "circuit breaker open for %s after %d failures in a row; the next call is let through in %.0f s"
                % (self.name, self.failures, max(wait, 0.0)), details={"circuit_breaker": "open"})

    def record(self, success: bool) -> None:
        if success:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold or self.state == "half-open":
            self.opened_at = self.clock()


class RateLimiter:
    """A token bucket shared by threads: on average ``rate`` acquisitions a second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self.clock = clock
        self.sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token, sleeping until there is one; return the seconds slept (0.0 when one was there)."""
        slept = 0.0
        while True:
            with self._lock:
                now = self.clock()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return slept
                wait = (1 - self._tokens) / self.rate
            self.sleep(wait)
            slept += wait
