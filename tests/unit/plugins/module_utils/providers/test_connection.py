# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend × environment × task options → connection: each backend reads only its own settings."""

from __future__ import annotations

import re

import pytest

from ansible_collections.virtrigaud.core.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.virtrigaud.core.plugins.doc_fragments.kubernetes import ModuleDocFragment as KubeFragment
from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import connection_spec, kube_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers import connection
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import PROVIDER_TYPES

# What an AWX job carrying every credential type at once puts in the environment.
EVERYTHING = {
    "LIBVIRT_DEFAULT_URI": "qemu+tcp://kvm.example/system", "LIBVIRT_USERNAME": "kvm-user",
    "LIBVIRT_PASSWORD": "canary-libvirt", "LIBVIRT_STORAGE_POOL": "kvm-pool",
    "VMWARE_HOST": "vc.example", "VMWARE_PORT": "8443", "VMWARE_USER": "vc-user", "VMWARE_PASSWORD": "canary-vsphere",
    "VMWARE_VALIDATE_CERTS": "false", "VMWARE_DATASTORE": "vc-ds", "VMWARE_DATACENTER": "dc1",
    "PROXMOX_HOST": "pve.example", "PROXMOX_PORT": "8007", "PROXMOX_USER": "root@pam",
    "PROXMOX_PASSWORD": "canary-proxmox", "PROXMOX_TOKEN_ID": "ci", "PROXMOX_TOKEN_SECRET": "canary-pve-token",
    "PROXMOX_VALIDATE_CERTS": "no", "PROXMOX_NODE": "pve1", "PROXMOX_STORAGE": "local-lvm",
    "VIRTRIGAUD_URI": "runtime.example:9443", "VIRTRIGAUD_CA_PATH": "/ca.crt", "VIRTRIGAUD_INSECURE": "true",
    "VIRTRIGAUD_MOCK_URI": "mock://",
    "K8S_AUTH_HOST": "https://kube.example:6443", "K8S_AUTH_API_KEY": "canary-kube-token",
    "K8S_AUTH_SSL_CA_CERT": "/kube-ca.crt", "K8S_AUTH_VERIFY_SSL": "no",
}
NOTHING: dict[str, str] = {}

CASES = [
    # (backend, environment, task options, expected uri, username, password, validate_certs, some options)
    ("libvirt", EVERYTHING, {}, "qemu+tcp://kvm.example/system", "kvm-user", "canary-libvirt", True,
     {"storage_pool": "kvm-pool", "domain_type": "auto"}),
    ("vsphere", EVERYTHING, {}, "vc.example", "vc-user", "canary-vsphere", False,
     {"port": 8443, "storage_pool": "vc-ds", "datacenter": "dc1"}),
    ("proxmox", EVERYTHING, {}, "pve.example", "root@pam", "canary-proxmox", False,
     {"port": 8007, "token_id": "ci", "token_secret": "canary-pve-token", "node": "pve1", "storage_pool": "local-lvm"}),
    ("remote", EVERYTHING, {}, "runtime.example:9443", None, None, True, {"ca_path": "/ca.crt", "insecure": True}),
    ("mock", EVERYTHING, {}, "mock://", None, None, True, {}),
    ("kubevirt", EVERYTHING, {"namespace": "vms"}, "https://kube.example:6443", None, "canary-kube-token", False,
     {"ca_cert": "/kube-ca.crt", "namespace": "vms"}),
    ("kubevirt", EVERYTHING, {"uri": "https://other:6443", "kube_validate_certs": True}, "https://other:6443", None,
     "canary-kube-token", True, {}),
    ("kubevirt", {"VMWARE_HOST": "vc.example", "PROXMOX_PASSWORD": "canary-proxmox"}, {}, None, None, None, True, {}),
    # The task's own options win over its environment; another backend's variable never fills a gap.
    ("vsphere", EVERYTHING, {"hostname": "vc2.example"}, "vc2.example", "vc-user", "canary-vsphere", False, {}),
    ("vsphere", {"LIBVIRT_DEFAULT_URI": "qemu:///system"}, {"hostname": "vc.example"}, "vc.example", None, None,
     True, {}),
    ("vsphere", EVERYTHING, {"uri": "https://vc3.example/sdk", "hostname": "vc2.example"},
     "https://vc3.example/sdk", "vc-user", "canary-vsphere", False, {}),
    ("proxmox", {"VMWARE_HOST": "vc.example", "VMWARE_PASSWORD": "canary-vsphere"}, {}, None, None, None, True, {}),
    ("libvirt", {"VMWARE_PASSWORD": "canary-vsphere", "PROXMOX_PASSWORD": "canary-proxmox"}, {}, None, None, None,
     True, {"domain_type": "auto"}),
    ("libvirt", {"VIRTRIGAUD_USERNAME": "old", "VIRTRIGAUD_PASSWORD": "old-secret"}, {}, None, "old", "old-secret",
     True, {}),
    ("remote", {"LIBVIRT_DEFAULT_URI": "qemu:///system"}, {}, None, None, None, True, {"insecure": False}),
    ("proxmox", NOTHING, {"api_host": "pve", "validate_certs": True}, "pve", None, None, True, {}),
    ("libvirt", EVERYTHING, {"libvirt_domain_type": "qemu"}, "qemu+tcp://kvm.example/system", "kvm-user",
     "canary-libvirt", True, {"domain_type": "qemu"}),
]


