# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runtime as operators run it, as a real process: readiness that follows the hypervisor, the rate
limit, correlation ids from the remote client, and settings that stop it with one clear line.

The mock backend keeps its VMs in a state file: when the file's directory
goes away the backend is unreachable for real (Validate and every call fail),
and when it comes back so does the backend.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import PowerOp, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.provider import RemoteProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.wire import wire
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

from test_runtime import PKI, Runtime, scrape  # pylint: disable=import-error

pytestmark = pytest.mark.skipif(not (PKI / "client.crt").exists(), reason="run scripts/testbed/runtime.sh certs")


class CheckedRuntime(Runtime):
    """A runtime whose mock backend lives in its own folder, checked every 0.2 s."""

    def __init__(self, tmp, extra_env=None) -> None:
        super().__init__(tmp, extra_env=extra_env)
        self.state = tmp / "backend"
        self.state.mkdir()
        self.env["PROVIDER_ENDPOINT"] = "mock://%s" % (self.state / "state.json")

    def command(self, tls_dir=None):
        return super().command(tls_dir) + ["--check-interval", "0.2", "--check-timeout", "5"]

    def until(self, path: str, status: int) -> tuple[int, str]:
        """Poll a probe until it answers ``status`` (a bound, not a measurement: the check runs every 0.2 s)."""
        deadline = time.monotonic() + 20
        answer = self._probe(path)
        while answer[0] != status and time.monotonic() < deadline:
            time.sleep(0.1)
            answer = self._probe(path)
        assert answer[0] == status, answer
        return answer

    def _probe(self, path: str) -> tuple[int, str]:
        try:
            return self.get(path)
        except OSError as err:  # not listening yet
            return 0, str(err)

    def rpc_lines(self) -> list[dict]:
        entries = [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]
        return [entry for entry in entries if entry.get("msg") == "rpc"]


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture(name="checked")
def checked_fixture(tmp_path):
    started = CheckedRuntime(tmp_path).start()
    yield started
    started.kill()


def test_readiness_follows_the_hypervisor_and_liveness_does_not(checked):
    endpoint = checked.env["PROVIDER_ENDPOINT"]
    checked.provider().create(parse_vm({"name": "ready-1", "image": "base"}))
    gone = checked.state.with_name("backend-gone")
    checked.state.rename(gone)
    checked.until("/readyz", 503)
    assert checked.get("/healthz") == (200, "ok\n")
    status, body = checked.get("/health")
    health = json.loads(body)
    assert status == 503 and health["status"] == "unhealthy" and health["checks"]["grpc"] == "serving"
    assert health["checks"]["hypervisor"].startswith("unreachable: ")
    samples = scrape(checked)
    assert value(samples, "provider_hypervisor_connection_status", endpoint=endpoint) == 0
    assert value(samples, "provider_health_status", provider="mock") == 0
    gone.rename(checked.state)
    checked.until("/readyz", 200)
    samples = scrape(checked)
    assert value(samples, "provider_hypervisor_connection_status", endpoint=endpoint) == 1
    assert value(samples, "provider_health_status", provider="mock") == 1
    messages = [json.loads(line)["msg"] for line in checked.log.read_text().splitlines() if line.startswith("{")]
    went_down = messages.index("the hypervisor does not answer; not ready")
    assert "the hypervisor answers; ready" in messages[went_down:]


def test_vm_counts_follow_the_backend_on_a_timer(checked):
    provider = checked.provider()
    vm_id, dummy = provider.create(parse_vm({"name": "timer-1", "image": "base"}))
    provider.create(parse_vm({"name": "timer-2", "image": "base"}))
    provider.power(vm_id, PowerOp.ON)

    def counts(samples):
        return tuple(value(samples, "provider_vms_total", state=state) for state in ("running", "stopped"))

    # No ListVMs call: the runtime's own timer must notice the two VMs.
    deadline = time.monotonic() + 20
    samples = scrape(checked)
    while counts(samples) != (1, 1) and time.monotonic() < deadline:
        time.sleep(0.1)
        samples = scrape(checked)
    assert counts(samples) == (1, 1)
    assert value(samples, "provider_grpc_requests_total", method="ListVMs", status="success") is None


