# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operations that outlast their RPC: run in a pool, answered as a TaskRef, polled with TaskStatus.

Records are kept for ``ttl`` seconds after they finish and at most ``limit``
of them; an id the table no longer (or never) knew is done with an error, as
upstream's contract asks.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import uuid
from typing import Any, Callable, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import VirtrigaudError


class TaskTable:
    def __init__(self, workers: int = 8, window: float = 2.0, ttl: float = 3600.0, limit: int = 1000) -> None:
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
        return task_id

    def status(self, task_id: str) -> Optional[tuple[bool, str]]:
        """(done, error) for a task of this table, None for an id it does not know."""
        with self._lock:
            found = self._tasks.get(task_id)
        if found is None:
            return None
        future = found[0]
        if not future.done():
            return False, ""
        error = future.exception()
        if error is None:
            return True, ""
        return True, error.message if isinstance(error, VirtrigaudError) else "%s: %s" % (type(error).__name__, error)

    def _prune(self) -> None:
        now = time.monotonic()
        for task_id, (future, started) in list(self._tasks.items()):
            if future.done() and now - started > self.ttl:
                del self._tasks[task_id]
        finished = [t for t, (f, dummy) in sorted(self._tasks.items(), key=lambda i: i[1][1]) if f.done()]
        while len(self._tasks) >= self.limit and finished:
            del self._tasks[finished.pop(0)]

    def __len__(self) -> int:
        return len(self._tasks)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)
