# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start-up settings and the task table of the provider runtime (no server started)."""

from __future__ import annotations

import threading
import time

import pytest

from virtrigaud_runtime.config import SettingsError, provider_config, settings
from virtrigaud_runtime.tasks import TaskTable

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox.client import (
    endpoint as proxmox_endpoint,
)


def tls_dir(tmp_path, names=("tls.crt", "tls.key", "ca.crt")):
    for name in names:
        (tmp_path / name).write_text("pem")
    return str(tmp_path)


def test_seed_001_flags(tmp_path):
    found = settings(["--grpc-addr=:9090", "--metrics-addr=:8080", "--provider-type", "libvirt",
                      "--provider-endpoint", "qemu:///system", "--tls-enabled", "true", "--tls-dir", tls_dir(tmp_path)],
                     {})
    assert (found.grpc_address, found.http_address, found.provider_type, found.endpoint) == (
        "[::]:9090", "[::]:8080", "libvirt", "qemu:///system")
    assert sorted(found.tls) == ["ca.crt", "tls.crt", "tls.key"]


def test_upstream_flags_and_environment(tmp_path):
    env = {"PROVIDER_TYPE": "vsphere", "PROVIDER_ENDPOINT": "https://vc/sdk", "PROVIDER_NAMESPACE": "ns",
           "PROVIDER_NAME": "vc", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text", "TLS_ENABLED": "false",
           "VIRTRIGAUD_PROVIDER_INSECURE": "True", "PROVIDER_DEFAULT_DATASTORE": "ds1",
           "PROVIDER_DEFAULT_CLUSTER": "c1", "PROVIDER_DEFAULT_FOLDER": ""}
    found = settings(["--port=9443", "--health-port=8080", "--tls-dir", str(tmp_path)], env)
    assert (found.grpc_address, found.http_address, found.tls) == ("[::]:9443", "[::]:8080", None)
    assert found.label == "ns/vc"
    assert (found.log_level, found.log_format) == ("debug", "text")
    env.update({"PROVIDER_DEFAULT_STORAGE_POD": "pod1", "PROVIDER_DEFAULT_RESOURCE_POOL": "rp1",
                "PROVIDER_DEFAULT_NETWORK": "lan", "VMWARE_DATASTORE": "not-read-by-the-runtime"})
    (tmp_path / "username").write_text("admin")
    (tmp_path / "password").write_text("pw")
    config = provider_config(settings(["--credentials-dir", str(tmp_path), "--tls-dir", str(tmp_path)], env), env)
    assert {key: config.options.get(key) for key in ("storage_pool", "storage_pod", "cluster", "folder",
                                                     "resource_pool", "network")} == {
        "storage_pool": "ds1", "storage_pod": "pod1", "cluster": "c1", "folder": None, "resource_pool": "rp1",
        "network": "lan"}


@pytest.mark.parametrize("provider_type, variable, value, key", [
    ("libvirt", "PROVIDER_DEFAULT_NETWORK", "lab-net", "network"),
    ("libvirt", "PROVIDER_DEFAULT_DATASTORE", "fast", "storage_pool"),
    ("proxmox", "PROVIDER_DEFAULT_NETWORK", "vmbr1", "bridge"),
    ("proxmox", "PROVIDER_DEFAULT_DATASTORE", "local-lvm", "storage_pool"),
    ("proxmox", "PVE_DEFAULT_STORAGE", "ceph", "storage_pool"),
])
def test_each_backend_reads_its_provider_defaults(tmp_path, provider_type, variable, value, key):
    env = {"PROVIDER_TYPE": provider_type, "VIRTRIGAUD_PROVIDER_INSECURE": "true", variable: value,
           "PROVIDER_USERNAME": "root@pam", "PROVIDER_PASSWORD": "pw"}
    config = provider_config(settings(["--tls-dir", str(tmp_path)], env), env)
    assert config.options[key] == value


@pytest.mark.parametrize("provider_type, variable", [
    ("libvirt", "PROVIDER_DEFAULT_CLUSTER"),
    ("libvirt", "PROVIDER_DEFAULT_STORAGE_POD"),
    ("proxmox", "PROVIDER_DEFAULT_RESOURCE_POOL"),
    ("mock", "PROVIDER_DEFAULT_DATASTORE"),
])
def test_a_provider_default_the_backend_has_no_use_for_stops_the_start(tmp_path, provider_type, variable):
    env = {"PROVIDER_TYPE": provider_type, "VIRTRIGAUD_PROVIDER_INSECURE": "true", variable: "x",
           "PROVIDER_USERNAME": "root@pam", "PROVIDER_PASSWORD": "pw"}
    with pytest.raises(SettingsError) as refused:
        provider_config(settings(["--tls-dir", str(tmp_path)], env), env)
    assert variable in str(refused.value) and "spec.defaults." in str(refused.value)


