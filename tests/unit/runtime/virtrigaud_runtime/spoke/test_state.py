# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime

from virtrigaud_runtime.spoke.state import AgentState, Outbox

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def test_transitions():
    state = AgentState()
    state.hub_unreachable("down")
    assert state.state == "Connecting" and not state.ready
    state.backend(True, "ok")
    assert state.state == "Connecting"
    state.hub_ok(NOW)
    assert state.state == "Healthy" and state.ready
    state.backend(False, "libvirtd gone")
    assert state.state == "Degraded" and not state.ready
    state.hub_unreachable("down")
    assert state.state == "Disconnected" and state.snapshot()["status"] == "unavailable"
    state.hub_refused("401")
    assert state.state == "Unhealthy"
    state.backend(True, "ok")
    state.hub_ok(NOW)
    assert state.state == "Healthy"


def test_outbox_keeps_results_with_the_same_id_apart_and_bounds_them():
    box = Outbox(2)
    first, second, third = {"operation_id": "op"}, {"operation_id": "op"}, {"operation_id": "op"}
    assert box.add(first) is None and box.add(second) is None
    assert box.add(third) is first
    box.done(first)
    assert len(box) == 2 and box.head() is second
    box.done(second)
    assert box.head() is third
