# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several gRPC server processes on one port (``--workers``), started and stopped together.

The kernel spreads new connections over the workers (SO_REUSEPORT) and a
connection stays on its worker, so the calls of one channel reach one process.
What the workers must agree on lives in a folder they share, made here and
removed when they stop: the VM-name locks, the tasks' states and the metrics'
values.  The parent forks before any gRPC object exists (gRPC's threads do not
survive a fork), and when one worker ends on its own it stops the others, so
the pod restarts whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import traceback
from typing import Any, NoReturn

from .config import Settings, SettingsError, provider_config
from .observe import fields, logger

SHARED = ("names", "tasks", "metrics")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve(current: Settings) -> int:
    """Serve until SIGTERM or SIGINT; the exit code of the runtime."""
    if current.workers == 1:
        return _run(current)
    provider_config(current)  # a settings error stops the start once, here, rather than in every worker
    folder = tempfile.mkdtemp(prefix="virtrigaud-runtime-")
    try:
        for name in SHARED:
            os.mkdir(os.path.join(folder, name))
        # prometheus_client reads it when first imported, which only the workers do.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(folder, "metrics")
        return _supervise(current, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(current: Settings, index: int = 0, folder: str | None = None) -> int:
    from .server import Runtime, Worker  # pylint: disable=import-outside-toplevel  # grpc only after the fork

    Runtime(current, worker=Worker(index, folder)).serve_until_signal()
    return 0


def _supervise(current: Settings, folder: str) -> int:
    log = logger(current.log_level, current.log_format)
    children: dict[int, int] = {}
    stopping: list[bool] = []

    def stop(*dummy: Any) -> None:
        stopping.append(True)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    for index in range(current.workers):
        pid = os.fork()
        if pid == 0:
            _worker(current, index, folder)
        children[pid] = index
    code = 0
    while children:
        pid, status = os.wait()
        index = children.pop(pid)
        if not stopping:
            code = os.waitstatus_to_exitcode(status) or 1
            log.error("a worker ended; stopping the others", extra=fields(worker=index, code=code))
            stop()
    return code


def _worker(current: Settings, index: int, folder: str) -> NoReturn:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    code = 1
    try:
        code = _run(current, index, folder)
    except SettingsError as err:
        print("virtrigaud-provider-runtime: %s" % err, file=sys.stderr)
    except BaseException:  # pylint: disable=broad-exception-caught  # a forked child must never return
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # pylint: disable=protected-access  # no atexit or cleanup of the parent's in a child
