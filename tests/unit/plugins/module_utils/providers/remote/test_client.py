# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remote backend's client: the endpoint it dials."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    ProviderConfig,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.client import target


@pytest.mark.parametrize("uri, option", [(None, "endpoint"), ("runtime.example.com", "endpoint")])
def test_endpoint_needs_host_and_port(uri, option):
    with pytest.raises(errors.SpecError) as caught:
        target(ProviderConfig(type="remote", uri=uri))
    assert caught.value.option == option
    assert target(ProviderConfig(type="remote", uri="dns:///rt.example.com:9443")) == "rt.example.com:9443"
