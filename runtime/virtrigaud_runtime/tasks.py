# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operations that outlast their RPC: run in a pool, answered as a TaskRef, polled with TaskStatus.

Records are kept for ``ttl`` seconds after they finish and at most ``limit``
of them; an id the table no longer (or never) knew is done with an error, as
upstream's contract asks.

With several worker processes, a TaskStatus may reach another worker than the
one running the task (a client that reconnected lands where the kernel puts
it), so each task's state is also kept as a small file in a folder the workers
share: written when the task starts, and again when it ends.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import threading
import time
import uuid
from typing import Any, Callable, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import VirtrigaudError


class TaskTable:
    def __init__(self, workers: int = 8, window: float = 2.0, ttl: float = 3600.0, limit: int = 1000,
                 shared_folder: Optional[str] = None) -> None:
        self.shared_folder = shared_folder
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="task")
        self.window = window
        self.ttl = ttl
        self.limit = limit
        self._tasks: dict[str, tuple[concurrent.futures.Future[Any], float]] = {}
        self._lock = threading.Lock()

    def run(self, work: Callable[[], Any]) -> str:
        """Start ``work``; return '' when it finished within the window (its error raised), else a task id."""
        future = self.pool.submit(work)
        try:
            future.result(timeout=self.window)
            return ""
        except concurrent.futures.TimeoutError:
            pass
        task_id = "task-" + uuid.uuid4().hex
        with self._lock:
            self._prune()
            self._tasks[task_id] = (future, time.monotonic())
        if self.shared_folder is not None:
            self._publish(task_id, (False, ""))
            future.add_done_callback(lambda done: self._publish(task_id, _outcome(done)))
        return task_id

    def status(self, task_id: str) -> Optional[tuple[bool, str]]:
        """(done, error) for a task of this table, None for an id it does not know."""
        with self._lock:
            found = self._tasks.get(task_id)
        if found is None:
            return self._published(task_id)
        return _outcome(found[0])

    def _path(self, task_id: str) -> Optional[str]:
        """The task's file; None for an id that is not one of ours (it comes from the caller: never a path)."""
        if self.shared_folder is None or not task_id.startswith("task-") or not task_id[5:].isalnum():
            return None
        return os.path.join(self.shared_folder, task_id)

    def _publish(self, task_id: str, outcome: tuple[bool, str]) -> None:
        path = self._path(task_id)
        if path is None:
            return
        with open(path + ".new", "w", encoding="utf-8") as handle:
            json.dump(outcome, handle)
        os.replace(path + ".new", path)

    def _published(self, task_id: str) -> Optional[tuple[bool, str]]:
        path = self._path(task_id)
        if path is None:
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                done, error = json.load(handle)
        except FileNotFoundError:
            return None
        return bool(done), str(error)

    def _forget(self, task_id: str) -> None:
        del self._tasks[task_id]
        path = self._path(task_id)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _prune(self) -> None:
        now = time.monotonic()
        for task_id, (future, started) in list(self._tasks.items()):
            if future.done() and now - started > self.ttl:
                self._forget(task_id)
        finished = [t for t, (f, dummy) in sorted(self._tasks.items(), key=lambda i: i[1][1]) if f.done()]
        while len(self._tasks) >= self.limit and finished:
            self._forget(finished.pop(0))

    def __len__(self) -> int:
        return len(self._tasks)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)


def _outcome(future: concurrent.futures.Future[Any]) -> tuple[bool, str]:
    """(done, error) of a task's future."""
    if not future.done():
        return False, ""
    error = future.exception()
    if error is None:
        return True, ""
    return True, error.message if isinstance(error, VirtrigaudError) else "%s: %s" % (type(error).__name__, error)
