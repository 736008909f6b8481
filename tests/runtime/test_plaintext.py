# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remote provider with ``insecure=true`` against a runtime that serves plaintext, and not otherwise."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.connection import resolve
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider

from test_runtime import Runtime  # pylint: disable=import-error


def test_insecure_option_talks_plaintext_to_an_insecure_runtime(tmp_path):
    plain = Runtime(tmp_path, tls=False, extra_env={"VIRTRIGAUD_PROVIDER_INSECURE": "true"}).start()
    try:
        endpoint = "127.0.0.1:%d" % plain.port
        with open_provider(resolve("remote", {"uri": endpoint, "insecure": True}, {}).config) as provider:
            provider.validate()
        with open_provider(resolve("remote", {"uri": endpoint}, {"VIRTRIGAUD_INSECURE": "true"}).config) as provider:
            provider.validate()
        with pytest.raises(errors.VirtrigaudError):
            with open_provider(resolve("remote", {"uri": endpoint, "rpc_timeouts": {"Validate": 2}}, {}).config) as tls:
                tls.validate()
    finally:
        plain.kill()
