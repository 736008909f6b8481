# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Provider manifest's connection, for a VirtualMachine converged directly beside it."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider_connection import connection


class Secrets:
    """The one read the connection makes: a Secret by name."""

    def __init__(self, **data: str) -> None:
        self.data = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}

    def get(self, kind, name, namespace=None):
        assert (kind, name, namespace) == ("Secret", "lab-login", "apps")
        return {"data": self.data}


PROVIDER = {"apiVersion": "infra.virtrigaud.io/v1beta1", "kind": "Provider",
            "metadata": {"name": "lab", "namespace": "apps"},
            "spec": {"type": "vsphere", "endpoint": "https://vc.example.com/sdk", "insecureSkipVerify": True,
                     "credentialSecretRef": {"name": "lab-login"}, "defaults": {"datastore": "ds-1"},
                     "runtime": {"image": "registry.example.com/runtime:1"}}}


def _with(**spec):
    return dict(PROVIDER, spec=dict(PROVIDER["spec"], **spec))


def test_the_provider_names_the_backend_its_endpoint_and_credentials():
    found = connection(Secrets(username="admin", password="s3cret"), PROVIDER, {"uri": None}, {"wait_timeout": 60})
    config = found.config
    assert (config.type, config.uri, config.username, config.password) == (
        "vsphere", "https://vc.example.com/sdk", "admin", "s3cret")
    assert config.validate_certs is False and config.options == {"storage_pool": "ds-1", "wait_timeout": 60}
    assert found.secrets == ("s3cret",)


@pytest.mark.parametrize("document, params, named", [
    (PROVIDER, {"hostname": "other.example.com"}, "leave out hostname"),
    (_with(defaults={"network": "x", "storagePod": "p", "region": "r"}), {}, "spec.defaults"),
    (_with(rateLimit={"qps": 50}), {}, "field spec.rateLimit.qps"),
    (_with(type="firecracker"), {}, "field spec.type"),
])
def test_what_a_direct_run_cannot_honour_is_refused_by_name(document, params, named):
    with pytest.raises(SpecError) as refused:
        connection(Secrets(username="admin", password="s3cret"), document, params, {})
    assert named in refused.value.message


def test_a_credential_only_the_runtime_reads_is_refused():
    libvirt = _with(type="libvirt", endpoint="qemu+ssh://root@kvm-1/system", insecureSkipVerify=False, defaults={})
    assert connection(Secrets(username="u", password="p"), libvirt, {}, {}).config.username == "u"
    with pytest.raises(SpecError) as refused:
        connection(Secrets(**{"ssh-privatekey": "KEY"}), libvirt, {}, {})
    assert "holds ssh-privatekey, which only the runtime reads" in refused.value.message
