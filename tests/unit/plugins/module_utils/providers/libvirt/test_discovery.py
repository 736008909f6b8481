# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt discovery on libvirt's own in-process test driver: networks with their subnets, pools, the host, and
the volumes no domain uses."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider

libvirt = pytest.importorskip("libvirt")


def test_discovery_on_the_test_driver() -> None:
    provider = open_provider(ProviderConfig(type="libvirt", uri="test:///default",
                                            options={"storage_pool": "default-pool", "domain_type": "qemu"}))
    try:
        found = provider.discover()
    finally:
        provider.close()
    assert ("default", "network", "192.168.122.0/24") in [(n.name, n.kind, n.cidr) for n in found.networks]
    assert found.default_network == "default"
    pool = found.default_storage()
    assert pool is not None and pool.name == "default-pool" and pool.kind == "dir" and pool.capacity_gib
    host = found.largest_host()
    assert host is not None and host.cpus >= 1 and host.memory_mib >= 1
    assert found.features()["snapshots"] and found.hotplug_disks
    assert all(image.id == image.name for image in found.images)
