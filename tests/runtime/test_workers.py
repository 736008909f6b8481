# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several runtime workers on one port (--workers): what they share stays right whichever worker a call reaches."""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import signal
import threading

import pytest

from virtrigaud_runtime.config import SettingsError, settings
from virtrigaud_runtime.service import NameLocks
from virtrigaud_runtime.tasks import TaskTable

from test_runtime import Runtime, call, scrape

PLAIN = ["--insecure", "--tls-dir", "/nonexistent"]


def test_workers_come_from_the_flag_or_the_environment():
    assert settings(["--provider-type", "libvirt"] + PLAIN, {}).workers == 1
    assert settings(["--provider-type", "libvirt", "--workers", "3"] + PLAIN, {}).workers == 3
    assert settings(["--provider-type", "libvirt"] + PLAIN, {"VIRTRIGAUD_RUNTIME_WORKERS": "2"}).workers == 2


@pytest.mark.parametrize("argv, env, named", [
    (["--workers", "0"], {}, "--workers"),
    (["--workers", "33"], {}, "--workers"),
    ([], {"VIRTRIGAUD_RUNTIME_WORKERS": "many"}, "VIRTRIGAUD_RUNTIME_WORKERS"),
    (["--workers", "2", "--port", "0"], {}, "fixed gRPC port"),
    (["--workers", "2", "--provider-type", "mock"], {"PROVIDER_ENDPOINT": "mock://"}, "state file"),
    (["--workers", "2", "--provider-type", "mock"], {}, "state file"),
    (["--workers", "4"], {"PROVIDER_RATE_LIMIT_QPS": "5", "PROVIDER_RATE_LIMIT_BURST": "3"}, "rateLimit.burst"),
])
def test_workers_are_refused_where_their_state_could_not_be_shared(argv, env, named):
    argv = (["--provider-type", "libvirt"] if "--provider-type" not in argv else []) + argv
    with pytest.raises(SettingsError, match=named):
        settings(argv + PLAIN, env)


def test_a_task_is_known_to_every_worker_sharing_the_folder(tmp_path):
    running, polled = TaskTable(window=0.0, shared_folder=str(tmp_path)), TaskTable(shared_folder=str(tmp_path))
    gate = threading.Event()
    task_id = running.run(gate.wait)
    assert polled.status(task_id) == (False, "")
    gate.set()
    running.pool.shutdown(wait=True)
    assert polled.status(task_id) == (True, "")
    assert polled.status("task-unknown") is None
    assert polled.status("task-../../etc/passwd") is None


def test_a_name_is_held_across_workers_sharing_the_folder(tmp_path):
    first, second = NameLocks(str(tmp_path)), NameLocks(str(tmp_path))
    entered = threading.Event()

    def take() -> None:
        with second.hold("web-1"):
            entered.set()

    with first.hold("web-1"):
        waiting = threading.Thread(target=take)
        waiting.start()
        assert not entered.wait(0.3)
    waiting.join(timeout=10)
    assert entered.is_set()


def test_two_workers_share_names_tasks_and_metrics(tmp_path):
    state = tmp_path / "scratch"
    state.mkdir()
    runtime = Runtime(tmp_path, workers=2, extra_env={"TMPDIR": str(state)}).start()
    try:
        channels = [runtime.channel(own_connection=True) for dummy in range(8)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            ids = set(pool.map(lambda channel: call(channel, "Create", name="same-1", class_json='{"CPU": 1}').id,
                               channels))
        assert len(ids) == 1
        vm_id = ids.pop()
        assert all(call(channel, "Describe", id=vm_id).exists for channel in channels)
        samples = scrape(runtime)
        assert samples[("provider_grpc_requests_total", frozenset({("method", "Create"),
                                                                   ("status", "success")}))] == 8
        assert samples[("provider_grpc_requests_total", frozenset({("method", "Describe"),
                                                                   ("status", "success")}))] == 8
        assert samples[("provider_health_status", frozenset({("provider", "mock")}))] == 1
        log = runtime.log.read_text()
        assert '"worker": 0' in log and '"worker": 1' in log
    finally:
        assert runtime.terminate() == 0
    assert not list(state.iterdir())


def test_a_worker_that_dies_stops_the_runtime(tmp_path):
    runtime = Runtime(tmp_path, workers=2).start()
    try:
        pid = runtime.process.pid
        children = pathlib.Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()
        assert len(children) == 2
        os.kill(int(children[1]), signal.SIGKILL)
        assert runtime.process.wait(timeout=40) != 0
        assert '"msg": "a worker ended; stopping the others"' in runtime.log.read_text()
    finally:
        runtime.kill()
