# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider runtime as a real process over real gRPC, with the mock backend behind it.

Run by ``scripts/test.sh runtime`` with RUNTIME_PKI pointing at the
certificates ``scripts/testbed/runtime.sh certs`` makes, and the collection
tree and ``runtime/`` on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.disks import parse_export, parse_import
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import PowerOp, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.provider import RemoteProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.wire import wire
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

PKI = pathlib.Path(os.environ.get("RUNTIME_PKI", "/nonexistent"))
pytestmark = pytest.mark.skipif(not (PKI / "client.crt").exists(), reason="run scripts/testbed/runtime.sh certs")

# An upstream manager's Create for a VM with no networks and no extra disks (reference FACTS.md §4.6).
UPSTREAM_CLASS = ('{"CPU":2,"MemoryMiB":4096,"Firmware":"UEFI","DiskDefaults":{"Type":"thin","SizeGiB":40},'
                  '"GuestToolsPolicy":"install","ExtraConfig":{"vsphere.hardwareVersion":"19"},'
                  '"PerformanceProfile":null,"SecurityProfile":null,"ResourceLimits":null}')
UPSTREAM_IMAGE = ('{"TemplateName":"ubuntu-22-template","Path":"","URL":"","Format":"template","Checksum":"",'
                  '"ChecksumType":"sha256"}')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Runtime:
    """One runtime process; ``start`` can be called again after ``kill`` on the same ports and state."""

    def __init__(self, tmp: pathlib.Path, tls: bool = True, extra_env: dict | None = None, workers: int = 1) -> None:
        self.tmp = tmp
        self.workers = workers
        self.port, self.http = free_port(), free_port()
        self.tls = tls
        self.env = dict(os.environ, PROVIDER_TYPE="mock", PROVIDER_ENDPOINT="mock://%s" % (tmp / "state.json"),
                        LOG_LEVEL="debug", **(extra_env or {}))
        self.log = tmp / "runtime.log"
        self.process: subprocess.Popen | None = None

    def command(self, tls_dir: pathlib.Path | None = None) -> list[str]:
        folder = tls_dir or (PKI / "server-tls" if self.tls else self.tmp / "no-tls")
        return [sys.executable, "-m", "virtrigaud_runtime", "--grpc-addr=127.0.0.1:%d" % self.port,
                "--metrics-addr=127.0.0.1:%d" % self.http, "--tls-dir", str(folder),
                "--credentials-dir", str(self.tmp / "credentials"), "--task-window", "0.2",
                "--workers", str(self.workers)]

    def start(self) -> "Runtime":
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command(), env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("the runtime exited: %s" % self.log.read_text())
            try:
                if self.get("/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("the runtime did not become ready: %s" % self.log.read_text())

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.http, path), timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def channel(self, cert: str = "client", own_connection: bool = False) -> grpc.Channel:
        """A channel; with ``own_connection``, one that shares no connection with the others of this process."""
        options = (("grpc.use_local_subchannel_pool", 1),) if own_connection else ()
        if not self.tls:
            return grpc.insecure_channel("127.0.0.1:%d" % self.port, options=options)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(PKI / "ca" / "ca.crt").read_bytes(),
            private_key=(PKI / ("%s.key" % cert)).read_bytes() if cert else None,
            certificate_chain=(PKI / ("%s.crt" % cert)).read_bytes() if cert else None)
        return grpc.secure_channel("127.0.0.1:%d" % self.port, credentials, options=options)

    def provider(self) -> RemoteProvider:
        options = {"ca_path": str(PKI / "ca" / "ca.crt"), "client_cert": str(PKI / "client.crt"),
                   "client_key": str(PKI / "client.key")}
        return RemoteProvider(ProviderConfig(type="remote", uri="127.0.0.1:%d" % self.port, options=options))

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=40)


@pytest.fixture(name="runtime")
def runtime_fixture(tmp_path):
    started = Runtime(tmp_path).start()
    yield started
    started.kill()


def call(channel: grpc.Channel, method: str, metadata=None, **fields):
    request_type, response_type = wire().methods[method]
    stub = channel.unary_unary(wire().path(method), request_serializer=request_type.SerializeToString,
                               response_deserializer=response_type.FromString)
    return stub(request_type(**fields), timeout=10, metadata=metadata)


def test_health_service_and_probes(runtime):
    stub = health_pb2_grpc.HealthStub(runtime.channel())
    for service in ("", "provider"):
        answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert runtime.get("/healthz") == (200, "ok\n")
    assert runtime.get("/readyz") == (200, "ready\n")
    status, body = runtime.get("/health")
    assert status == 200 and json.loads(body)["status"] == "healthy"


def scrape(runtime: Runtime) -> dict[tuple[str, frozenset], float]:
    """/metrics read by prometheus_client's own parser: (sample name, labels) -> value."""
    status, text = runtime.get("/metrics")
    assert status == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def quantile(samples: dict, name: str, method: str, q: float) -> float:
    """The q quantile of a histogram, as Prometheus' histogram_quantile interpolates it."""
    buckets = sorted((float(dict(labels)["le"]), value) for (sample, labels), value in samples.items()
                     if sample == name + "_bucket" and dict(labels)["method"] == method)
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            return bound if bound == float("inf") else lower_bound + (bound - lower_bound) * (
                (rank - lower_count) / (count - lower_count))
        lower_bound, lower_count = bound, count
    raise AssertionError("no bucket holds the rank")


