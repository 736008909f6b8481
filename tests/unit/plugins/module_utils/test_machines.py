# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One reconcile of Machines, end to end on the mock provider, with the Kubernetes API held in memory."""

from __future__ import annotations

import base64
import copy

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import machines as reconcile
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.machine_connection import connection_from
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.machine_translate import FINALIZER
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import PowerOp, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline

GIB = 1024 ** 3


class MemoryKube:
    """The calls the reconcile makes, on objects held in memory (JSON patch and merge patch as the server does)."""

    def __init__(self, objects):
        self.objects = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects}
        self.writes = 0

    def list(self, kind, namespace=None, label_selector=None):
        return [copy.deepcopy(o) for (k, ns, dummy), o in sorted(self.objects.items())
                if k == kind and namespace in (None, ns)]

    def get(self, kind, name, namespace=None):
        found = self.objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found else None

    def request(self, method, path, body=None, query=None, content_type="", what=""):
        parts = path.split("/")
        namespace, name = parts[parts.index("namespaces") + 1], parts[parts.index("machines") + 1]
        obj = self.objects[("Machine", namespace, name)]
        self.writes += 1
        if content_type == "application/merge-patch+json":
            status = obj.setdefault("status", {})
            for key, value in body["status"].items():
                if value is None:
                    status.pop(key, None)
                else:
                    status[key] = value
        else:
            finalizers = obj["metadata"].setdefault("finalizers", [])
            for op in body:
                if op["op"] == "add":
                    finalizers.append(FINALIZER)
                elif op["op"] == "remove":
                    finalizers.remove(FINALIZER)
            if not finalizers and obj["metadata"].get("deletionTimestamp"):
                del self.objects[("Machine", namespace, name)]
        return {}


def machine(name, namespace="team", **spec):
    base = {"provider": "mock", "os": {"imageID": "debian"}, "disks": [{"sizeGB": 2, "boot": True}],
            "cpu": {"cores": 1}, "memory": 256 * 1024 * 1024}
    return {"apiVersion": "vitistack.io/v1alpha1", "kind": "Machine",
            "metadata": {"name": name, "namespace": namespace}, "spec": dict(base, **spec)}


MACHINE_CLASS = {"kind": "MachineClass", "metadata": {"name": "small"},
                 "spec": {"cpu": {"cores": 2}, "memory": {"quantity": "512Mi"}, "enabled": True}}


@pytest.fixture
def world(tmp_path):
    kube = MemoryKube([machine("a"), machine("b", machineClass="small", cpu=None, memory=None),
                       machine("c", os={"imageID": "missing-image"}), MACHINE_CLASS,
                       machine("other", provider="proxmox")])
    config = ProviderConfig(type="mock", uri="mock://%s/state.json" % tmp_path)
    return kube, config


def converge(kube, config, check=False, bulk=True, **selection):
    chosen = reconcile.Selection("mock", **selection)
    provider = open_provider(config)
    # A backend without a bulk listing has its Machines' VMs described one by one, in parallel.
    provider.lists_in_bulk = bulk
    try:
        found = reconcile.load_machines(kube, chosen)
        vms = reconcile.observe(provider, found, 4, Deadline(60))
        steps = reconcile.plan_machines(kube, provider, found, vms, chosen)
        predicted = reconcile.predicted(steps, found, chosen)
        if check:
            return predicted["plan"], predicted["machines"], provider.list_vms()
        served = reconcile.apply_steps(kube, provider, steps, found, vms, chosen, reconcile.RunOptions(parallelism=2),
                                       Deadline(60))
        return predicted["plan"], served, provider.list_vms()
    finally:
        provider.close()


def by_machine(entries):
    return {entry["machine"]: entry for entry in entries}


@pytest.mark.parametrize("bulk", [True, False])
def test_machines_become_vms_with_status_and_the_second_run_changes_nothing(world, bulk):
    kube, config = world
    check_plan, dummy, vms = converge(kube, config, check=True, bulk=bulk)
    assert vms == [] and kube.writes == 0
    plan, served, vms = converge(kube, config, bulk=bulk)
    assert plan == check_plan
    assert {e["machine"]: e["action"] for e in plan} == {"team/a": "create", "team/b": "create", "team/c": None}
    assert sorted((vm.name, vm.cpu, vm.memory_mib) for vm in vms) == [("a", 1, 256), ("b", 2, 512)]
    outcome = by_machine(served)
    assert outcome["team/c"]["failure_reason"] == "InvalidSpec" and "os.imageID" in outcome["team/c"]["failure_message"]
    status = kube.get("Machine", "a", "team")["status"]
    assert status["phase"] == "Running" and status["cpus"] == 1 and status["memory"] == 256 * 1024 * 1024
    assert status["providerID"] == "mock://" + status["machineID"]
    assert status["disks"][0]["size"] == 2 * GIB
    assert kube.get("Machine", "c", "team")["status"]["phase"] == "Failed"
    assert FINALIZER in kube.get("Machine", "a", "team")["metadata"]["finalizers"]
    assert "finalizers" not in kube.get("Machine", "c", "team")["metadata"]
    writes = kube.writes
    again, served, dummy = converge(kube, config, bulk=bulk)
    assert again == [] and kube.writes == writes


