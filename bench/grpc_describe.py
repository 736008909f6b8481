# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Describe through the provider runtime over gRPC, side by side with a bare Python gRPC server and a Go peer.

  PYTHONPATH=<collections tree>:<collection>/runtime python3 bench/grpc_describe.py [--runs 5] [--json FILE] [--tls]
      [--workers N]

Starts its own runtime (mock backend, one VM) and, in the same run:

- the floor: a bare Python gRPC server in another process whose Describe answers at once;
- the Go peer: bench/go_peer, a minimal provider.v1 server with google.golang.org/grpc that serves Describe
  from an in-memory map, as upstream's mock provider does (built once with ``go`` from the Go module proxy,
  cached under ~/.cache/virtrigaud/go-peer; left out, and said so, where Go is missing).

Each run measures p50/p99 of sequential Describe calls, the servers taking turns call by call so that the
load of a shared machine falls on all of them alike, then the requests/s of 16 concurrent clients on each
(one after the other, the order turned each run).  The client is the same Python stub for every server; each
client has a connection of its own (a local subchannel pool), as separate callers do, so that the kernel can
spread them over the runtime's workers (``--workers N``; then the mock keeps its VMs in a state file, which
several processes can share).
Prints each run's figures and ratios, then per goal the worst and the median run; ``--json`` writes them too.
Goals (issue 23): runtime p50 at most 1.3x the floor's; at least 1,500 requests/s in every run; p50 at most
1.5x the Go peer's and requests/s at least 0.8x the Go peer's.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any, Callable, Optional

import grpc

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import PowerOp, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.mock import MockProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.provider import RemoteProvider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.wire import SERVICE, wire
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

import benchlib

SPEC = {"name": "bench-1", "cpu": 2, "memory": "2Gi", "image": "base", "disks": [{"name": "data", "size": "10Gi"}],
        "networks": [{"name": "lan", "network": "default"}], "tags": ["bench"]}
GO_PEER = pathlib.Path(__file__).resolve().parent / "go_peer"
CACHE = pathlib.Path(os.environ.get("VIRTRIGAUD_CACHE", pathlib.Path.home() / ".cache" / "virtrigaud"))
FLOOR, RUNTIME, REMOTE, GO = "bare Python gRPC (floor)", "runtime, raw stub", "runtime, remote provider", "Go peer"
# (label, what is compared, against, bound, "max" or "min")
GOALS = (("runtime p50 / floor p50", "p50", FLOOR, 1.3, "max"),
         ("runtime p50 / Go p50", "p50", GO, 1.5, "max"),
         ("runtime requests/s / Go requests/s", "rate", GO, 0.8, "min"))
RATE_GOAL = 1500.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def taking_turns(calls: dict[str, Callable[[], Any]], count: int) -> dict[str, list[float]]:
    """Latencies of each call, the calls taking turns one by one (after a warm-up)."""
    for dummy in range(min(200, count)):
        for call in calls.values():
            call()
    found: dict[str, list[float]] = {label: [] for label in calls}
    for dummy in range(count):
        for label, call in calls.items():
            started = time.perf_counter()
            call()
            found[label].append(time.perf_counter() - started)
    return found


def throughput(call_for_thread: Callable[[], Callable[[], Any]], clients: int, seconds: float) -> float:
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


def raw_describe(port: int, vm_id: str) -> Callable[[], Any]:
    request_type, response_type = wire().methods["Describe"]
    channel = grpc.insecure_channel("127.0.0.1:%d" % port, options=(("grpc.use_local_subchannel_pool", 1),))
    grpc.channel_ready_future(channel).result(timeout=20)
    stub = channel.unary_unary(wire().path("Describe"), request_serializer=request_type.SerializeToString,
                               response_deserializer=response_type.FromString)
    request = request_type(id=vm_id)
    return lambda: stub(request, timeout=30)


def go_peer_binary() -> tuple[Optional[pathlib.Path], str]:
    """bench/go_peer built once per version of its sources; (None, why) without Go."""
    sources = b"".join((GO_PEER / name).read_bytes() for name in ("go.mod", "go.sum", "main.go"))
    target = CACHE / "go-peer" / ("go-peer-" + hashlib.sha256(sources).hexdigest()[:12])
    if target.exists():
        return target, _go_version()
    if shutil.which("go") is None:
        return None, "go is not on the PATH: the Go peer is left out"
    target.parent.mkdir(parents=True, exist_ok=True)
    print("building the Go peer (bench/go_peer, google.golang.org/grpc from the Go module proxy)", file=sys.stderr)
    subprocess.run(["go", "build", "-trimpath", "-o", str(target) + ".tmp", "."], cwd=GO_PEER, check=True,
                   env=dict(os.environ, GOFLAGS="-mod=readonly"))
    os.replace(str(target) + ".tmp", target)
    for old in target.parent.glob("go-peer-*"):
        if old != target:
            old.unlink()
    return target, _go_version()


