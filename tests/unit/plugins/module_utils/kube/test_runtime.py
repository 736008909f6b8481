# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Provider's runtime objects (Deployment, Service, RBAC, status): what is written and what is refused."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import provider, runtime

from .provider_inputs import COLLECTION_IMAGE, params


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


def test_the_tls_gate_says_why_it_is_shut():
    with pytest.raises(SpecError) as caught:
        runtime.tls_gate(provider_object(service={"port": 9443}))
    assert caught.value.details["reason"] == "TLSBlockMissing"
    with pytest.raises(SpecError) as caught:
        runtime.tls_gate(provider_object(service={"port": 9443, "tls": {"enabled": True}}))
    assert caught.value.details["reason"] == "SecretRefMissing"
