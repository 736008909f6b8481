# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime

import pytest
from ovim_hub import wire as hub_wire

from virtrigaud_runtime.spoke import wire


@pytest.mark.parametrize("given,expected", [("VMCreate", "create_vm"), ("create_vm", "create_vm"),
                                            ("TemplateSync", "sync_templates"), ("ConfigUpdate", "config_update"),
                                            ("VDCDelete", "delete_vdc"), ("what", "what")])
def test_document_names_are_aliases(given, expected):
    assert wire.canonical_type(given) == expected


def test_result_passes_the_hubs_checks():
    op = wire.parse_operation({"id": "op-1", "type": "VMStart", "payload": {"name": "a"}}, "pull", 1)
    result = wire.result(op, True, 1.25, {"x": 1})
    assert result["duration"] == 1250000000 and isinstance(result["duration"], int)
    assert result["timestamp"].endswith("Z")
    assert hub_wire.check_result(hub_wire.decode(__import__("json").dumps(result).encode())) is None


def test_a_float_duration_and_a_naive_time_are_refused_by_the_fake_hub():
    assert hub_wire.check_result(hub_wire.decode(b'{"status": "completed", "duration": 1.0}'))[0] == 400
    assert hub_wire.check_report({"agent_id": "a", "cluster_id": "c", "zone_id": "z", "status": "healthy",
                                  "report_time": "2025-01-01T00:00:00"})[0] == 400


def test_naive_times_never_leave():
    with pytest.raises(ValueError):
        wire.rfc3339(datetime.datetime(2025, 1, 1))
    assert wire.rfc3339(datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)) == "2025-01-01T00:00:00.000000Z"


@pytest.mark.parametrize("document", [None, [], {"id": "x"}, {"type": "list_vms"}, {"id": 1, "type": "x"},
                                      {"id": "x", "type": "list_vms", "payload": []}])
def test_unreadable_operations(document):
    with pytest.raises(wire.BadOperation):
        wire.parse_operation(document, "push", 1)


def test_colliding_ids_are_kept_apart_by_sequence():
    made = hub_wire.operation_id(datetime.datetime(2025, 9, 26, 10, 0, 0, 1))
    assert made == hub_wire.operation_id(datetime.datetime(2025, 9, 26, 10, 0, 0, 999)) == "op-20250926-100000-000"
    first, second = (wire.parse_operation({"id": made, "type": "get_health"}, "pull", seq) for seq in (1, 2))
    assert first != second
