# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Provider of type kubevirt, which upstream's CRD enum lacks: how it is carried, and its runtime's RBAC."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.module_utils.kube import provider, resources, runtime
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt.client import (
    CLUSTER_ROLE_RULES,
    ROLE_RULES,
)


def kubevirt_params(**changes):
    base = {"name": "kv", "namespace": "vms", "type": "kubevirt", "uri": "https://kubernetes.default.svc",
            "credentials": {}, "credentials_secret": None, "validate_certs": True, "insecure_skip_verify": None,
            "defaults": None, "rate_limit": None, "health_check": None, "labels": None,
            "annotations": {"team": "a"},
            "runtime": {"image": None, "replicas": 1, "service_port": 9443, "tls": {"enabled": False},
                        "env": [{"name": "PROVIDER_TYPE", "value": "qemu"}, {"name": "LOG_COLOR", "value": "no"}]}}
    base.update(changes)
    return base


def test_kubevirt_travels_as_an_enum_type_with_its_real_type_beside_it():
    written = provider.provider_resource(kubevirt_params())
    assert written["spec"]["type"] == "libvirt" and written["spec"]["type"] in provider.UPSTREAM_TYPES
    assert written["metadata"]["annotations"] == {"team": "a", provider.TYPE_ANNOTATION: "kubevirt"}
    assert written["spec"]["runtime"]["env"][-1] == {"name": "PROVIDER_TYPE", "value": "kubevirt"}
    assert [e["name"] for e in written["spec"]["runtime"]["env"]].count("PROVIDER_TYPE") == 1
    assert resources.provider_type_of(written) == "kubevirt"
    assert provider.credentials_secret(kubevirt_params())["data"] == {}
    assert resources.provider_type_of(provider.provider_resource(
        kubevirt_params(type="libvirt", uri="qemu:///system", runtime={"tls": {"enabled": False}}))) == "libvirt"


def test_the_runtime_of_a_kubevirt_provider_may_manage_vms_as_its_service_account():
    obj = provider.provider_resource(kubevirt_params())
    options = runtime.RuntimeOptions()
    deployment = runtime.deployment(obj, options)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--provider-type=kubevirt" in container["args"] or not any("--provider-type" in a for a in container["args"])
    assert {"name": "PROVIDER_TYPE", "value": "kubevirt"} in container["env"]
    assert pod["automountServiceAccountToken"] is True
    assert "libvirt-ssh-key" not in [v["name"] for v in pod["volumes"]]
    account, role, dummy, cluster_role, cluster_binding = runtime.service_account_objects(obj, options)
    assert account["automountServiceAccountToken"] is True
    assert all(rule in role["rules"] for rule in ROLE_RULES)
    assert cluster_role["rules"] == CLUSTER_ROLE_RULES
    assert cluster_binding["roleRef"]["name"] == cluster_role["metadata"]["name"] == account["metadata"]["name"]
    assert cluster_binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                            "namespace": obj["metadata"]["namespace"]}]
    assert deployment["metadata"]["labels"]["virtrigaud.io/provider-type"] == "kubevirt"


def test_a_kubevirt_runtimes_cluster_rbac_is_labelled_not_owned():
    obj = provider.provider_resource(kubevirt_params())
    obj["metadata"]["uid"] = "u-1"
    objects = runtime.service_account_objects(obj, runtime.RuntimeOptions())
    cluster = [o for o in objects if o["kind"] in runtime.CLUSTER_KINDS]
    assert len(cluster) == 2
    for item in cluster:
        assert "namespace" not in item["metadata"] and "ownerReferences" not in item["metadata"]
        assert item["metadata"]["labels"][runtime.NAMESPACE_LABEL] == obj["metadata"]["namespace"]
    assert all("ownerReferences" in o["metadata"] for o in objects if o not in cluster)
    assert set(runtime.CLUSTER_KINDS) <= set(runtime.removable_kinds("kubevirt"))
    assert set(runtime.CLUSTER_KINDS) <= set(runtime.removable_kinds(None))  # the Provider is gone: look
    assert not set(runtime.CLUSTER_KINDS) & set(runtime.removable_kinds("libvirt"))


def test_other_runtimes_get_no_cluster_rbac():
    obj = provider.provider_resource(kubevirt_params(type="libvirt", uri="qemu:///system",
                                                     runtime={"tls": {"enabled": False}}))
    kinds = [o["kind"] for o in runtime.service_account_objects(obj, runtime.RuntimeOptions())]
    assert kinds == ["ServiceAccount", "Role", "RoleBinding"]


def test_the_default_namespace_is_the_kubeconfig_contexts(tmp_path, monkeypatch):
    from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Kube, KubeConfig

    path = tmp_path / "config"
    path.write_text("""
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts:
  - {name: one, context: {cluster: c, user: u, namespace: vms}}
  - {name: two, context: {cluster: c, user: u}}
current-context: one
""")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert Kube(KubeConfig(kubeconfig=str(path))).default_namespace == "vms"
    assert Kube(KubeConfig(kubeconfig=str(path), context="two")).default_namespace == "default"
    assert Kube(KubeConfig(host="https://127.0.0.1:1", api_key="t")).default_namespace == "default"


def test_a_providers_own_variables_replace_the_runtimes_not_repeat_them():
    obj = provider.provider_resource(kubevirt_params())
    env = runtime.container_env(obj, tls_enabled=False)
    names = [item["name"] for item in env]
    assert len(names) == len(set(names))
    assert env[-1] == {"name": "PROVIDER_TYPE", "value": "kubevirt"}
