# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.schema_check import check, from_options, snake

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "enum": ["a", "b", "a"], "minLength": 1},
        "maxCPUs": {"type": "integer", "minimum": 1, "maximum": 8},
        "availableVPCs": {"type": "array", "items": {"type": "object", "required": ["id"],
                                                     "properties": {"id": {"type": "string"}}}},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "size": {"x-kubernetes-int-or-string": True, "pattern": "^[0-9]+(Gi|Mi)?$"},
        "on": {"type": "boolean"},
    },
}


@pytest.mark.parametrize("name, expected", [
    ("maxCPUs", "max_cpus"), ("availableVPCs", "available_vpcs"), ("publicIPSupport", "public_ip_support"),
    ("ipv6Support", "ipv6_support"), ("maxMemoryGB", "max_memory_gb"), ("accountID", "account_id"),
    ("caBundle", "ca_bundle"), ("region", "region"),
])
def test_snake(name: str, expected: str) -> None:
    assert snake(name) == expected


def test_from_options_renames_through_the_schema_and_keeps_map_keys() -> None:
    given = {"kind": "a", "max_cpus": 2, "available_vpcs": [{"id": "v"}], "tags": {"costCenter": "x"}, "on": None}
    assert from_options(given, SCHEMA, "") == {"kind": "a", "maxCPUs": 2, "availableVPCs": [{"id": "v"}],
                                               "tags": {"costCenter": "x"}}


def test_from_options_refuses_an_unknown_key_by_name() -> None:
    with pytest.raises(SpecError) as caught:
        from_options({"available_vpcs": [{"vpc": 1}]}, SCHEMA, "network")
    assert caught.value.option == "network.available_vpcs[0].vpc"


@pytest.mark.parametrize("value, option", [
    ({}, "kind"),
    ({"kind": "c"}, "kind"),
    ({"kind": "a", "maxCPUs": 0}, "max_cpus"),
    ({"kind": "a", "maxCPUs": 9}, "max_cpus"),
    ({"kind": "a", "maxCPUs": True}, "max_cpus"),
    ({"kind": "a", "maxCPUs": "2"}, "max_cpus"),
    ({"kind": "a", "availableVPCs": [{}]}, "available_vpcs[0].id"),
    ({"kind": "a", "availableVPCs": {}}, "available_vpcs"),
    ({"kind": "a", "tags": {"x": 1}}, "tags.x"),
    ({"kind": "a", "size": "4GB"}, "size"),
    ({"kind": "a", "size": 1.5}, "size"),
    ({"kind": "a", "on": "yes"}, "on"),
    ({"kind": "a", "extra": 1}, "extra"),
])
def test_check_names_the_broken_rule(value: dict[str, Any], option: str) -> None:
    with pytest.raises(SpecError) as caught:
        check(value, SCHEMA, "", snake)
    assert caught.value.option == option


def test_check_accepts_a_valid_value_and_lists_a_duplicated_enum_once() -> None:
    check({"kind": "b", "maxCPUs": 8, "size": 4, "tags": {"k": "v"}, "availableVPCs": [{"id": "v"}]}, SCHEMA, "")
    with pytest.raises(SpecError) as caught:
        check({"kind": "z"}, SCHEMA, "spec")
    assert caught.value.msg == "'z' is not one of a, b"


def test_check_holds_every_part_of_an_all_of_as_the_api_server_does() -> None:
    schema = {"type": "object", "properties": {"type": {
        "type": "string", "allOf": [{"enum": ["FullClone", "LinkedClone"]}, {"enum": ["FullClone", "LinkedClone"]}]}}}
    check({"type": "LinkedClone"}, schema, "spec.options")
    with pytest.raises(SpecError) as refused:
        check({"type": "SnapClone"}, schema, "spec.options")
    assert refused.value.option == "spec.options.type" and "'SnapClone' is not one of FullClone" in refused.value.msg