@pytest.mark.parametrize("backend, environ, params, uri, username, password, validate_certs, options", CASES)
def test_each_backend_reads_only_its_own_settings(backend, environ, params, uri, username, password, validate_certs,
                                                  options):
    config = connection.resolve(backend, params, environ).config
    assert (config.type, config.uri, config.username, config.password) == (backend, uri, username, password)
    assert config.validate_certs is validate_certs
    assert {key: config.options.get(key) for key in options} == options
    foreign = {v for k, v in EVERYTHING.items() if k not in connection.environment_variables(backend)}
    assert not foreign & ({config.uri, config.username, config.password} | set(map(str, config.options.values())))


def test_options_of_another_backend_are_named_not_read():
    resolved = connection.resolve("vsphere", {"hostname": "vc", "api_password": "pw-canary", "uri": None}, NOTHING)
    assert resolved.foreign == ("api_password",)
    assert resolved.config.password is None
    warning, = resolved.foreign_warnings()
    assert "api_password" in warning and "only proxmox reads it" in warning and "pw-canary" not in warning


def test_kubernetes_options_read_for_a_policy_by_name_are_no_foreign_settings():
    resolved = connection.resolve("proxmox", {"api_host": "pve", "kubeconfig": "/k", "context": "lab"}, NOTHING)
    assert set(resolved.foreign) == {"kubeconfig", "context"}
    assert resolved.foreign_warnings(["kubeconfig", "context"]) == []
    assert resolved.config.options.get("kubeconfig") is None


def test_secrets_from_the_environment_are_collected_for_no_log():
    resolved = connection.resolve("proxmox", {}, EVERYTHING)
    assert set(resolved.secrets) == {"canary-proxmox", "canary-pve-token"}


@pytest.mark.parametrize("variable, value, option", [
    ("VMWARE_PORT", "https", "port"),
    ("VMWARE_VALIDATE_CERTS", "maybe", "validate_certs"),
])
def test_bad_environment_values_name_the_variable_and_option(variable, value, option):
    with pytest.raises(SpecError) as caught:
        connection.resolve("vsphere", {}, {variable: value})
    assert caught.value.option == option and variable in caught.value.msg


def test_a_bad_domain_type_from_the_environment_is_refused():
    with pytest.raises(SpecError) as caught:
        connection.resolve("libvirt", {}, {"VIRTRIGAUD_LIBVIRT_DOMAIN_TYPE": "xen"})
    assert caught.value.option == "libvirt_domain_type" and "auto, kvm, qemu" in caught.value.msg


def test_every_provider_type_has_a_table_and_the_argspec_has_every_option():
    assert set(connection.BACKENDS) == set(PROVIDER_TYPES)
    spec = connection_spec()
    assert set(connection.OPTIONS) | {"provider_type"} == set(spec)
    assert all("fallback" not in spec[option] and "default" not in spec[option] for option in connection.OPTIONS)


def test_the_documentation_names_every_variable_of_each_option():
    text = ModuleDocFragment.DOCUMENTATION + KubeFragment.DOCUMENTATION
    for table in connection.BACKENDS.values():
        for setting in (setting for setting in table if setting.option):
            block = re.search(r"\n  %s:\n(.*?)(?=\n  \w+:\n|\n\w+:)" % setting.option, text, re.S)
            assert block, setting.option
            for variable in setting.env:
                assert "E(%s)" % variable in block.group(1), (setting.option, variable)


def test_kubernetes_settings_reach_kubevirt_only():
    """The K8S_AUTH_* variables are the Kubernetes table's: a libvirt task finds none of them in its options."""
    for backend in ("libvirt", "vsphere", "proxmox", "remote", "mock"):
        resolved = connection.resolve(backend, dict.fromkeys(connection.OPTIONS), EVERYTHING)
        assert resolved.foreign == () and "canary-kube-token" not in resolved.secrets
    resolved = connection.resolve("kubevirt", {"validate_certs": False, "api_password": "x"}, EVERYTHING)
    assert resolved.foreign == ("api_password", "validate_certs")
    assert resolved.secrets == ("canary-kube-token",)


def test_the_kubernetes_table_feeds_the_kubernetes_modules():
    values = connection.read(connection.KUBERNETES, {"context": "lab"}, EVERYTHING)
    assert values == {"context": "lab", "uri": "https://kube.example:6443", "password": "canary-kube-token",
                      "ca_cert": "/kube-ca.crt", "validate_certs": False}
    spec = kube_spec()
    assert all("fallback" not in option and "default" not in option for option in spec.values())
