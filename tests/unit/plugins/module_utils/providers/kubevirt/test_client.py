# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KubeVirt connection's RBAC rules are the guide's, which the test bed binds to the leg's user."""

from __future__ import annotations

import pathlib

import yaml

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt import client

GUIDE = pathlib.Path(__file__).resolve().parents[6] / "docs" / "guides" / "kubevirt-rbac.yml"


def test_the_guide_grants_exactly_what_the_backend_needs():
    role, cluster_role = yaml.safe_load(GUIDE.read_text())["items"]
    assert role["rules"] == client.ROLE_RULES
    assert cluster_role["rules"] == client.CLUSTER_ROLE_RULES
    assert not any("virtualmachines/status" in rule["resources"] for rule in role["rules"] + cluster_role["rules"])
