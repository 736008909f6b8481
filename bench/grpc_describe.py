# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Describe through the provider runtime over gRPC against the direct provider-layer call, on the mock backend.

  PYTHONPATH=<collections tree>:<collection>/runtime python3 bench/grpc_describe.py [--seconds 5] [--tls]

Starts its own runtime (mock backend, one VM) and, as the floor, a bare gRPC
server in another process whose Describe does nothing.  Prints p50/p99 latency
of ``describe`` direct, on the bare server, and through the runtime (raw stub
and ``provider_type=remote``), and the throughput of 16 concurrent clients on
the runtime and on the floor.  Everything is measured in the same run; the
machine is shared, so read differences and ratios, not absolute times.
Goals (issue 5): overhead at most 1 ms at p50; at least 1,500 requests/s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any

import grpc

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.mock import MockProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.provider import RemoteProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.wire import SERVICE, wire
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

import benchlib

SPEC = {"name": "bench-1", "cpu": 2, "memory": "2Gi", "image": "base", "disks": [{"name": "data", "size": "10Gi"}],
        "networks": [{"name": "lan", "network": "default"}], "tags": ["bench"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def latencies(call, count: int) -> list[float]:
    for dummy in range(min(200, count)):
        call()
    found = []
    for dummy in range(count):
        started = time.perf_counter()
        call()
        found.append(time.perf_counter() - started)
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def throughput(call_for_thread, clients: int, seconds: float) -> float:
    counts = [0] * clients
    stop = threading.Event()

    def client(index: int) -> None:
        call = call_for_thread()
        while not stop.is_set():
            call()
            counts[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    before, started = sum(counts), time.perf_counter()
    time.sleep(seconds)
    done, elapsed = sum(counts) - before, time.perf_counter() - started
    stop.set()
    for thread in threads:
        thread.join()
    return done / elapsed


def serve_floor(port: int) -> None:
    """A provider.v1 server whose Describe answers at once: what gRPC itself costs."""
    request_type, response_type = wire().methods["Describe"]
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=16))
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: response_type(exists=True),
                                                  request_deserializer=request_type.FromString,
                                                  response_serializer=response_type.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Describe": handler}),))
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    server.wait_for_termination()


def raw_describe(port: int, vm_id: str):
    request_type, response_type = wire().methods["Describe"]
    channel = grpc.insecure_channel("127.0.0.1:%d" % port)
    grpc.channel_ready_future(channel).result(timeout=20)
    stub = channel.unary_unary(wire().path("Describe"), request_serializer=request_type.SerializeToString,
                               response_deserializer=response_type.FromString)
    request = request_type(id=vm_id)
    return lambda: stub(request, timeout=30)


def start_runtime(tmp: pathlib.Path, tls: bool) -> tuple[subprocess.Popen, int, dict]:
    port, http = free_port(), free_port()
    env = dict(os.environ, PROVIDER_TYPE="mock", PROVIDER_ENDPOINT="mock://", LOG_LEVEL="warning")
    pki = pathlib.Path(os.environ.get("RUNTIME_PKI", ""))
    args = [sys.executable, "-m", "virtrigaud_runtime", "--grpc-addr=127.0.0.1:%d" % port,
            "--metrics-addr=127.0.0.1:%d" % http, "--credentials-dir", str(tmp)]
    options: dict = {"insecure": True}
    if tls:
        args += ["--tls-dir", str(pki / "server-tls")]
        options = {"ca_path": str(pki / "ca" / "ca.crt"), "client_cert": str(pki / "client.crt"),
                   "client_key": str(pki / "client.key")}
    else:
        args += ["--insecure", "--tls-dir", str(tmp / "none")]
    process = subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL)
    for dummy in range(200):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % http, timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    return process, port, options


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tls", action="store_true", help="mTLS (needs RUNTIME_PKI from scripts/testbed/runtime.sh)")
    args = parser.parse_args()
    benchlib.print_environment()

    direct = MockProvider(ProviderConfig(type="mock", uri="mock://"))
    direct_id, dummy = direct.create(parse_vm(SPEC))
    with tempfile.TemporaryDirectory() as tmp:
        process, port, options = start_runtime(pathlib.Path(tmp), args.tls)
        try:
            config = ProviderConfig(type="remote", uri="127.0.0.1:%d" % port, options=options)
            remote = RemoteProvider(config)
            remote_id, dummy = remote.create(parse_vm(SPEC))
            floor_port = free_port()
            floor = multiprocessing.Process(target=serve_floor, args=(floor_port,), daemon=True)
            floor.start()
            times = {
                "direct provider call": latencies(lambda: direct.describe(direct_id), args.count),
                "bare gRPC (floor)": latencies(raw_describe(floor_port, "x"), args.count),
                "runtime, raw stub": latencies(raw_describe(port, remote_id) if not args.tls else
                                               lambda: remote.channel.call("Describe", id=remote_id), args.count),
                "runtime, remote provider": latencies(lambda: remote.describe(remote_id), args.count),
            }
            local = threading.local()

            def remote_call() -> Any:
                local.provider = getattr(local, "provider", None) or RemoteProvider(config)
                return lambda: local.provider.describe(remote_id)

            rates = {
                "bare gRPC (floor)": throughput(lambda: raw_describe(floor_port, "x"), args.clients, args.seconds),
                "runtime, raw stubs": throughput(lambda: raw_describe(port, remote_id), args.clients, args.seconds)
                if not args.tls else None,
                "runtime, remote providers": throughput(remote_call, args.clients, args.seconds),
            }
            floor.terminate()
        finally:
            process.terminate()
            process.wait()
    direct_p50 = statistics.median(times["direct provider call"])
    print("describe on the mock backend, %d calls each, %s" % (args.count, "mTLS" if args.tls else "plaintext"))
    for label, found in times.items():
        p50 = statistics.median(found)
        print("  %-26s p50 %7.3f ms   p99 %7.3f ms   over direct %+7.3f ms" % (
            label, p50 * 1e3, percentile(found, 0.99) * 1e3, (p50 - direct_p50) * 1e3))
    print("  goal: the runtime at most 1 ms over direct at p50")
    floor_p50 = statistics.median(times["bare gRPC (floor)"]) * 1e3
    runtime_p50 = statistics.median(times["runtime, remote provider"]) * 1e3
    benchlib.figure("Describe p50, runtime through the remote provider", runtime_p50, "ms", floor_p50,
                    "bare Python gRPC server", "<= 1.3x the floor", runtime_p50 <= 1.3 * floor_p50)
    benchlib.figure("Describe p50 overhead over the direct provider call", runtime_p50 - direct_p50 * 1e3, "ms",
                    goal="<= 1 ms", met=runtime_p50 - direct_p50 * 1e3 <= 1.0)
    for label, rate in rates.items():
        if rate is not None:
            print("  %d clients, %-26s %6.0f requests/s" % (args.clients, label + ":", rate))
    print("  goal: at least 1,500 requests/s on 2 cores")
    benchlib.figure("Describe requests/s, %d clients, runtime" % args.clients, rates["runtime, remote providers"],
                    "req/s", rates["bare gRPC (floor)"], "bare Python gRPC server", ">= 1,500 requests/s",
                    rates["runtime, remote providers"] >= 1500)
    return 0


if __name__ == "__main__":
    sys.exit(main())