def _go_version() -> str:
    found = shutil.which("go")
    return subprocess.run([found, "version"], capture_output=True, text=True, check=False).stdout.strip() \
        if found else "go not on the PATH (cached build)"


def start_go_peer(binary: pathlib.Path, tmp: pathlib.Path, vm_id: str) -> tuple[subprocess.Popen, int]:
    port_file = tmp / "go-peer.port"
    process = subprocess.Popen([str(binary), "-listen", "127.0.0.1:0", "-vms", vm_id, "-port-file", str(port_file)])
    for dummy in range(200):
        if port_file.exists() and port_file.read_text():
            return process, int(port_file.read_text())
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError("the Go peer did not start")


def start_runtime(tmp: pathlib.Path, tls: bool, workers: int = 1) -> tuple[subprocess.Popen, int, dict]:
    port, http = free_port(), free_port()
    endpoint = "mock://" if workers == 1 else "mock://%s" % (tmp / "state.json")
    env = dict(os.environ, PROVIDER_TYPE="mock", PROVIDER_ENDPOINT=endpoint, LOG_LEVEL="warning")
    pki = pathlib.Path(os.environ.get("RUNTIME_PKI", ""))
    args = [sys.executable, "-m", "virtrigaud_runtime", "--grpc-addr=127.0.0.1:%d" % port,
            "--metrics-addr=127.0.0.1:%d" % http, "--credentials-dir", str(tmp), "--workers", str(workers)]
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


def one_run(calls: dict[str, Callable[[], Any]], rated: dict[str, Callable[[], Callable[[], Any]]],
            args: argparse.Namespace, turn: int) -> dict[str, dict[str, float]]:
    times = taking_turns(calls, args.count)
    figures = {label: {"p50": statistics.median(found), "p99": percentile(found, 0.99)}
               for label, found in times.items()}
    order = list(rated)
    order = order[turn % len(order):] + order[:turn % len(order)]
    for label in order:
        figures.setdefault(label, {})["rate"] = throughput(rated[label], args.clients, args.seconds)
    return figures


def ratios(figures: dict[str, dict[str, float]]) -> dict[str, float]:
    found = {}
    for label, key, against, dummy, dummy in GOALS:
        if against in figures and key in figures[against] and key in figures[RUNTIME]:
            found[label] = figures[RUNTIME][key] / figures[against][key]
    if GO in figures and "rate" in figures[GO]:
        found["floor requests/s / Go requests/s"] = figures[FLOOR]["rate"] / figures[GO]["rate"]
        found["floor p50 / Go p50"] = figures[FLOOR]["p50"] / figures[GO]["p50"]
    return found


def print_run(index: int, figures: dict[str, dict[str, float]], found: dict[str, float]) -> None:
    print("run %d" % index)
    for label, values in figures.items():
        line = "  %-26s" % label
        if "p50" in values:
            line += " p50 %7.3f ms   p99 %7.3f ms" % (values["p50"] * 1e3, values["p99"] * 1e3)
        if "rate" in values:
            line += "   %6.0f requests/s" % values["rate"]
        print(line)
    print("  " + "   ".join("%s %.2fx" % item for item in found.items()))


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    rates = [run["figures"][RUNTIME]["rate"] for run in runs if "rate" in run["figures"].get(RUNTIME, {})]
    if rates:
        rows.append({"goal": "runtime requests/s, 16 clients", "bound": RATE_GOAL, "worst": min(rates),
                     "median": statistics.median(rates), "met": min(rates) >= RATE_GOAL})
    for label, dummy, dummy, bound, sense in GOALS:
        values = [run["ratios"][label] for run in runs if label in run["ratios"]]
        if values:
            worst = max(values) if sense == "max" else min(values)
            rows.append({"goal": label, "bound": bound, "worst": worst, "median": statistics.median(values),
                         "met": worst <= bound if sense == "max" else worst >= bound})
    return rows


