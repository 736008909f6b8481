# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A list or a dictionary given where a string goes is refused, by the option's path."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import lifecycle_spec, vm_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.coercion import container_for_string

SPEC = {"name": {"type": "str", "aliases": ["vm_name"]}, "description": {}, **vm_spec(), **lifecycle_spec()}


@pytest.mark.parametrize("params, path", [
    ({"cloud_init": {"user_data": ["#cloud-config"]}}, "cloud_init.user_data"),
    ({"placement": {"datastore": {"name": "ds1"}}}, "placement.datastore"),
    ({"tags": ["web", ["db"]]}, "tags[1]"),
    ({"networks": [{"name": "lan", "dns": [["10.0.0.53"]]}]}, "networks[0].dns[0]"),
    ({"vm_name": ["web"]}, "name"),
    ({"description": ["a", "b"]}, "description"),
])
def test_containers_where_strings_go(params, path):
    found = container_for_string(SPEC, params)
    assert found is not None and found.option == path


def test_scalars_and_the_right_containers_pass():
    params = {"name": 123, "cpu": 2, "disks": [{"name": "d1", "size": "1Gi"}], "tags": ["web"],
              "networks": [{"name": "lan", "dns": ["10.0.0.53"]}], "cloud_init": {"user_data": "#cloud-config"}}
    assert container_for_string(SPEC, params) is None
