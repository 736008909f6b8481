# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider objects: what is written, what is refused, and how it says so."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import provider, runtime
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox.client import (
    endpoint as proxmox_endpoint,
)

from .provider_inputs import COLLECTION_IMAGE, params


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


def test_upstreams_image_takes_only_the_health_checks_switch():
    written = provider.provider_resource(params(type="vsphere", uri="https://vc/sdk", health_check={"enabled": False}))
    assert written["spec"]["healthCheck"] == {"enabled": False}
