# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider, runtime and VirtualMachine objects: what is written, what is refused, and how it says so."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import provider, runtime, vm
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Change, comparable
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.resources import KINDS
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox.client import (
    endpoint as proxmox_endpoint,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm


def params(**changes):
    base = {"name": "lab", "namespace": "infra", "type": "libvirt", "uri": "qemu:///system",
            "credentials": {"username": "root", "password": "s3cret"}, "credentials_secret": None,
            "validate_certs": True, "insecure_skip_verify": None, "defaults": None, "rate_limit": None,
            "health_check": None, "labels": None, "annotations": None,
            "runtime": {"image": None, "replicas": 1, "service_port": 9443, "env": None, "tls": {"enabled": False}}}
    base.update(changes)
    return base


COLLECTION_IMAGE = "registry.example.com/virtrigaud/provider-runtime:0.1.0"


def test_provider_uses_the_schema_names_and_always_writes_the_tls_block():
    written = provider.provider_resource(params(type="vsphere", uri="https://vc/sdk",
                                                defaults={"storage_pod": "pod1", "datastore": None}))
    assert written["apiVersion"] == "infra.virtrigaud.io/v1beta1"
    assert written["spec"]["credentialSecretRef"] == {"name": "lab-credentials"}
    assert written["spec"]["defaults"] == {"storagePod": "pod1"}
    assert written["spec"]["runtime"]["service"] == {"port": 9443, "tls": {"enabled": False}}
    assert written["spec"]["insecureSkipVerify"] is False


@pytest.mark.parametrize("provider_type, image", [
    ("vsphere", "ghcr.io/projectbeskar/virtrigaud/provider-vsphere:v0.3.11"),
    ("libvirt", "ghcr.io/projectbeskar/virtrigaud/provider-libvirt:v0.3.11"),
    ("proxmox", "ghcr.io/projectbeskar/virtrigaud/provider-proxmox:v0.3.11"),
])
def test_the_default_image_is_upstreams_published_one(provider_type, image):
    written = provider.provider_resource(params(type=provider_type, uri="https://host:8006"))
    assert written["spec"]["runtime"]["image"] == image


def test_every_default_and_the_rate_limit_reach_the_collections_runtime():
    defaults = {"storage_pod": "pod1", "cluster": "c1", "folder": "f1", "resource_pool": "rp1", "network": "lan"}
    written = provider.provider_resource(params(
        type="vsphere", uri="https://vc/sdk", defaults=defaults, rate_limit={"qps": 5, "burst": None},
        runtime={"image": COLLECTION_IMAGE, "image_pull_secrets": ["pull-a", "pull-b"], "tls": {"enabled": False}}))
    spec = written["spec"]
    assert spec["defaults"] == {"storagePod": "pod1", "cluster": "c1", "folder": "f1", "resourcePool": "rp1",
                                "network": "lan"}
    assert spec["rateLimit"] == {"qps": 5}
    assert spec["runtime"]["imagePullSecrets"] == [{"name": "pull-a"}, {"name": "pull-b"}]
    obj = dict(written, metadata=dict(written["metadata"], uid="u-1"))
    env = {e["name"]: e.get("value") for e in runtime.container_env(obj, False)}
    assert {name: value for name, value in env.items() if name.startswith(("PROVIDER_DEFAULT_", "PROVIDER_RATE"))} == {
        "PROVIDER_DEFAULT_STORAGE_POD": "pod1", "PROVIDER_DEFAULT_CLUSTER": "c1", "PROVIDER_DEFAULT_FOLDER": "f1",
        "PROVIDER_DEFAULT_RESOURCE_POOL": "rp1", "PROVIDER_DEFAULT_NETWORK": "lan", "PROVIDER_RATE_LIMIT_QPS": "5"}


@pytest.mark.parametrize("provider_type, defaults, image, option", [
    ("libvirt", {"cluster": "c1"}, COLLECTION_IMAGE, "defaults.cluster"),
    ("libvirt", {"storage_pod": "p"}, COLLECTION_IMAGE, "defaults.storage_pod"),
    ("proxmox", {"resource_pool": "rp"}, COLLECTION_IMAGE, "defaults.resource_pool"),
    ("proxmox", {"folder": "f"}, COLLECTION_IMAGE, "defaults.folder"),
    ("vsphere", {"network": "lan"}, None, "defaults.network"),
    ("vsphere", {"resource_pool": "rp"}, None, "defaults.resource_pool"),
    ("libvirt", {"datastore": "pool"}, None, "defaults.datastore"),
    ("qemu", {"datastore": "pool"}, COLLECTION_IMAGE, "defaults.datastore"),
])
def test_a_default_the_runtime_has_no_use_for_is_refused_by_name(provider_type, defaults, image, option):
    with pytest.raises(SpecError) as caught:
        provider.provider_resource(params(type=provider_type, uri="https://host:8006", defaults=defaults,
                                          runtime={"image": image, "tls": {"enabled": False}}))
    assert caught.value.option == option


def test_defaults_that_a_backend_uses_pass():
    for provider_type, defaults in (("libvirt", {"datastore": "pool", "network": "lan"}),
                                    ("proxmox", {"datastore": "local-lvm", "network": "vmbr1"})):
        written = provider.provider_resource(params(type=provider_type, uri="https://host:8006", defaults=defaults,
                                                    runtime={"image": COLLECTION_IMAGE, "tls": {"enabled": False}}))
        assert sorted(written["spec"]["defaults"]) == ["datastore", "network"]
    upstream = provider.provider_resource(params(type="vsphere", uri="https://vc/sdk",
                                                 defaults={"datastore": "ds1", "cluster": "c1", "folder": "f"}))
    assert upstream["spec"]["defaults"] == {"datastore": "ds1", "cluster": "c1", "folder": "f"}


@pytest.mark.parametrize("changes, option", [
    ({"uri": "vcenter.example.com"}, "endpoint"),
    ({"uri": "qemu+ssh://root@kvm1"}, "endpoint"),
    ({"runtime": {"replicas": 0}}, "runtime.replicas"),
    ({"runtime": {"image": "bad image"}}, "runtime.image"),
    ({"runtime": {"service_port": 443}}, "runtime.service_port"),
    ({"health_check": {"interval": "30 s"}}, "health_check.interval"),
    ({"runtime": {"env": [{"name": "FLAG", "value": True}]}}, "runtime.env[0].value"),
    ({"runtime": {"env": [{"name": "1BAD=", "value": "x"}]}}, "runtime.env[0].name"),
    ({"name": "Lab"}, "name"),
    ({"rate_limit": {"qps": 0}}, "rate_limit.qps"),
    ({"rate_limit": {"qps": 1001}}, "rate_limit.qps"),
    ({"rate_limit": {"burst": 2001}}, "rate_limit.burst"),
    ({"rate_limit": {"qps": 5}}, "rate_limit"),
    ({"type": "vsphere", "defaults": {"datastore": "ds", "storage_pod": "pod"}}, "defaults.storage_pod"),
    ({"type": "vsphere", "defaults": {"folder": "f" * 256}}, "defaults.folder"),
    ({"runtime": {"image_pull_secrets": ["Bad_Name"]}}, "runtime.image_pull_secrets[0]"),
    ({"runtime": {"image_pull_secrets": ["s%d" % n for n in range(11)]}}, "runtime.image_pull_secrets"),
    ({"type": "qemu"}, "runtime.image"),
    ({"name": "p" * 64}, "name"),
    ({"name": "lab\n"}, "name"),
    ({"uri": "https://vcenter.example.com:99999/sdk"}, "endpoint"),
    ({"uri": "https://vcenter.example.com/sdk\n"}, "endpoint"),
    ({"health_check": {"failure_threshold": -1}}, "health_check.failure_threshold"),
    ({"runtime": {"env": [{"name": "FLAG", "value": {"on": 1}}]}}, "runtime.env[0].value"),
])
def test_bad_provider_input_names_the_option(changes, option):
    with pytest.raises(SpecError) as caught:
        provider.provider_resource(params(**changes))
    assert caught.value.option == option


@pytest.mark.parametrize("provider_type, keys, accepted", [
    ("vsphere", {"username", "password"}, True),
    ("vsphere", {"username"}, False),
    ("proxmox", {"token_id", "token_secret"}, True),
    ("proxmox", {"username", "password", "ssh_user"}, True),
    ("proxmox", {"token_id"}, False),
    ("libvirt", set(), True),
    ("libvirt", {"token"}, False),
])
def test_credential_layouts(provider_type, keys, accepted):
    if accepted:
        provider.check_credentials(provider_type, keys, "credentials")
    else:
        with pytest.raises(SpecError):
            provider.check_credentials(provider_type, keys, "credentials")


def test_secrets_are_labelled_for_their_provider_and_never_shown():
    secret = provider.credentials_secret(params())
    assert secret["metadata"]["labels"][provider.OWNER_LABEL] == "lab"
    assert base64.b64decode(secret["data"]["password"]) == b"s3cret"
    shown = provider.redact_secret(secret)
    assert "s3cret" not in str(shown) and sorted(shown["data"]) == ["password", "username"]


def test_tls_material_must_come_complete():
    with pytest.raises(SpecError) as caught:
        provider.tls_secret(params(runtime={"tls": {"certificate": "PEM"}}))
    assert "missing: ca.crt, tls.key" in caught.value.msg and caught.value.option == "runtime.tls"


def test_a_proxmox_token_wins_over_a_password():
    config = provider.provider_connection("proxmox", "https://pve:8006", {"token_id": "ops@pve!ci", "token_secret": "t",
                                                                          "username": "root@pam", "password": "p"})
    where = proxmox_endpoint(config)
    assert (where.user, where.token_name) == ("ops@pve", "ci") and config.options["token_secret"] == "t"


def provider_object(**runtime_changes):
    spec_runtime = {"image": COLLECTION_IMAGE, "replicas": 1,
                    "service": {"port": 9443, "tls": {"enabled": True, "secretRef": {"name": "lab-tls"}}}}
    spec_runtime.update(runtime_changes)
    return {"apiVersion": "infra.virtrigaud.io/v1beta1", "kind": "Provider",
            "metadata": {"name": "lab", "namespace": "infra", "uid": "u-1", "generation": 2},
            "spec": {"type": "vsphere", "endpoint": "https://vc/sdk",
                     "credentialSecretRef": {"name": "lab-credentials"},
                     "defaults": {"datastore": "ds1", "network": "VM Network"}, "runtime": spec_runtime}}


def test_runtime_follows_upstream_names_args_env_and_mounts():
    deployment = runtime.deployment(provider_object(), runtime.RuntimeOptions())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["metadata"]["name"] == "virtrigaud-provider-infra-lab"
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert container["args"] == ["--grpc-addr=:9443", "--metrics-addr=:8080", "--provider-type=vsphere",
                                 "--provider-endpoint=https://vc/sdk", "--tls-enabled=true"]
    names = [entry["name"] for entry in container["env"]]
    assert names == ["PROVIDER_TYPE", "PROVIDER_ENDPOINT", "PROVIDER_NAMESPACE", "PROVIDER_NAME", "TLS_ENABLED",
                     "TLS_INSECURE_SKIP_VERIFY", "LOG_LEVEL", "LOG_FORMAT", "PROVIDER_DEFAULT_DATASTORE",
                     "PROVIDER_DEFAULT_NETWORK"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/etc/virtrigaud/credentials", "/tmp",
                                                                   "/etc/virtrigaud/tls"}
    assert "podAntiAffinity" not in deployment["spec"]["template"]["spec"].get("affinity", {})


def test_upstream_images_get_upstream_flags_and_replicas_spread():
    obj = provider_object(image="ghcr.io/projectbeskar/virtrigaud/provider-vsphere:v0.3.11", replicas=3)
    obj["spec"]["defaults"].pop("network")
    deployment = runtime.deployment(obj, runtime.RuntimeOptions())
    spec = deployment["spec"]["template"]["spec"]
    assert spec["containers"][0]["args"] == ["--port=9443", "--health-port=8080"]
    assert "podAntiAffinity" in spec["affinity"]


def test_the_health_check_sets_the_runtimes_check_and_the_readiness_probe():
    obj = provider_object()
    obj["spec"]["healthCheck"] = {"enabled": True, "interval": "1m30s", "timeout": "500ms",
                                  "failureThreshold": 4, "successThreshold": 2}
    container = runtime.deployment(obj, runtime.RuntimeOptions())["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-2:] == ["--check-interval=90", "--check-timeout=0.5"]
    assert container["readinessProbe"] == {"httpGet": {"path": "/readyz", "port": 8080}, "initialDelaySeconds": 5,
                                           "periodSeconds": 90, "failureThreshold": 4, "successThreshold": 2}


def test_a_disabled_health_check_turns_the_hypervisor_check_off():
    obj = provider_object()
    obj["spec"]["healthCheck"] = {"enabled": False, "interval": "30s", "failureThreshold": 3}
    container = runtime.deployment(obj, runtime.RuntimeOptions())["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-1] == "--no-hypervisor-check"
    assert container["readinessProbe"]["periodSeconds"] == 10 and "failureThreshold" not in container["readinessProbe"]


@pytest.mark.parametrize("health, image, option", [
    ({"interval": "30s"}, None, "health_check.interval"),
    ({"success_threshold": 2}, None, "health_check.success_threshold"),
    ({"interval": "0s"}, COLLECTION_IMAGE, "health_check.interval"),
    ({"timeout": "10 s"}, COLLECTION_IMAGE, "health_check.timeout"),
])
def test_a_health_check_that_would_change_nothing_is_refused(health, image, option):
    with pytest.raises(SpecError) as refused:
        provider.provider_resource(params(type="vsphere", uri="https://vc/sdk", health_check=health,
                                          runtime={"image": image, "tls": {"enabled": False}}))
    assert refused.value.option == option


def test_upstreams_image_takes_only_the_health_checks_switch():
    written = provider.provider_resource(params(type="vsphere", uri="https://vc/sdk", health_check={"enabled": False}))
    assert written["spec"]["healthCheck"] == {"enabled": False}


def test_a_provider_written_elsewhere_is_held_to_the_same_rules():
    obj = provider_object(image="ghcr.io/projectbeskar/virtrigaud/provider-vsphere:v0.3.11")
    with pytest.raises(SpecError) as caught:
        runtime.deployment(obj, runtime.RuntimeOptions())
    assert caught.value.option == "defaults.network" and "spec.defaults.network" in caught.value.msg
    obj = provider_object(image="ghcr.io/projectbeskar/virtrigaud/provider-vsphere:v0.3.11")
    obj["spec"].update(defaults={}, rateLimit={"qps": 10, "burst": 20})
    with pytest.raises(SpecError) as caught:
        runtime.deployment(obj, runtime.RuntimeOptions())
    assert caught.value.option == "rate_limit"


def secret(uid="s-1", **data):
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {"kind": "Secret", "metadata": {"name": "lab-credentials", "uid": uid}, "data": encoded}


def test_the_credentials_checksum_changes_with_the_data_only_and_hides_it():
    first = runtime.credentials_checksum(secret(username="admin", password="pw1"))
    assert first == runtime.credentials_checksum(secret(password="pw1", username="admin"))
    assert first != runtime.credentials_checksum(secret(username="admin", password="pw2"))
    assert first != runtime.credentials_checksum(secret(uid="s-2", username="admin", password="pw1"))
    assert "pw1" not in first and base64.b64encode(b"pw1").decode() not in first
    deployment = runtime.deployment(provider_object(), runtime.RuntimeOptions(), first)
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {runtime.CHECKSUM_ANNOTATION: first}
    assert "annotations" not in deployment["metadata"]


def test_pull_secrets_of_the_provider_come_first_without_repeats():
    obj = provider_object(imagePullSecrets=[{"name": "mirror"}, {"name": "shared"}])
    pod = runtime.deployment(obj, runtime.RuntimeOptions(image_pull_secrets=("shared", "extra")))["spec"]["template"]
    assert pod["spec"]["imagePullSecrets"] == [{"name": "mirror"}, {"name": "shared"}, {"name": "extra"}]
    assert "imagePullSecrets" not in runtime.deployment(provider_object(), runtime.RuntimeOptions())["spec"][
        "template"]["spec"]


def test_the_tls_gate_refuses_as_upstream_does():
    obj = provider_object(service={"port": 9443})
    with pytest.raises(SpecError) as caught:
        runtime.tls_gate(obj)
    assert "TLSBlockMissing" in caught.value.msg
    obj = provider_object(service={"port": 9443, "tls": {"enabled": True}})
    with pytest.raises(SpecError):
        runtime.tls_gate(obj)


def test_names_over_63_characters_are_refused():
    obj = provider_object()
    obj["metadata"]["name"] = "x" * 50
    with pytest.raises(SpecError):
        runtime.object_name(obj)


def test_runtime_status_keeps_transition_times_of_unchanged_conditions():
    obj = provider_object()
    first = runtime.runtime_status(obj, None, "Enabled", "2026-11-27T10:00:00Z")
    obj["status"] = first
    second = runtime.runtime_status(obj, {"readyReplicas": 0}, "Enabled", "2026-11-27T11:00:00Z")
    assert [c["lastTransitionTime"] for c in second["conditions"]] == ["2026-11-27T10:00:00Z"] * 3
    ready = runtime.runtime_status(obj, {"readyReplicas": 1, "availableReplicas": 1}, "Enabled", "2026-11-27T12:00:00Z")
    assert ready["runtime"]["phase"] == "Running" and ready["healthy"] is True


def vm_spec(**changes):
    base = {"name": "web", "cpu": 2, "memory": "2Gi", "image": "9000",
            "networks": [{"name": "lan", "bridge": "vmbr0"}, {"name": "mgmt"}],
            "cloud_init": {"user_data": "#cloud-config\n", "meta_data": None, "network_config": None}}
    base.update(changes)
    return parse_vm(base, "On")


def test_vm_objects_follow_the_provider_type():
    objects = vm.vm_objects(vm_spec(), "apps", vm.References("pve", "infra", "proxmox"))
    kinds = [obj["kind"] for obj in objects]
    assert kinds == ["VMClass", "VMImage", "VMNetworkAttachment", "Secret", "VirtualMachine"]
    assert objects[0]["spec"]["memory"] == "2048Mi"
    assert objects[1]["spec"]["source"] == {"proxmox": {"templateID": 9000}}
    assert objects[2]["spec"]["network"]["proxmox"] == {"bridge": "vmbr0"}
    machine = objects[-1]["spec"]
    assert machine["providerRef"] == {"name": "pve", "namespace": "infra"}
    assert machine["networks"] == [{"name": "lan", "networkRef": {"name": "web-lan"}}, {"name": "mgmt"}]
    assert machine["powerState"] == "On"


def test_vm_objects_need_a_class():
    with pytest.raises(SpecError) as caught:
        vm.vm_objects(vm_spec(cpu=None), "apps", vm.References("pve", None, "proxmox"))
    assert caught.value.option == "cpu"
    objects = vm.vm_objects(vm_spec(cpu=None), "apps", vm.References("pve", None, "proxmox", class_name="small"))
    assert objects[-1]["spec"]["classRef"] == {"name": "small"}


def test_observed_reads_the_status():
    assert vm.observed({"metadata": {"name": "web"}, "status": {}}) is None
    seen = vm.observed({"metadata": {"name": "web"}, "status": {"id": "101", "powerState": "On", "ips": ["10.0.0.5"]}})
    assert seen["ip_addresses"] == ["10.0.0.5"] and seen["id"] == "101"


def test_a_change_ignores_what_the_server_maintains():
    before = {"kind": "Secret", "metadata": {"name": "a", "resourceVersion": "1", "uid": "x"}, "data": {"k": "dg=="}}
    after = {"kind": "Secret", "metadata": {"name": "a", "resourceVersion": "2", "uid": "x"}, "data": {"k": "dg=="}}
    assert not Change("Secret", "a", None, before, after).changed
    assert Change("Secret", "a", None, None, after).changed
    assert comparable(None) is None


def test_paths_need_no_discovery():
    assert (KINDS["Provider"].path("infra", "lab", "status")
            == "/apis/infra.virtrigaud.io/v1beta1/namespaces/infra/providers/lab/status")
    assert KINDS["Secret"].path("infra") == "/api/v1/namespaces/infra/secrets"
    assert (KINDS["CustomResourceDefinition"].path(None, "x")
            == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x")


def test_the_tls_gate_says_why_it_is_shut():
    with pytest.raises(SpecError) as caught:
        runtime.tls_gate(provider_object(service={"port": 9443}))
    assert caught.value.details["reason"] == "TLSBlockMissing"
    with pytest.raises(SpecError) as caught:
        runtime.tls_gate(provider_object(service={"port": 9443, "tls": {"enabled": True}}))
    assert caught.value.details["reason"] == "SecretRefMissing"


@pytest.mark.parametrize("changes, option", [
    ({"state": "restarted"}, "state"),
    ({"id": "vm-1"}, "id"),
    ({"clone_from": "golden"}, "clone_from"),
    ({"linked_clone": True}, "linked_clone"),
    ({"allow_power_cycling": True}, "allow_power_cycling"),
    ({"delete_disks": False}, "delete_disks"),
    ({"shutdown_timeout": 30}, "shutdown_timeout"),
    ({"shutdown_mode": "graceful_then_hard"}, "shutdown_mode"),
    ({"placement": {"host": "esx-1"}}, "placement.host"),
    ({"placement": {"resource_pool": "gold"}}, "placement.resource_pool"),
    ({"networks": [{"name": "lan", "network": "default", "mac_address": "52:54:00:00:00:01"}]},
     "networks[0].mac_address"),
    ({"cloud_init": {"user_data": "#cloud-config\n", "network_config": "version: 2\n"}}, "cloud_init.network_config"),
])
def test_what_the_manager_cannot_do_is_refused_by_name(changes, option):
    params = dict(LIFECYCLE_DEFAULTS, **changes)
    with pytest.raises(SpecError) as caught:
        vm.check_resource_options(params, vm_spec(**{k: v for k, v in changes.items() if k in SPEC_KEYS}))
    assert caught.value.option == option


def test_defaults_are_accepted_and_a_stop_is_graceful_unless_hard():
    vm.check_resource_options(LIFECYCLE_DEFAULTS, vm_spec())
    vm.check_resource_options(LIFECYCLE_DEFAULTS, None)
    assert vm.resource_power_state("stopped", "graceful") == "OffGraceful"
    assert vm.resource_power_state("stopped", "hard") == "Off"
    assert vm.resource_power_state("started", "graceful") == "On"
    assert vm.resource_power_state("present", "graceful") is None


LIFECYCLE_DEFAULTS = {"state": "present", "id": None, "clone_from": None, "linked_clone": False,
                      "allow_power_cycling": False, "delete_disks": True, "shutdown_timeout": 120,
                      "shutdown_mode": "graceful"}
SPEC_KEYS = ("placement", "networks", "cloud_init")