def test_an_edited_machine_is_updated_and_a_vanished_vm_made_again_or_failed(world, tmp_path):
    kube, config = world
    converge(kube, config)
    kube.objects[("Machine", "team", "a")]["spec"]["memory"] = 512 * 1024 * 1024
    plan, dummy, vms = converge(kube, config)
    assert [(e["machine"], e["action"]) for e in plan] == [("team/a", "update")]
    assert "set_memory" in [change["action"] for change in plan[0]["changes"]]
    assert kube.get("Machine", "a", "team")["status"]["memory"] == 512 * 1024 * 1024
    provider = open_provider(config)
    vm_id = provider.find("b").id
    provider.power(vm_id, PowerOp.OFF)
    provider.delete(vm_id)
    provider.close()
    failed, dummy, dummy = converge(kube, config, on_vm_vanished="fail")
    assert [(e["machine"], e["failure_reason"]) for e in failed] == [("team/b", "VMVanished")]
    plan, dummy, vms = converge(kube, config)
    assert [(e["machine"], e["action"]) for e in plan] == [("team/b", "create")]
    assert "b" in {vm.name for vm in vms}


def test_a_deleted_machine_loses_its_vm_then_the_finalizer(world):
    kube, config = world
    converge(kube, config)
    kube.objects[("Machine", "team", "a")]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    check_plan, dummy, dummy = converge(kube, config, check=True)
    plan, dummy, vms = converge(kube, config)
    assert plan == check_plan and [(e["action"], e["finalizer"]) for e in plan] == [("delete", "remove")]
    assert "a" not in {vm.name for vm in vms} and ("Machine", "team", "a") not in kube.objects


def test_machines_another_controller_owns_are_left_alone(world):
    kube, config = world
    kube.objects[("Machine", "team", "a")]["metadata"]["finalizers"] = ["machine.vitistack.io/finalizer"]
    plan, served, vms = converge(kube, config)
    assert "a" not in {vm.name for vm in vms}
    skipped = by_machine(served)["team/a"]["skipped"]
    assert skipped == "owned by another controller (finalizer machine.vitistack.io/finalizer)"
    assert "team/a" not in by_machine(plan)


def provider_and_secret(data, provider_type="proxmox", endpoint=None):
    secret = {"kind": "Secret", "metadata": {"name": "pve-credentials", "namespace": "team"},
              "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}
    spec = {"providerType": provider_type, "endpoint": endpoint or {},
            "authentication": {"type": "credentials",
                               "credentialsRef": {"secretName": "pve-credentials", "namespace": "team"}}}
    return MemoryKube([secret, {"kind": "MachineProvider", "metadata": {"name": "pve"}, "spec": spec}])


def test_the_connection_from_a_machineproviders_secret(tmp_path):
    kube = provider_and_secret({"api_host": "pve.example", "api_port": "8006", "api_user": "root@pam",
                                "api_password": "s3cret", "validate_certs": "false"})
    connection = connection_from(kube, "pve", {}, str(tmp_path))
    config = connection.config
    assert (config.type, config.uri, config.options["port"], config.password, config.validate_certs) == (
        "proxmox", "pve.example", 8006, "s3cret", False)
    assert connection.secrets == ("s3cret",) and config.name == "pve"


@pytest.mark.parametrize("data, params, option, words", [
    ({"libvirt_domain_type": "qemu"}, {}, "machine_provider", "libvirt_domain_type, which proxmox does not read"),
    ({"api_port": "many"}, {}, "machine_provider", "api_port=many is not a whole number"),
    ({}, {"api_host": "elsewhere"}, "api_host", "leave out api_host"),
])
def test_what_a_machineprovider_cannot_give_is_refused_by_name(tmp_path, data, params, option, words):
    with pytest.raises(SpecError) as caught:
        connection_from(provider_and_secret(data), "pve", params, str(tmp_path))
    assert caught.value.option == option and words in caught.value.msg


def test_a_kubeconfig_in_the_secret_becomes_a_private_file(tmp_path):
    kube = provider_and_secret({"kubeconfig": "apiVersion: v1\n"}, provider_type="kubevirt")
    config = connection_from(kube, "pve", {"kubeconfig": "/the/machines/cluster"}, str(tmp_path)).config
    assert open(config.options["kubeconfig"]).read() == "apiVersion: v1\n"
    assert config.options["kubeconfig"].startswith(str(tmp_path))
