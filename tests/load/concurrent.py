# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many ansible-playbook runs at once against one provider runtime, and its memory sampled meanwhile.

Shared by the ``load`` stage (tests/load/run.py: correctness) and bench/runtime_load.py (figures).  The
runtime serves the mock backend, whose state file is the backend's own record of every VM.
"""

from __future__ import annotations

import json
import pathlib
import re
import threading
from dataclasses import dataclass
from typing import Optional

from faults.testbed import Play, Runtime

VM = "virtrigaud.core.virtrigaud_vm"
# What a run that lost a race of one name may say; anything else is an unexpected error.
CONFLICT = re.compile(r"conflict|already exists|several VMs are named|VMs are named", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    name: str
    seconds: float
    succeeded: bool
    message: str

    @property
    def conflict(self) -> bool:
        return not self.succeeded and CONFLICT.search(self.message) is not None


def wave(workdir: pathlib.Path, connection: dict, names: list[str], label: str) -> list[Outcome]:
    """One playbook per name, all started at once: each creates and starts its VM."""
    plays = [(name, Play(workdir, "%s-%d" % (label, index), connection, VM,
                         {"name": name, "cpu": 1, "memory": "256Mi", "image": "base-image", "state": "started"}))
             for index, name in enumerate(names)]
    outcomes = []
    for name, play in plays:
        succeeded, message = play.finish(timeout=600)
        outcomes.append(Outcome(name, play.seconds, succeeded, message))
    return outcomes


def vms_by_name(state_file: pathlib.Path) -> dict[str, int]:
    """How many VMs of each name the mock backend holds."""
    counts: dict[str, int] = {}
    for record in json.loads(state_file.read_text() or '{"vms": {}}')["vms"].values():
        counts[record["name"]] = counts.get(record["name"], 0) + 1
    return counts


class RssSampler:
    """The runtime's resident memory, sampled every ``interval`` seconds in a thread."""

    def __init__(self, runtime: Runtime, interval: float = 0.1) -> None:
        self.runtime, self.interval = runtime, interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "RssSampler":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(self.runtime.rss_kib())

    @property
    def peak_mib(self) -> float:
        return max(self.samples or [0]) / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else 0.0
