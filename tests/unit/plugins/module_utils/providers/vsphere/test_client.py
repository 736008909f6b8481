# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vSphere session: endpoints and fault mapping."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import client as session
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import translate as vs

vim = pytest.importorskip("pyVmomi").vim


@pytest.mark.parametrize("uri, port, expected", [
    ("vc.example.com", None, ("vc.example.com", 443)),
    ("vc.example.com", 8443, ("vc.example.com", 8443)),
    ("https://vc.example.com/sdk", None, ("vc.example.com", 443)),
    ("https://vc.example.com:9443/sdk", 8443, ("vc.example.com", 9443)),
])
def test_endpoints(uri, port, expected):
    options = {"port": port} if port else {}
    assert session.endpoint(ProviderConfig(type="vsphere", uri=uri, options=options)) == expected


def test_a_host_is_required():
    with pytest.raises(errors.SpecError) as caught:
        session.endpoint(ProviderConfig(type="vsphere"))
    assert caught.value.option == "hostname"


@pytest.mark.parametrize("fault, cls", [
    (vim.fault.InvalidPowerState(msg="off"), errors.PreconditionError),
    (vim.fault.ToolsUnavailable(msg="no tools"), errors.PreconditionError),
    (vim.fault.DuplicateName(msg="taken"), errors.AlreadyExistsError),
    (vim.fault.NoPermission(msg="denied"), errors.PermissionDeniedError),
    (vim.fault.FileNotFound(msg="gone"), errors.NotFoundError),
    (vim.fault.InvalidDeviceOperation(msg="no"), errors.ProviderError),
])
def test_faults_map_to_the_taxonomy(fault, cls):
    err = vs.translate(fault, "reconfigure")
    assert err.error_code == cls.error_code
    assert err.operation == "reconfigure"
    assert err.details["vsphere_fault"]
