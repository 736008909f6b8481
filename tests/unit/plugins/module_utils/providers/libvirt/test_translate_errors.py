# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt backend's error map: libvirt's codes to the taxonomy, messages without secrets."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt import translate as failures


def test_libvirt_messages_are_scrubbed():
    text = "cannot connect to qemu+tcp://bob:hunter2@10.0.0.1/system (password hunter2)"
    assert failures.scrub(text, ["hunter2"]) == "cannot connect to qemu+tcp://10.0.0.1/system (password ********)"


class FakeLibvirt:
    VIR_ERR_NO_DOMAIN = 42
    VIR_ERR_OPERATION_INVALID = 55
    VIR_ERR_AUTH_FAILED = 45
    VIR_ERR_SYSTEM_ERROR = 38
    VIR_ERR_XML_ERROR = 27


class FakeError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.text = code, message

    def get_error_code(self):
        return self.code

    def get_error_message(self):
        return self.text


@pytest.mark.parametrize("code, message, cls", [
    (42, "Domain not found", errors.NotFoundError),
    (55, "domain is already running", errors.PreconditionError),
    (45, "authentication failed", errors.AuthenticationError),
    (38, "Failed to connect socket", errors.UnavailableError),
    (38, "cannot read file", errors.ProviderError),
    (27, "XML error", errors.ProviderError),
])
def test_libvirt_codes_map_to_the_taxonomy(code, message, cls):
    err = failures.translate(FakeLibvirt, FakeError(code, message), (), operation="power_on")
    assert err.error_code == cls.error_code
    assert err.details["libvirt_error_code"] == code
    assert err.operation == "power_on"
