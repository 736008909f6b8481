# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PVE worker tasks: real UPIDs, running → stopped with an exit status, a 1-based task log.

A task's work runs in a thread after its duration, under the cluster lock, so
the state a client sees while the task runs (locks, stopped VMs) is PVE's.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional


class PveError(Exception):
    """A die() in PVE: HTTP 500 before a fork, a failed task inside a worker."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TaskWarning(Exception):
    """Raised by work that succeeded with warn() output: the task ends ``WARNINGS: n``."""


FILE_LOCK_SECONDS = 10.0
_PIDS = itertools.count(os.getpid() * 16 % 0x3FFFFF + 0x1000)
_BOOT = time.time() - time.monotonic()


@dataclass
class Task:
    node: str
    type: str
    id: str
    user: str
    starttime: int = field(default_factory=lambda: int(time.time()))
    pid: int = field(default_factory=lambda: next(_PIDS))
    pstart: int = field(default_factory=lambda: int((time.time() - _BOOT) * 100))
    exitstatus: Optional[str] = None
    endtime: Optional[int] = None
    log: list[str] = field(default_factory=list)

    @property
    def upid(self) -> str:
        fields = (self.node, self.pid, self.pstart, self.starttime, self.type, self.id, self.user)
        return "UPID:%s:%08X:%08X:%08X:%s:%s:%s:" % fields

    @property
    def running(self) -> bool:
        return self.exitstatus is None

    def status(self) -> dict:
        user, dummy, token = self.user.partition("!")
        data = {"upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
                "starttime": self.starttime, "type": self.type, "id": self.id, "user": user,
                "status": "running" if self.running else "stopped"}
        if token:
            data["tokenid"] = token
        if not self.running:
            data["exitstatus"] = self.exitstatus
        return data

    def list_entry(self) -> dict:
        data = self.status()
        data.pop("exitstatus", None)
        data["status"] = "RUNNING" if self.running else self.exitstatus
        if self.endtime:
            data["endtime"] = self.endtime
        return data


Work = Callable[[Task], None]


class TaskRunner:
    """Starts workers; ``slow_factor`` and ``failures`` are the fault injections for tasks."""

    def __init__(self, lock: threading.RLock, seconds: float) -> None:
        self.lock = lock
        self.seconds = seconds
        self.slow_factor = 1.0
        self.failures: dict[str, str] = {}
        self.tasks: dict[str, Task] = {}
        self._file_locks: dict[str, threading.Lock] = {}

    def start(self, node: str, kind: str, vmid: object, user: str, work: Work, seconds: Optional[float] = None,
              fetch: Optional[Work] = None, undo: Optional[Callable[[], None]] = None) -> str:
        """``fetch`` runs first, outside the cluster lock (a download must not stop every other request); ``undo``
        runs under the lock when the task fails, an injected failure included."""
        task = Task(node=node, type=kind, id=str(vmid), user=user)
        self.tasks[task.upid] = task
        delay = (self.seconds if seconds is None else seconds) * self.slow_factor
        threading.Thread(target=self._run, args=(task, work, delay, fetch, undo), daemon=True).start()
        return task.upid

    def _run(self, task: Task, work: Work, delay: float, fetch: Optional[Work] = None,
             undo: Optional[Callable[[], None]] = None) -> None:
        # PVE's per-VM lock file: workers on one VM run one after another, and give up after 10 s.
        file_lock = self._file_locks.setdefault(task.id, threading.Lock()) if task.id else threading.Lock()
        if not file_lock.acquire(timeout=FILE_LOCK_SECONDS):
            self._finish(task, "can't lock file '/var/lock/qemu-server/lock-%s.conf' - got timeout" % task.id)
            return
        try:
            time.sleep(delay)
            if fetch is not None:
                try:
                    fetch(task)
                except PveError as err:
                    self._finish(task, " ".join(err.message.split("\n")).strip())
                    return
            self._work(task, work, undo)
        finally:
            file_lock.release()

    def _finish(self, task: Task, exitstatus: str) -> None:
        with self.lock:
            task.exitstatus = exitstatus
            task.endtime = int(time.time())
            task.log.append("TASK OK" if exitstatus == "OK" else "TASK %s" % exitstatus
                            if exitstatus.startswith("WARNINGS") else "TASK ERROR: %s" % exitstatus)

    def _work(self, task: Task, work: Work, undo: Optional[Callable[[], None]] = None) -> None:
        with self.lock:
            try:
                injected = self.failures.pop(task.type, None)
                if injected:
                    raise PveError(injected)
                work(task)
                task.exitstatus = "OK"
            except TaskWarning as warning:
                task.log.append("WARN: %s" % warning)
                task.exitstatus = "WARNINGS: 1"
            except PveError as err:
                task.exitstatus = " ".join(err.message.split("\n")).strip()
            except Exception as err:  # pylint: disable=broad-exception-caught  # a fake bug must still end the task
                task.exitstatus = "unexpected fake error: %s" % err
            if undo is not None and task.exitstatus not in ("OK", "WARNINGS: 1"):
                undo()
            self._finish(task, task.exitstatus or "unexpected status")
