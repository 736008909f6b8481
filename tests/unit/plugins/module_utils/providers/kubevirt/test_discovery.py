# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure readings of KubeVirt discovery: a NetworkAttachmentDefinition's subnet, a node's size."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt import discovery


@pytest.mark.parametrize("config, cidr", [
    ('{"type": "bridge", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}}', "10.1.0.0/24"),
    ('{"type": "bridge", "ipam": {"type": "whereabouts", "ranges": [[{"subnet": "10.2.0.0/16"}]]}}', "10.2.0.0/16"),
    ('{"type": "bridge", "bridge": "br-vr"}', ""),
    ("not json", ""),
])
def test_a_network_attachment_definitions_subnet(config: str, cidr: str) -> None:
    assert discovery._nad_cidr({"spec": {"config": config}}) == cidr


@pytest.mark.parametrize("capacity, cpus, memory_mib", [
    ({"cpu": "8", "memory": "32Gi"}, 8, 32768),
    ({"cpu": "4000m", "memory": "16384Mi"}, 4, 16384),
    ({}, 0, 0),
])
def test_a_nodes_size(capacity: dict[str, Any], cpus: int, memory_mib: int) -> None:
    host = discovery._node({"metadata": {"name": "n1"}, "status": {"capacity": capacity}})
    assert (host.cpus, host.memory_mib) == (cpus, memory_mib)