def test_a_burst_above_burst_waits_its_turn(tmp_path):
    limited = CheckedRuntime(tmp_path, {"PROVIDER_RATE_LIMIT_QPS": "2", "PROVIDER_RATE_LIMIT_BURST": "2"}).start()
    try:
        request_type, response_type = wire().methods["Validate"]
        stub = limited.channel().unary_unary(wire().path("Validate"), request_serializer=request_type.SerializeToString,
                                             response_deserializer=response_type.FromString)
        burst = [stub.future(request_type(), timeout=30) for dummy in range(6)]
        assert all(call.result().ok for call in burst)
        samples = scrape(limited)
    finally:
        limited.kill()
    assert value(samples, "provider_rate_limited_requests_total", method="Validate") == 4
    assert value(samples, "provider_rate_limit_wait_seconds_count", method="Validate") == 6
    assert value(samples, "provider_grpc_requests_total", method="Validate", status="success") == 6
    waits = [line.get("waited_ms", 0) for line in limited.rpc_lines() if line["method"] == "Validate"]
    # Two calls find a token; the other four are let through one at a time, each after a longer wait.
    assert waits[:2] == [0, 0] and all(waits[i] < waits[i + 1] for i in range(1, 5)), waits


def test_the_remote_client_sends_its_correlation_id_on_every_call(checked):
    options = {"ca_path": str(PKI / "ca" / "ca.crt"), "client_cert": str(PKI / "client.crt"),
               "client_key": str(PKI / "client.key"), "correlation_id": "run-4711"}
    provider = RemoteProvider(ProviderConfig(type="remote", uri="127.0.0.1:%d" % checked.port, options=options))
    vm_id, dummy = provider.create(parse_vm({"name": "joined-1", "image": "base"}))
    provider.power(vm_id, PowerOp.ON)
    provider.describe(vm_id)
    with pytest.raises(errors.SpecError) as failed:
        provider.create(parse_vm({"name": "joined-2", "image": "missing-image"}))
    assert failed.value.details["correlation_id"] == "run-4711"
    other = checked.provider()
    other.list_vms()
    lines = checked.rpc_lines()
    ours = [line["method"] for line in lines if line.get("correlation_id") == "run-4711"]
    assert ours == ["Create", "Power", "Describe", "Create"]
    theirs = {line["correlation_id"] for line in lines if line["method"] == "ListVMs"}
    assert theirs == {other.correlation_id} and other.correlation_id.startswith("vr-")
    assert all(line.get("correlation_id") for line in lines)


def test_the_correlation_id_comes_back_and_a_call_without_one_gets_its_own(checked):
    request_type, response_type = wire().methods["Validate"]
    stub = checked.channel().unary_unary(wire().path("Validate"), request_serializer=request_type.SerializeToString,
                                         response_deserializer=response_type.FromString)
    dummy, call = stub.with_call(request_type(), metadata=(("x-correlation-id", "corr-back"),), timeout=10)
    assert dict(call.trailing_metadata())["x-correlation-id"] == "corr-back"
    made = {dict(stub.with_call(request_type(), timeout=10)[1].trailing_metadata())["x-correlation-id"]
            for dummy in range(2)}
    assert len(made) == 2 and all(re.fullmatch("[0-9a-f]{16}", found) for found in made)


@pytest.mark.parametrize("name, value_", [("PROVIDER_RATE_LIMIT_QPS", "fast"), ("PROVIDER_RATE_LIMIT_BURST", "0")])
def test_bad_rate_limit_stops_the_runtime_with_one_line(tmp_path, name, value_):
    runtime = Runtime(tmp_path, extra_env={name: value_})
    result = subprocess.run(runtime.command(), env=runtime.env, capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and name in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_hypervisor_at_start_is_served_but_not_ready(tmp_path):
    down = CheckedRuntime(tmp_path)
    down.state.rmdir()
    with open(down.log, "ab") as log:
        down.process = subprocess.Popen(down.command(), env=down.env, stdout=log, stderr=log)
    try:
        down.until("/healthz", 200)
        assert down.get("/readyz") == (503, "not ready\n")
        with pytest.raises(errors.UnavailableError) as refused:
            down.provider().create(parse_vm({"name": "early", "image": "base"}))
        assert refused.value.details["rpc"] == "Create"
        down.state.mkdir()
        down.until("/readyz", 200)
    finally:
        down.kill()


def test_without_the_hypervisor_check_readiness_follows_serving_alone(tmp_path):
    unchecked = CheckedRuntime(tmp_path)
    unchecked.state.rmdir()
    with open(unchecked.log, "ab") as log:
        unchecked.process = subprocess.Popen(unchecked.command() + ["--no-hypervisor-check"], env=unchecked.env,
                                             stdout=log, stderr=log)
    try:
        unchecked.until("/readyz", 200)
        health = json.loads(unchecked.get("/health")[1])
        assert health["status"] == "healthy" and health["checks"]["hypervisor"] == "not checked"
    finally:
        unchecked.kill()