@pytest.mark.parametrize("names, env", [
    ((), {}),
    (("tls.crt",), {}),
    (("tls.crt", "tls.key"), {"TLS_ENABLED": "true"}),
])
def test_tls_fails_closed(tmp_path, names, env):
    with pytest.raises(SettingsError) as refused:
        settings(["--provider-type", "mock", "--tls-dir", tls_dir(tmp_path, names)], env)
    assert "VIRTRIGAUD_PROVIDER_INSECURE" in str(refused.value)


def test_unknown_provider_type():
    with pytest.raises(SettingsError):
        settings(["--provider-type", "hyperv"], {})


def test_credentials_from_files(tmp_path):
    (tmp_path / "token_id").write_text("ops@pve!ci\n")
    (tmp_path / "token_secret").write_text("s3cret\n")
    found = settings(["--provider-type", "proxmox", "--provider-endpoint", "pve", "--insecure",
                      "--credentials-dir", str(tmp_path), "--tls-dir", str(tmp_path / "none")], {})
    config = provider_config(found, {})
    assert (proxmox_endpoint(config).user, proxmox_endpoint(config).token_name) == ("ops@pve", "ci")
    assert (config.options["token_id"], config.options["token_secret"]) == ("ops@pve!ci", "s3cret")
    vsphere = settings(["--provider-type", "vsphere", "--insecure", "--credentials-dir", str(tmp_path / "none"),
                        "--tls-dir", str(tmp_path / "none")], {})
    with pytest.raises(SettingsError):
        provider_config(vsphere, {})


def test_task_table_answers_fast_work_at_once_and_slow_work_as_a_task():
    table = TaskTable(workers=2, window=0.05)
    assert table.run(lambda: None) == ""

    def refuse() -> None:
        raise errors.SpecError("bad", option="x")

    with pytest.raises(errors.SpecError):
        table.run(refuse)
    gate = threading.Event()
    task_id = table.run(gate.wait)
    assert task_id and table.status(task_id) == (False, "")
    gate.set()
    time.sleep(0.1)
    assert table.status(task_id) == (True, "")
    assert table.status("task-unknown") is None


def test_task_table_is_bounded():
    table = TaskTable(workers=4, window=0.0, limit=3)
    ids = [table.run(lambda: time.sleep(0.01)) for dummy in range(6)]
    time.sleep(0.2)
    table.run(lambda: time.sleep(0.01))
    assert len(table) <= 3
    assert table.status(ids[0]) is None


@pytest.mark.parametrize("provider_type, read", [
    ("libvirt", {"username": "kvm-user", "password": "kvm-secret", "domain_type": "qemu"}),
    ("proxmox", {"username": "root@pam", "password": "pve-secret", "token_secret": "pve-token",
                 "uri": "https://pve:8006"}),
])
def test_each_runtime_reads_only_its_own_type_variables(tmp_path, provider_type, read):
    environ = {"LIBVIRT_USERNAME": "kvm-user", "LIBVIRT_PASSWORD": "kvm-secret", "LIBVIRT_DOMAIN_TYPE": "qemu",
               "PVE_USERNAME": "root@pam", "PVE_PASSWORD": "pve-secret", "PVE_TOKEN_SECRET": "pve-token",
               "PVE_ENDPOINT": "https://pve:8006", "PVE_INSECURE_SKIP_VERIFY": "true"}
    found = settings(["--provider-type", provider_type, "--insecure", "--credentials-dir", str(tmp_path),
                      "--tls-dir", str(tmp_path / "none")], environ)
    config = provider_config(found, environ)
    values = {"uri": config.uri, "username": config.username, "password": config.password, **config.options}
    assert {key: values.get(key) for key in read} == read
    others = {value for value in environ.values() if value not in read.values()} - {"true"}
    assert not others & {config.uri, config.username, config.password, *map(str, config.options.values())}
    assert config.validate_certs is (provider_type != "proxmox")


def test_a_kubevirt_runtime_uses_its_pods_service_account_in_its_namespace(tmp_path):
    environ = {"PROVIDER_TYPE": "kubevirt", "PROVIDER_ENDPOINT": "https://kubernetes.default.svc",
               "PROVIDER_NAMESPACE": "vms", "K8S_AUTH_API_KEY": "not-for-the-runtime", "LIBVIRT_PASSWORD": "kvm"}
    found = settings(["--insecure", "--credentials-dir", str(tmp_path), "--tls-dir", str(tmp_path / "none")],
                     environ)
    config = provider_config(found, environ)
    assert (found.provider_type, config.uri, config.password) == ("kubevirt", None, None)
    assert config.options["namespace"] == "vms" and "kubeconfig" not in config.options
    moved = provider_config(found, dict(environ, KUBEVIRT_NAMESPACE="lab"))
    assert moved.options["namespace"] == "lab"


def test_a_mock_runtime_reads_its_endpoint_from_the_environment(tmp_path):
    environ = {"PROVIDER_ENDPOINT": "mock://%s/state.json" % tmp_path}
    found = settings(["--provider-type", "mock", "--insecure", "--tls-dir", str(tmp_path / "none")], environ)
    assert provider_config(found, environ).uri == "mock://%s/state.json" % tmp_path
