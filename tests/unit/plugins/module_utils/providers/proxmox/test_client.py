# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Proxmox VE client's pure parts: the endpoint from the connection options, a task's exit status."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    ProviderConfig,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox.client import endpoint, task_failure


def test_task_exit_status():
    assert task_failure({"exitstatus": "OK"}) is None
    assert task_failure({"exitstatus": "WARNINGS: 2"}) is None
    assert task_failure({"exitstatus": "VM 100 already running"}) == "VM 100 already running"


def _config(**kwargs):
    base = {"type": "proxmox", "uri": "pve.example.com", "username": "root@pam", "password": "secret"}
    base.update(kwargs)
    return ProviderConfig(**base)


def test_endpoint_reads_url_token_and_user():
    assert endpoint(_config(uri="https://pve.example.com:9443")).label == "pve.example.com:9443"
    where = endpoint(_config(password=None, options={"token_id": "ops@pve!ci", "token_secret": "s"}))
    assert (where.user, where.token_name, where.port) == ("ops@pve", "ci", 8006)


@pytest.mark.parametrize("kwargs, option", [
    ({"uri": None}, "api_host"),
    ({"username": "root"}, "api_user"),
    ({"password": None}, "api_password"),
    ({"options": {"token_id": "ci"}}, "api_token_secret"),
])
def test_endpoint_errors_name_the_option(kwargs, option):
    with pytest.raises(errors.SpecError) as caught:
        endpoint(_config(**kwargs))
    assert caught.value.option == option


def test_unverified_session_loads_no_ca_bundle():
    requests = pytest.importorskip("requests")
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox import client

    class Api:
        _store = {"session": requests.Session()}

    client._skip_ca_loading(Api())
    context = Api._store["session"].get_adapter("https://pve.example.com:8006/")._context
    assert context.verify_mode == client.ssl.CERT_NONE and not context.check_hostname
    assert context.cert_store_stats()["x509"] == 0


def test_an_api_without_a_session_store_is_left_alone():
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox import client

    client._skip_ca_loading(object())