def test_metrics_use_the_seed_names(runtime):
    provider = runtime.provider()
    vm_id, dummy = provider.create(parse_vm({"name": "metrics-1", "image": "base"}))
    provider.create(parse_vm({"name": "metrics-2", "image": "base"}))
    provider.power(vm_id, PowerOp.ON)
    provider.list_vms()
    provider.describe("vm-nonexistent")
    with pytest.raises(errors.NotFoundError):
        provider.power("vm-nonexistent", PowerOp.ON)
    samples = scrape(runtime)

    def value(name, **labels):
        return samples.get((name, frozenset(labels.items())))

    assert value("provider_grpc_requests_total", method="Create", status="success") == 2
    assert value("provider_grpc_requests_total", method="ListVMs", status="success") == 1
    assert value("provider_grpc_requests_total", method="Power", status="error") == 1
    assert value("provider_vms_total", state="running") == 1 and value("provider_vms_total", state="stopped") == 1
    assert value("provider_health_status", provider="mock") == 1
    endpoint = runtime.env["PROVIDER_ENDPOINT"]
    assert value("provider_hypervisor_connection_status", endpoint=endpoint) == 1
    assert value("provider_grpc_request_duration_seconds_count", method="Describe") >= 1
    assert 0 < quantile(samples, "provider_grpc_request_duration_seconds", "Describe", 0.95) <= 300
    assert {labels for (name, labels) in samples if name == "provider_grpc_requests_total"} <= {
        frozenset({("method", m), ("status", s)}) for m in wire().methods for s in ("success", "error")}


