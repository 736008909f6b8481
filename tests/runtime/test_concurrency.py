# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Creates of one name at once make one VM: the runtime lets them take turns by name."""

from __future__ import annotations

import concurrent.futures

from test_runtime import call, runtime_fixture  # noqa: F401  # pylint: disable=unused-import  # the fixture


def test_eight_creates_of_one_name_at_once_make_one_vm(runtime):
    channels = [runtime.channel() for dummy in range(8)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda channel: call(channel, "Create", name="same-1", class_json='{"CPU": 1}').id,
                            channels))
    assert len(set(ids)) == 1
    assert [vm.name for vm in call(channels[0], "ListVMs").vms] == ["same-1"]
