# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Provider's default network on libvirt, on libvirt's own in-process test driver."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import PowerOp, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import NetworkSpec, VMSpec

libvirt = pytest.importorskip("libvirt")

LAB_NETWORK = "vr-lab"


@pytest.fixture(name="lab_network", scope="module")
def lab_network_fixture():
    conn = libvirt.open("test:///default")
    if LAB_NETWORK not in conn.listNetworks():
        conn.networkCreateXML("<network><name>%s</name><bridge name='virbr9'/></network>" % LAB_NETWORK)
    yield LAB_NETWORK
    conn.close()


def provider(**options):
    return open_provider(ProviderConfig(type="libvirt", uri="test:///default", options=dict(
        storage_pool="default-pool", domain_type="qemu", **options)))


def interfaces_then_undefine(vm_name):
    """The domain's NICs as (type, source); the test driver cannot undefine with the flags delete uses."""
    conn = libvirt.open("test:///default")
    try:
        domain = conn.lookupByName(vm_name)
        xml = ET.fromstring(domain.XMLDesc())
        domain.undefine()
    finally:
        conn.close()
    return [(node.get("type"), dict(node.find("source").attrib)) for node in xml.iter("interface")]


def test_a_nic_without_a_network_joins_the_default_one(lab_network):
    backend = provider(network=lab_network)
    name = "vr-%s" % uuid.uuid4().hex[:6]
    spec = VMSpec(name=name, cpu=1, memory_mib=256, networks=(
        NetworkSpec(name="lan"), NetworkSpec(name="named", network="default"), NetworkSpec(name="br", bridge="br0")))
    backend.check_spec(spec)
    backend.create(spec)
    backend.close()
    assert interfaces_then_undefine(name) == [("network", {"network": lab_network}),
                                              ("network", {"network": "default"}), ("bridge", {"bridge": "br0"})]


def test_a_default_network_that_does_not_exist_is_named():
    backend = provider(network="no-such-network")
    with pytest.raises(SpecError) as caught:
        backend.check_spec(VMSpec(name="vr-x", cpu=1, memory_mib=256, networks=(NetworkSpec(name="lan"),)))
    assert caught.value.option == "defaults.network"
    backend.check_spec(VMSpec(name="vr-x", cpu=1, memory_mib=256,
                              networks=(NetworkSpec(name="lan", network="default"),)))
    backend.close()


def test_a_network_that_keeps_no_leases_gives_its_vms_no_address_rather_than_failing_the_listing():
    """The test driver's networks cannot report DHCP leases, as some drivers' cannot."""
    conn = libvirt.open("test:///default")
    try:
        assert conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE)
        names = sorted(domain.name() for domain in conn.listAllDomains(0))
    finally:
        conn.close()
    listed = provider().list_vms()
    assert sorted(vm.name for vm in listed) == names
    assert all(not vm.ip_addresses for vm in listed)


def test_a_volume_deleted_while_the_listing_reads_it_counts_as_gone():
    """A member being removed loses its volumes between their lookup and their read; the listing goes on."""
    backend = provider()
    name = "vr-%s" % uuid.uuid4().hex[:6]
    backend.create(VMSpec(name=name, cpu=1, memory_mib=256, root_disk_gib=1))
    find_volume = backend.storage.volume_at

    def volume_deleted_after_lookup(path):
        volume = find_volume(path)
        if volume is not None:
            volume.delete(0)
        return volume

    backend.storage.volume_at = volume_deleted_after_lookup
    listed = {vm.name: vm for vm in backend.list_vms()}
    backend.close()
    interfaces_then_undefine(name)
    assert [(disk.size_gib, disk.path is not None) for disk in listed[name].disks] == [(0, True)]
    assert listed[name].placement.datastore is None


def test_a_domain_undefined_while_it_is_described_is_not_there():
    backend = provider()
    name = "vr-%s" % uuid.uuid4().hex[:6]
    vm_id, _task = backend.create(VMSpec(name=name, cpu=1, memory_mib=256))
    find_domain = backend._find_domain

    def domain_undefined_after_lookup(wanted):
        domain = find_domain(wanted)
        domain.undefine()
        return domain

    backend._find_domain = domain_undefined_after_lookup
    assert backend.describe(vm_id) is None
    backend.close()


def test_a_reboot_of_a_running_domain_starts_it_anew_rather_than_resetting_it():
    """A reset in a guest's first instants can hang its firmware under emulation; a new process cannot."""
    backend = provider()
    name = "vr-%s" % uuid.uuid4().hex[:6]
    vm_id, _task = backend.create(VMSpec(name=name, cpu=1, memory_mib=256))
    backend.power(vm_id, PowerOp.ON)
    first = backend._domain(vm_id).ID()
    backend.power(vm_id, PowerOp.REBOOT)
    domain = backend._domain(vm_id)
    assert domain.isActive() and domain.ID() != first
    backend.power(vm_id, PowerOp.OFF)
    backend.close()
    interfaces_then_undefine(name)
