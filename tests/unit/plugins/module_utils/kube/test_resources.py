# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kinds the collection manages: their paths need no discovery."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.resources import KINDS


def test_paths_need_no_discovery():
    assert (KINDS["Provider"].path("infra", "lab", "status")
            == "/apis/infra.virtrigaud.io/v1beta1/namespaces/infra/providers/lab/status")
    assert KINDS["Secret"].path("infra") == "/api/v1/namespaces/infra/secrets"
    assert (KINDS["CustomResourceDefinition"].path(None, "x")
            == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x")