def test_tls_fails_closed(tmp_path):
    plain = Runtime(tmp_path, tls=False)
    result = subprocess.run(plain.command(), env=plain.env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "TLS material is missing" in result.stderr and "VIRTRIGAUD_PROVIDER_INSECURE" in result.stderr
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "tls.crt").write_bytes((PKI / "server.crt").read_bytes())
    result = subprocess.run(plain.command(partial), env=plain.env, capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 1 and "tls.key" in result.stderr


def test_insecure_mode_only_when_asked(tmp_path):
    plain = Runtime(tmp_path, tls=False, extra_env={"VIRTRIGAUD_PROVIDER_INSECURE": "true"}).start()
    try:
        assert call(plain.channel(), "Validate").ok
        assert "plaintext" in plain.log.read_text()
    finally:
        plain.kill()


@pytest.mark.parametrize("cert", ["stranger", None])
def test_clients_without_a_certificate_from_the_ca_are_refused(runtime, cert):
    with pytest.raises(grpc.RpcError) as refused:
        call(runtime.channel(cert), "Validate")
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert call(runtime.channel(), "Validate").ok


def test_upstream_shaped_payloads(runtime):
    channel = runtime.channel()
    created = call(channel, "Create", name="upstream-1", class_json=UPSTREAM_CLASS, image_json=UPSTREAM_IMAGE,
                   networks_json="null", disks_json="null", placement_json="", tags=["team-a"])
    assert created.id and not created.task.id
    again = call(channel, "Create", name="upstream-1", class_json=UPSTREAM_CLASS, image_json=UPSTREAM_IMAGE)
    assert again.id == created.id
    described = call(channel, "Describe", id=created.id)
    assert described.exists and described.power_state == "Off"
    raw = json.loads(described.provider_raw_json)["virtrigaud"]
    assert (raw["cpu"], raw["memory_mib"], raw["firmware"]) == (2, 4096, "uefi")
    assert not call(channel, "Power", id=created.id, op=1).task.id
    assert call(channel, "Describe", id=created.id).power_state == "On"
    reconfigured = call(channel, "Reconfigure", id=created.id,
                        desired_json='{"class":{"cpu":4,"memoryMiB":4096},"disks":null,"networks":null}')
    assert not reconfigured.task.id
    assert json.loads(call(channel, "Describe", id=created.id).provider_raw_json)["virtrigaud"]["cpu"] == 4
    unknown = call(channel, "TaskStatus", task={"id": "task-unknown"})
    assert unknown.done and unknown.error
    missing = call(channel, "Describe", id="vm-missing")
    assert not missing.exists and missing.power_state == "Off"
    assert not call(channel, "Delete", id="vm-missing").task.id
    listed = call(channel, "ListVMs").vms
    assert [(vm.name, vm.power_state, vm.cpu) for vm in listed] == [("upstream-1", "On", 4)]


def test_a_whole_nic_list_in_desired_json_changes_and_removes_nics_by_name(runtime):
    """Upstream's manager sends every NIC in desired_json; the runtime makes the VM's NICs match it."""
    channel = runtime.channel()
    networks = ('[{"Name":"lan","NetworkName":"default","Bridge":"","MacAddress":""},'
                '{"Name":"backup","NetworkName":"","Bridge":"br0","MacAddress":""}]')
    created = call(channel, "Create", name="nics-1", class_json=UPSTREAM_CLASS, networks_json=networks)
    desired = {"Class": {"CPU": 0, "MemoryMiB": 0}, "Disks": None, "Tags": None,
               "Networks": [{"Name": "lan", "NetworkName": "other", "Bridge": "", "MacAddress": "52:54:00:00:00:0A",
                             "StaticIP": "192.0.2.9", "Prefix": 24, "Gateway": "", "DNS": ""}]}
    call(channel, "Reconfigure", id=created.id, desired_json=json.dumps(desired))
    nics = json.loads(call(channel, "Describe", id=created.id).provider_raw_json)["virtrigaud"]["nics"]
    assert [(n["name"], n["network"], n["mac_address"], n["static_ip"]) for n in nics] == [
        ("lan", "other", "52:54:00:00:00:0a", "192.0.2.9/24")]
    call(channel, "Reconfigure", id=created.id, desired_json='{"Class":{"CPU":2},"Networks":null}')
    assert len(json.loads(call(channel, "Describe", id=created.id).provider_raw_json)["virtrigaud"]["nics"]) == 1


def test_the_mock_claims_no_disk_moves_and_refuses_them_naming_itself(runtime):
    provider = runtime.provider()
    capabilities = provider.capabilities()
    assert not (capabilities.supports_disk_export or capabilities.supports_disk_import)
    vm_id, dummy = provider.create(parse_vm({"name": "disky", "image": "base"}))
    moves = (lambda: provider.disk_info(vm_id),
             lambda: provider.export_disk(parse_export({"vm_id": vm_id, "destination_url": "/var/tmp/d",
                                                        "format": "raw"}), None),
             lambda: provider.import_disk(parse_import({"source_url": "/var/tmp/d", "target_name": "d"}), None))
    for move in moves:
        with pytest.raises(errors.UnsupportedError) as refused:
            move()
        assert "the mock backend" in refused.value.message


def test_the_client_learns_which_nic_changes_the_backend_makes(runtime):
    assert runtime.provider().capabilities().nic_changes == {
        "remove_network": "live", "set_ip_address": "live", "set_mac_address": "live", "set_network": "live"}


@pytest.mark.parametrize("method, fields, code", [
    ("Power", {"id": "x", "op": 0}, grpc.StatusCode.INVALID_ARGUMENT),
    ("Power", {"id": "vm-missing", "op": 1}, grpc.StatusCode.NOT_FOUND),
    ("Create", {"name": "bad name!"}, grpc.StatusCode.INVALID_ARGUMENT),
    ("Create", {"name": "ok", "class_json": '{"MemoryMiB": 1}'}, grpc.StatusCode.INVALID_ARGUMENT),
    ("Create", {"name": "ok", "class_json": "{not json"}, grpc.StatusCode.INVALID_ARGUMENT),
    ("Create", {"name": "ok", "image_json": '{"TemplateName": "missing-image"}'}, grpc.StatusCode.INVALID_ARGUMENT),
    ("HardwareUpgrade", {"id": "x", "target_version": 21}, grpc.StatusCode.UNIMPLEMENTED),
])
def test_errors_have_proper_status_codes(runtime, method, fields, code):
    with pytest.raises(grpc.RpcError) as failed:
        call(runtime.channel(), method, **fields)
    assert failed.value.code() == code
    assert failed.value.details()


def test_the_option_comes_back_with_the_error(runtime):
    with pytest.raises(errors.SpecError) as failed:
        runtime.provider().create(parse_vm({"name": "vm-1", "image": "missing-image"}))
    assert failed.value.option == "image"


def test_correlation_id_from_metadata(runtime):
    call(runtime.channel(), "Validate", metadata=(("x-correlation-id", "corr-12345"),))
    lines = [json.loads(line) for line in runtime.log.read_text().splitlines() if line.startswith("{")]
    assert any(e.get("correlation_id") == "corr-12345" and e.get("method") == "Validate" for e in lines)
    assert all("correlation_id" in e for e in lines if e.get("msg") == "rpc")


def test_killed_runtime_gives_a_clear_error_and_the_rerun_converges(runtime):
    spec = parse_vm({"name": "survivor", "image": "base"})
    provider = runtime.provider()
    first_id, dummy = provider.create(spec)
    runtime.kill()
    with pytest.raises(errors.UnavailableError) as down:
        runtime.provider().describe(first_id)
    assert "127.0.0.1:%d" % runtime.port in down.value.msg
    runtime.start()
    again = runtime.provider()
    assert again.find("survivor").id == first_id
    assert again.create(spec)[0] == first_id
    assert [vm.name for vm in again.list_vms()] == ["survivor"]


def test_sigterm_stops_gracefully(runtime):
    assert runtime.terminate() == 0
    messages = [json.loads(line).get("msg") for line in runtime.log.read_text().splitlines() if line.startswith("{")]
    assert messages[-2:] == ["shutting down", "stopped"]
