# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Machine as a VM spec, a Machine's status, and which Machines belong to another controller."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.machine_status import differs, wanted_status
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.machine_translate import (
    MachineRefused,
    machine_spec,
    other_controller,
    references,
    revision_of,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    ObservedDisk,
    ObservedNIC,
    ObservedVM,
)

CLASSES = {"small": {"spec": {"cpu": {"cores": 2, "sockets": 2}, "memory": {"quantity": "1Gi"}}},
           "off": {"spec": {"cpu": {"cores": 1}, "memory": {"quantity": "1Gi"}, "enabled": False}}}


def machine(**spec):
    base = {"provider": "libvirt", "os": {"imageID": "debian.qcow2"}, "cpu": {"cores": 1}, "memory": 512 * 2**20}
    return {"metadata": {"name": "web-1", "namespace": "team"}, "spec": dict(base, **spec)}


def spec_of(**given):
    return machine_spec(machine(**given), CLASSES, {}, "default", "On")


def test_sizes_from_the_class_with_cpu_and_memory_winning():
    classed = spec_of(machineClass="small", cpu=None, memory=None)
    assert (classed.cpu, classed.memory_mib) == (4, 1024)
    assert spec_of(machineClass="small", cpu={"cores": 3}, memory=None).cpu == 3
    assert spec_of(cpu={"cores": 2, "sockets": 2, "threadsPerCore": 2}).cpu == 8
    assert spec_of(memory=512 * 2**20 + 1).memory_mib == 513


def test_disks_network_cloud_init_and_tags():
    vm = spec_of(disks=[{"name": "data", "sizeGB": 5}, {"name": "root", "sizeGB": 3, "boot": True}],
                 network={"subnet": "lan", "privateIP": "192.0.2.5",
                          "interfaces": [{"name": "eth0", "primary": True}, {"name": "eth1", "subnet": "dmz"}]},
                 sshKeys=["ssh-ed25519 AAAA a@b"], userData="#cloud-config\npackages: [nginx]\n", tags={"env": "prod"})
    assert (vm.image, vm.root_disk_gib, [(d.name, d.size_gib) for d in vm.disks]) == ("debian.qcow2", 3, [("data", 5)])
    assert [(n.name, n.network, n.ip_address) for n in vm.networks] == [("eth0", "lan", "192.0.2.5"),
                                                                        ("eth1", "dmz", None)]
    assert "ssh_authorized_keys:\n- ssh-ed25519 AAAA a@b" in vm.cloud_init.user_data
    assert "packages:" in vm.cloud_init.user_data
    assert {"env.prod", "vitistack.team"} <= set(vm.tags) and revision_of(vm.tags)


def test_base64_user_data_and_the_default_network():
    encoded = base64.b64encode(b"#cloud-config\n{}\n").decode()
    vm = spec_of(cloudInit={"userDataBase64": encoded})
    assert vm.cloud_init.user_data == "#cloud-config\n{}\n" and vm.networks[0].network == "default"


def test_the_revision_follows_what_the_machine_asks():
    assert revision_of(spec_of().tags) == revision_of(spec_of().tags)
    assert revision_of(spec_of().tags) != revision_of(spec_of(memory=1024 * 2**20).tags)


@pytest.mark.parametrize("given, reason, field", [
    ({"machineClass": "missing", "cpu": None}, "MachineClassNotFound", "spec.machineClass"),
    ({"machineClass": "off", "cpu": None}, "MachineClassDisabled", "spec.machineClass"),
    ({"instanceType": "m5.large"}, "InstanceTypeUnsupported", "spec.instanceType"),
    ({"os": {}}, "ImageRequired", "spec.os.imageID"),
    ({"cpu": {"cores": 0}}, "InvalidSpec", "spec.cpu.cores"),
    ({"memory": 1000}, "InvalidSpec", "spec.memory"),
    ({"cpu": None, "memory": None}, "InvalidSpec", "spec.machineClass"),
    ({"cloudInit": {"type": "configDrive"}}, "CloudInitUnsupported", "spec.cloudInit.type"),
    ({"cloudInit": {"userDataBase64": "%%%"}}, "InvalidSpec", "spec.cloudInit.userDataBase64"),
    ({"userData": "#!/bin/sh\n", "sshKeys": ["k"]}, "InvalidSpec", "spec.sshKeys"),
    ({"disks": [{"boot": True, "sizeGB": 1}, {"name": "d"}]}, "InvalidSpec", "spec.disks[1].sizeGB"),
    ({"disks": [{"boot": True}, {"name": "d", "sizeGB": 1, "type": "gold"}]}, "InvalidSpec", "spec.disks"),
    ({"cpu": {"cores": 500}}, "InvalidSpec", "spec.cpu"),
])
def test_what_cannot_be_made_is_refused_naming_the_field(given, reason, field):
    with pytest.raises(MachineRefused) as caught:
        spec_of(**given)
    assert (caught.value.reason, caught.value.option) == (reason, field)


def test_cloud_init_references():
    found = references(machine(cloudInit={"userDataSecretRef": {"name": "s"}, "networkDataConfigMapRef":
                                          {"name": "c", "key": "net"}}))
    assert found == {"cloudInit.userData": ("Secret", "s", "userData"),
                     "cloudInit.networkData": ("ConfigMap", "c", "net")}


@pytest.mark.parametrize("metadata, owner", [
    ({}, None),
    ({"finalizers": ["virtrigaud.core/machine-vm", "foregroundDeletion"]}, None),
    ({"finalizers": ["machine.vitistack.io/finalizer"]}, "finalizer machine.vitistack.io/finalizer"),
    ({"ownerReferences": [{"kind": "MachineSet", "name": "s", "controller": True}]}, "controller MachineSet/s"),
    ({"ownerReferences": [{"kind": "Cluster", "name": "c"}]}, None),
])
def test_another_controller_is_told_by_its_finalizer_or_a_controlling_owner(metadata, owner):
    assert other_controller({"metadata": metadata}) == owner


VM = ObservedVM(id="42", name="web-1", power_state="On", cpu=2, memory_mib=512,
                disks=(ObservedDisk("root", 3, device="vda"),),
                nics=(ObservedNIC("eth0", "52:54:00:00:00:01", ip_addresses=("192.168.122.5", "fe80::1")),))


def test_status_from_the_vm_and_kept_times():
    status = wanted_status(VM, "libvirt", None, {}, "T1")
    assert (status["phase"], status["providerID"], status["memory"], status["disks"][0]["size"]) == (
        "Running", "libvirt://42", 512 * 2**20, 3 * 2**30)
    assert (status["ipAddresses"], status["ipv6Addresses"], status["privateIPAddresses"]) == (
        ["192.168.122.5"], ["fe80::1"], ["192.168.122.5"])
    again = wanted_status(VM, "libvirt", None, status, "T2")
    assert again["conditions"][0]["lastTransitionTime"] == "T1" and not differs(again, status)
    failed = wanted_status(None, "libvirt", ("VMVanished", "gone"), status, "T3")
    assert failed["phase"] == "Failed" and failed["machineID"] is None and differs(failed, status)
    assert failed["conditions"][0] == {"type": "Ready", "status": "False", "reason": "VMVanished", "message": "gone",
                                       "lastTransitionTime": "T3"}
