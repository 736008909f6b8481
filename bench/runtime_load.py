# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Concurrent playbooks through the provider runtime, against the same playbooks on the mock provider directly.

  PYTHONPATH=<collections tree> ANSIBLE_COLLECTIONS_PATH=<collections tree> python3 bench/runtime_load.py

Starts its own runtime (mock backend with a state file, mTLS, scripts/testbed/runtime.sh on ports 19843 and
18843) and runs, each playbook creating and starting one VM:

- 16 at once on 16 names, and 8 at once on one name, through the runtime (``provider_type: remote``);
- the same two waves on the mock provider directly (``provider_type: mock``, a state file of its own), the
  baseline measured in the same run.

Prints per wave: runs, errors (and conflicts), p50 and p99 of each playbook's wall time, and the ratio to the
baseline's p50; then the runtime's resident memory before, at the peak (sampled every 0.1 s) and after.  The
machine is shared: read the ratios.  The load stage (tests/load/run.py) asserts the correctness part.
"""

from __future__ import annotations

import pathlib
import random
import statistics
import string
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from faults.testbed import Runtime, scratch  # noqa: E402
from load.concurrent import Outcome, RssSampler, percentile, vms_by_name, wave  # noqa: E402

import benchlib  # noqa: E402

DISJOINT, SAME = 16, 8


def waves(work: pathlib.Path, connection: dict, prefix: str) -> dict[str, list[Outcome]]:
    names = ["%s-%02d" % (prefix, index) for index in range(DISJOINT)]
    return {
        "%d on %d names" % (DISJOINT, DISJOINT): wave(work, connection, names, prefix + "-disjoint"),
        "%d on one name" % SAME: wave(work, connection, [prefix + "-same"] * SAME, prefix + "-same"),
    }


def report(label: str, outcomes: list[Outcome], baseline: list[Outcome]) -> None:
    times = [o.seconds for o in outcomes]
    errors = [o for o in outcomes if not o.succeeded]
    floor = statistics.median([o.seconds for o in baseline])
    ratio = statistics.median(times) / floor
    if outcomes is not baseline:
        benchlib.figure("playbook p50, %s" % label, statistics.median(times), "s", floor, "the mock provider directly")
    print("%-26s runs %2d  errors %d (conflicts %d)  p50 %5.2f s  p99 %5.2f s  p50 vs direct %.2fx"
          % (label, len(outcomes), len(errors), sum(o.conflict for o in errors), percentile(times, 0.5),
             percentile(times, 0.99), ratio))


def main() -> None:
    benchlib.print_environment()
    work = scratch()
    tag = "".join(random.choice(string.ascii_lowercase + string.digits) for dummy in range(5))
    direct_state = work / "direct-state.json"
    direct = waves(work, {"provider_type": "mock", "uri": "mock://%s" % direct_state}, "vrb-d" + tag)
    runtime_state = work / "runtime-state.json"
    runtime = Runtime(port=19843, http_port=18843, backend=("mock", "mock://%s" % runtime_state))
    runtime.start()
    try:
        before = runtime.rss_kib() / 1024
        with RssSampler(runtime) as sampler:
            through = waves(work, runtime.connection, "vrb-r" + tag)
        after = runtime.rss_kib() / 1024
    finally:
        runtime.stop()
    print("runtime_load: playbooks creating one VM each, all of a wave at once (mock backend; 2 waves)")
    for label in through:
        report("direct, " + label, direct[label], direct[label])
        report("runtime, " + label, through[label], direct[label])
    counts = vms_by_name(runtime_state)
    print("VMs per name through the runtime: %s" % sorted(set(counts.values())))
    benchlib.figure("runtime RSS at the peak", sampler.peak_mib, "MiB", before, "RSS before the waves")
    print("runtime RSS: %.1f MiB before, %.1f MiB at the peak, %.1f MiB after (%d samples)"
          % (before, sampler.peak_mib, after, len(sampler.samples)))


if __name__ == "__main__":
    main()
