# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mock provider's connection options, with a secret canary as the password."""

from __future__ import annotations

import pytest

from .utils import CANARY


@pytest.fixture
def connection(tmp_path):
    return {"provider_type": "mock", "uri": "mock://%s" % (tmp_path / "state.json"), "password": CANARY}
