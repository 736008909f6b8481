# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every benchmark shares: the machine it ran on, and the figures it hands to ``bench/run.py``.

A benchmark calls :func:`print_environment` first, then :func:`figure` once per figure it compares with a floor
(or, without one, with a goal).  Run alone, a benchmark just prints; run by ``bench/run.py`` (which names a file
in ``BENCH_RESULTS``), each figure also lands in that file, one JSON document a line, for the table.
"""

from __future__ import annotations

import json
import os
import platform
from typing import Any, Optional

RESULTS = "BENCH_RESULTS"


def environment() -> dict[str, Any]:
    """The ansible-core and Python versions and the core count, as every benchmark prints them."""
    try:
        from ansible.release import __version__ as core  # pylint: disable=import-outside-toplevel
    except ImportError:
        core = "not installed"
    return {"ansible_core": core, "python": platform.python_version(), "cores": os.cpu_count() or 1,
            "machine": platform.machine()}


def describe(found: dict[str, Any]) -> str:
    return "ansible-core %s, Python %s, %d cores (%s)" % (
        found["ansible_core"], found["python"], found["cores"], found["machine"])


def print_environment() -> None:
    print(describe(environment()), flush=True)


def figure(name: str, value: float, unit: str = "s", floor: Optional[float] = None, floor_name: str = "",
           goal: str = "", met: Optional[bool] = None) -> dict[str, Any]:
    """One figure: its value, the floor it is measured against in the same run, the ratio, and the goal.

    ``goal`` says it in words (``"<= 2x the floor"``, ``">= 1,500 requests/s"``); ``met`` is whether this run
    reached it, when the benchmark can tell.
    """
    row: dict[str, Any] = {"figure": name, "value": value, "unit": unit, "floor": floor, "floor_name": floor_name,
                           "ratio": round(value / floor, 3) if floor else None, "goal": goal, "met": met}
    target = os.environ.get(RESULTS)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
    return row