def hand_over(runs: list[dict[str, Any]]) -> None:
    """The median run's figures for bench/run.py's table; a goal is met when every run met it."""
    def median(label: str, key: str) -> Optional[float]:
        values = [run["figures"][label][key] for run in runs if key in run["figures"].get(label, {})]
        return statistics.median(values) if values else None

    def every(label: str, test: Callable[[float], bool]) -> Optional[bool]:
        values = [run["ratios"][label] for run in runs if label in run["ratios"]]
        return all(test(value) for value in values) if values else None

    p50, rate = median(RUNTIME, "p50"), median(RUNTIME, "rate")
    if p50 is None:
        return
    benchlib.figure("Describe p50, runtime", p50 * 1e3, "ms", (median(FLOOR, "p50") or 0) * 1e3,
                    "bare Python gRPC server", "<= 1.3x the floor in every run",
                    every("runtime p50 / floor p50", lambda ratio: ratio <= 1.3))
    direct = median("direct provider call", "p50") or 0.0
    benchlib.figure("Describe p50 overhead over the direct provider call", (p50 - direct) * 1e3, "ms",
                    goal="<= 1 ms", met=p50 - direct <= 0.001)
    if rate is not None:
        rates = [run["figures"][RUNTIME]["rate"] for run in runs]
        benchlib.figure("Describe requests/s, 16 clients, runtime", rate, "req/s", median(FLOOR, "rate"),
                        "bare Python gRPC server", ">= 1,500 requests/s in every run", min(rates) >= RATE_GOAL)
    if median(GO, "p50") is not None:
        benchlib.figure("Describe p50, runtime against the Go peer", p50 * 1e3, "ms", (median(GO, "p50") or 0) * 1e3,
                        "Go gRPC server (bench/go_peer)", "<= 1.5x the Go peer in every run",
                        every("runtime p50 / Go p50", lambda ratio: ratio <= 1.5))
    if rate is not None and median(GO, "rate") is not None:
        benchlib.figure("Describe requests/s, runtime against the Go peer", rate, "req/s", median(GO, "rate"),
                        "Go gRPC server (bench/go_peer)", ">= 0.8x the Go peer in every run",
                        every("runtime requests/s / Go requests/s", lambda ratio: ratio >= 0.8))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="sequential calls per server and run")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of load per server and run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="write the figures, the ratios and the goals to this file")
    parser.add_argument("--tls", action="store_true", help="mTLS (needs RUNTIME_PKI from scripts/testbed/runtime.sh)")
    parser.add_argument("--workers", type=int, default=1, help="the runtime's --workers")
    args = parser.parse_args()
    benchlib.print_environment()
    binary, go_version = go_peer_binary()
    about = dict(benchlib.environment(), grpcio=grpc.__version__, go=go_version, workers=args.workers)
    print("grpc_describe: grpcio %(grpcio)s, %(go)s" % about)

    direct = MockProvider(ProviderConfig(type="mock", uri="mock://"))
    direct_id, dummy = direct.create(parse_vm(SPEC))
    direct.power(direct_id, PowerOp.ON)
    runs: list[dict[str, Any]] = []
    helpers: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp:
        process, port, options = start_runtime(pathlib.Path(tmp), args.tls, args.workers)
        try:
            config = ProviderConfig(type="remote", uri="127.0.0.1:%d" % port, options=options)
            remote = RemoteProvider(config)
            remote_id, dummy = remote.create(parse_vm(SPEC))
            remote.power(remote_id, PowerOp.ON)
            floor_port = free_port()
            floor = multiprocessing.Process(target=serve_floor, args=(floor_port,), daemon=True)
            floor.start()
            helpers.append(floor)
            calls = {"direct provider call": lambda: direct.describe(direct_id),
                     FLOOR: raw_describe(floor_port, remote_id),
                     RUNTIME: raw_describe(port, remote_id) if not args.tls else
                     lambda: remote.channel.call("Describe", id=remote_id),
                     REMOTE: lambda: remote.describe(remote_id)}
            rated = {FLOOR: lambda: raw_describe(floor_port, remote_id)}
            if not args.tls:
                rated[RUNTIME] = lambda: raw_describe(port, remote_id)
            if binary is not None:
                peer, peer_port = start_go_peer(binary, pathlib.Path(tmp), remote_id)
                helpers.append(peer)
                calls[GO] = raw_describe(peer_port, remote_id)
                rated[GO] = lambda: raw_describe(peer_port, remote_id)
            else:
                print("  " + go_version)
            print("describe on the mock backend, %d calls each, %d clients for %.0f s each, %s, %d runs, %d runtime "
                  "worker(s)" % (args.count, args.clients, args.seconds, "mTLS" if args.tls else "plaintext",
                                 args.runs, args.workers))
            for index in range(args.runs):
                figures = one_run(calls, rated, args, index)
                found = ratios(figures)
                print_run(index + 1, figures, found)
                runs.append({"figures": figures, "ratios": found})
        finally:
            for helper in helpers:
                helper.terminate()
            process.terminate()
            process.wait()
    rows = summary(runs)
    print("goals over %d runs (worst and median run):" % len(runs))
    for row in rows:
        print("  %-36s worst %8.2f   median %8.2f   goal %s %s   %s" % (
            row["goal"], row["worst"], row["median"], "<=" if "p50" in row["goal"] else ">=", row["bound"],
            "met" if row["met"] else "MISSED"))
    hand_over(runs)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"about": about, "runs": runs, "goals": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
