# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""16 playbooks at once on 16 names, then 8 at once on one name, through the runtime over mTLS (mock backend).

Run by ``scripts/test.sh load``.  Asserts what must hold under load, never how fast: every name ends with
exactly one VM in the backend's own record, no run fails but with a clear conflict, the runtime logs no
internal error, and its resident memory stays bounded while it serves them.  bench/runtime_load.py prints the
times and the memory.
"""

from __future__ import annotations

import random
import shutil
import string
import sys

from faults.testbed import Runtime, scratch

from .concurrent import RssSampler, vms_by_name, wave

DISJOINT, SAME = 16, 8
# Generous: the runtime holds a few MiB per connection while the runs are on, and gives it back.
PEAK_GROWTH_MIB = 128


def main() -> int:
    work = scratch()
    state = work / "mock-state.json"
    runtime = Runtime(port=19743, http_port=18743, backend=("mock", "mock://%s" % state))
    prefix = "vrl-" + "".join(random.choice(string.ascii_lowercase + string.digits) for dummy in range(5))
    runtime.start()
    try:
        before = runtime.rss_kib() / 1024
        with RssSampler(runtime) as sampler:
            disjoint = wave(work, runtime.connection, ["%s-%02d" % (prefix, i) for i in range(DISJOINT)], "disjoint")
            same = wave(work, runtime.connection, [prefix + "-same"] * SAME, "same")
        after = runtime.rss_kib() / 1024
        log = runtime_log(runtime).lower()
    finally:
        runtime.stop()
    counts = vms_by_name(state)
    names = {outcome.name for outcome in disjoint + same}
    unexpected = [o for o in disjoint + same if not o.succeeded and not o.conflict]
    assert not unexpected, "runs failed with something else than a conflict: %s" % [o.message for o in unexpected]
    assert all(o.succeeded for o in disjoint), "a run on its own name failed: %s" % [o.message for o in disjoint]
    assert {name: counts.get(name, 0) for name in names} == dict.fromkeys(names, 1), counts
    assert "internal error" not in log, "the runtime logged an internal error"
    assert sampler.peak_mib - before < PEAK_GROWTH_MIB, (before, sampler.peak_mib)
    conflicts = sum(o.conflict for o in same)
    figures = (DISJOINT, DISJOINT, SAME, len(names), len(disjoint + same) - conflicts, conflicts, before,
               sampler.peak_mib, len(sampler.samples), after)
    print("load: %d runs on %d names and %d on one name through the runtime (mock backend, mTLS): %d VMs, one per "
          "name; %d succeeded, %d refused with a clear conflict, 0 other errors; RSS %.0f MiB before, %.0f at the "
          "peak (%d samples), %.0f after" % figures)
    shutil.rmtree(work)
    return 0


def runtime_log(runtime: Runtime) -> str:
    from faults.testbed import RUN_DIR  # pylint: disable=import-outside-toplevel
    return (RUN_DIR / ("runtime-%d.log" % runtime.port)).read_text()


if __name__ == "__main__":
    sys.exit(main())
