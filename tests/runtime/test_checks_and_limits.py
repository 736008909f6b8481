# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypervisor check, the rate limit, the metrics' labels and the logs' correlation id, on a fake clock."""

from __future__ import annotations

import json
import logging

import pytest

from virtrigaud_runtime.config import SettingsError, settings
from virtrigaud_runtime.metrics import Metrics, public_endpoint
from virtrigaud_runtime.observe import CORRELATION, logger, new_correlation_id
from virtrigaud_runtime.throttle import Throttle
from virtrigaud_runtime.watch import UNCHECKED, BackendWatch, Verdict

from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_above_burst_is_spread_at_qps():
    clock = FakeClock()
    metrics = Metrics("ns/p", "mock://")
    throttle = Throttle(RateLimiter(5, 2, clock=clock, sleep=clock.sleep), metrics)
    granted = []
    for dummy in range(7):
        throttle.admit("Create")
        granted.append(round(clock.now, 6))
    assert granted == [0.0, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    sample = metrics.registry.get_sample_value
    assert sample("provider_rate_limited_requests_total", {"method": "Create"}) == 5
    assert sample("provider_rate_limit_wait_seconds_count", {"method": "Create"}) == 7
    assert sample("provider_rate_limit_wait_seconds_sum", {"method": "Create"}) == pytest.approx(1.0)


def test_an_idle_bucket_fills_up_to_burst_only():
    clock = FakeClock()
    throttle = Throttle(RateLimiter(5, 2, clock=clock, sleep=clock.sleep), Metrics())
    clock.now = 60.0
    waits = [throttle.admit("Describe") for dummy in range(3)]
    assert waits[:2] == [0.0, 0.0] and waits[2] == pytest.approx(0.2)


def test_without_a_limit_nothing_waits_or_is_counted():
    metrics = Metrics()
    assert Throttle(None, metrics).admit("Create") == 0.0
    assert metrics.registry.get_sample_value("provider_rate_limit_wait_seconds_count", {"method": "Create"}) is None


def test_probes_read_the_cached_verdict_and_a_hung_check_fails():
    clock = FakeClock()
    calls = []
    seen_while_checking = []

    def check() -> Verdict:
        calls.append(clock.now)
        if len(calls) == 2:
            clock.now += 11
            seen_while_checking.append(watch.verdict)
        return Verdict(len(calls) == 1, "ok" if len(calls) == 1 else "refused")

    changes = []
    watch = BackendWatch(check, interval=10, timeout=10, on_verdict=lambda old, new: changes.append((old, new)),
                         clock=clock)
    assert watch.verdict is UNCHECKED and not watch.verdict.reachable
    watch.run_once()
    assert [watch.verdict.reachable for dummy in range(100)] == [True] * 100
    assert len(calls) == 1
    watch.run_once()
    assert not seen_while_checking[0].reachable and "not answered for 11 s" in seen_while_checking[0].message
    assert watch.verdict == Verdict(False, "refused")
    assert [(old.reachable, new.reachable) for old, new in changes] == [(False, True), (True, False)]


@pytest.mark.parametrize("uri, label", [
    ("qemu+ssh://admin@kvm.example.com/system?keyfile=/secret/id", "qemu+ssh://kvm.example.com/system"),
    ("https://user:pass@vc.example.com/sdk", "https://vc.example.com/sdk"),
    ("pve.example.com:8006", "pve.example.com:8006"),
    ("mock:///tmp/state.json", "mock:///tmp/state.json"),
    (None, ""),
])
def test_the_endpoint_label_carries_no_credentials(uri, label):
    assert public_endpoint(uri) == label


def test_vm_states_are_running_and_stopped():
    metrics = Metrics()
    metrics.count_vms(iter(["On", "Off", "Off"]))
    sample = metrics.registry.get_sample_value
    assert (sample("provider_vms_total", {"state": "running"}), sample("provider_vms_total", {"state": "stopped"})) \
        == (1, 2)


def test_a_call_counts_under_its_outcome_and_an_outcome_shows_once_it_happened():
    metrics = Metrics("ns/p", "mock://")

    def count(status):
        return metrics.registry.get_sample_value("provider_grpc_requests_total",
                                                 {"method": "Describe", "status": status})

    metrics.observe("Describe", True, 0.001)
    metrics.observe("Describe", True, 0.002)
    assert (count("success"), count("error")) == (2.0, None)
    metrics.observe("Describe", False, 0.003)
    assert (count("success"), count("error")) == (2.0, 1.0)
    assert metrics.registry.get_sample_value("provider_grpc_request_duration_seconds_count",
                                             {"method": "Describe"}) == 3.0


def test_a_call_without_a_correlation_id_gets_16_hex_digits_of_its_own():
    made = {new_correlation_id() for dummy in range(100)}
    assert len(made) == 100
    assert all(len(found) == 16 and int(found, 16) >= 0 for found in made)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_each_line_of_a_call_carries_its_correlation_id(capsys, fmt):
    log = logger("info", fmt)
    token = CORRELATION.set("corr-unit-1")
    try:
        log.info("inside the call")
    finally:
        CORRELATION.reset(token)
    log.info("outside any call")
    inside, outside = capsys.readouterr().err.splitlines()
    if fmt == "json":
        assert json.loads(inside)["correlation_id"] == "corr-unit-1"
        assert "correlation_id" not in json.loads(outside)
    else:
        assert "[corr-unit-1] inside the call" in inside and "corr-unit-1" not in outside
    logging.getLogger("virtrigaud.runtime").handlers[:] = []


@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"PROVIDER_RATE_LIMIT_QPS": "5", "PROVIDER_RATE_LIMIT_BURST": "2"}, (5, 2)),
    ({"PROVIDER_RATE_LIMIT_QPS": " 50 "}, (50, 20)),
    ({"PROVIDER_RATE_LIMIT_BURST": "40"}, (10, 40)),
    ({"PROVIDER_RATE_LIMIT_QPS": "", "PROVIDER_RATE_LIMIT_BURST": ""}, None),
])
def test_rate_limit_settings(tmp_path, env, expected):
    found = settings(["--provider-type", "mock", "--insecure", "--tls-dir", str(tmp_path)], env)
    assert found.rate_limit == expected


@pytest.mark.parametrize("name, value, bounds", [
    ("PROVIDER_RATE_LIMIT_QPS", "abc", "1 to 1000"),
    ("PROVIDER_RATE_LIMIT_QPS", "0", "1 to 1000"),
    ("PROVIDER_RATE_LIMIT_QPS", "2.5", "1 to 1000"),
    ("PROVIDER_RATE_LIMIT_QPS", "1001", "1 to 1000"),
    ("PROVIDER_RATE_LIMIT_BURST", "-1", "1 to 2000"),
    ("PROVIDER_RATE_LIMIT_BURST", "5\nx", "1 to 2000"),
])
def test_bad_rate_limit_settings_name_the_variable(tmp_path, name, value, bounds):
    with pytest.raises(SettingsError) as refused:
        settings(["--provider-type", "mock", "--insecure", "--tls-dir", str(tmp_path)], {name: value})
    message = str(refused.value)
    assert message.startswith(name + " is ") and bounds in message and "\n" not in message


@pytest.mark.parametrize("flag, value", [("--check-interval", "0"), ("--check-timeout", "-1"),
                                         ("--check-interval", "inf")])
def test_check_periods_must_be_positive(tmp_path, flag, value):
    with pytest.raises(SettingsError) as refused:
        settings(["--provider-type", "mock", "--insecure", "--tls-dir", str(tmp_path), flag, value], {})
    assert flag in str(refused.value)
