# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deadlines, backoff, retry, poll and the circuit breaker with a fake clock: nothing here really sleeps."""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    DeadlineExceededError,
    NotFoundError,
    UnavailableError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import (
    CircuitBreaker,
    Deadline,
    backoff,
    poll,
    retry,
)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_deadline_counts_down_and_caps_delays():
    clock = FakeClock()
    deadline = Deadline(10, clock=clock)
    assert deadline.remaining == 10 and not deadline.expired
    clock.now += 7
    assert deadline.cap(5) == 3
    clock.now += 4
    assert deadline.remaining == 0 and deadline.expired


def test_no_deadline_never_expires():
    deadline = Deadline(None)
    assert deadline.remaining is None and not deadline.expired and deadline.cap(9) == 9


def test_backoff_grows_to_its_cap():
    delays = list(itertools.islice(backoff(base=1, factor=2, cap=5, jitter=0), 5))
    assert delays == [1, 2, 4, 5, 5]


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_backoff_jitter_stays_within_its_bounds(draw):
    first = next(backoff(base=10, jitter=0.1, rng=lambda: draw))
    assert 9 <= first <= 11


def test_retry_tries_transient_errors_again():
    clock, calls = FakeClock(), []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise UnavailableError("busy")
        return "ok"

    assert retry(flaky, attempts=5, delays=iter([1, 2, 3]), sleep=clock.sleep) == "ok"
    assert clock.sleeps == [1, 2]


def test_retry_does_not_repeat_permanent_errors():
    calls = []

    def missing():
        calls.append(1)
        raise NotFoundError("gone")

    with pytest.raises(NotFoundError):
        retry(missing, sleep=lambda s: None)
    assert len(calls) == 1


def always_down():
    raise UnavailableError("down")


def test_retry_gives_up_after_its_attempts():
    clock = FakeClock()
    with pytest.raises(UnavailableError):
        retry(always_down, attempts=3, delays=iter([1, 1, 1]),
              sleep=clock.sleep)
    assert len(clock.sleeps) == 2


def test_retry_stops_at_the_deadline():
    clock = FakeClock()
    deadline = Deadline(2.5, clock=clock)
    with pytest.raises(UnavailableError):
        retry(always_down, attempts=10, delays=iter([1] * 10),
              sleep=clock.sleep, deadline=deadline)
    assert sum(clock.sleeps) <= 2.5


def test_poll_returns_the_first_answer():
    clock = FakeClock()
    answers = iter([None, None, "ready"])
    assert poll(lambda: next(answers), Deadline(60, clock=clock), "it", sleep=clock.sleep) == "ready"
    assert len(clock.sleeps) == 2


def test_poll_probes_at_most_two_seconds_apart_by_default():
    clock = FakeClock()
    answers = iter([None] * 20 + ["ready"])
    assert poll(lambda: next(answers), Deadline(600, clock=clock), "it", sleep=clock.sleep) == "ready"
    assert clock.sleeps[0] == 0.5
    assert max(clock.sleeps) == 2.0


def test_poll_times_out_naming_what_it_waited_for():
    clock = FakeClock()
    with pytest.raises(DeadlineExceededError) as caught:
        poll(lambda: None, Deadline(5, clock=clock), "an IP address", sleep=clock.sleep)
    assert "an IP address" in caught.value.message
    assert caught.value.retryable


def test_circuit_breaker_opens_half_opens_and_closes():
    clock = FakeClock()
    clock.now = 0.0
    breaker = CircuitBreaker("rt:9443", threshold=3, cool_down=30, clock=clock)
    for dummy in range(3):
        breaker.check()
        breaker.record(False)
    with pytest.raises(UnavailableError) as tripped:
        breaker.check()
    assert "circuit breaker open for rt:9443" in tripped.value.msg
    clock.now = 31
    assert breaker.state == "half-open"
    breaker.check()
    breaker.record(False)
    assert breaker.state == "open"
    clock.now = 62
    breaker.record(True)
    assert breaker.state == "closed"
