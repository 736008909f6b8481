# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import pathlib
from typing import Any

import pytest
import yaml

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider as mp
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.vitistack_schema import SPEC_SCHEMA

ROOT = pathlib.Path(__file__).resolve().parents[5]
BASE: dict[str, Any] = {"name": "kv", "provider_type": "kubevirt", "display_name": "KubeVirt", "region": "oslo",
                        "authentication": {"type": "credentials", "credentials": {"kubeconfig": "k"},
                                           "credentials_ref": {"secret_name": None, "namespace": None}}}


def test_the_generated_schema_is_the_vendored_crds() -> None:
    crd = yaml.safe_load((ROOT / "roles/crds/files/vitistack/vitistack.io_machineproviders.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(SPEC_SCHEMA["properties"]) == set(spec["properties"])
    assert "instanceTypes" not in SPEC_SCHEMA["properties"]["capabilities"]["properties"]


def test_options_become_the_crds_shape_with_a_labelled_secret() -> None:
    wanted = mp.wanted(dict(BASE, compute={"max_cpus": 4, "max_memory_gb": 8}, labels={"a": "b"}))
    spec = wanted.machine_provider["spec"]
    assert spec["compute"] == {"maxCPUs": 4, "maxMemoryGB": 8}
    assert spec["authentication"]["credentialsRef"] == {"secretName": "kv-credentials", "namespace": "default"}
    assert wanted.machine_provider["metadata"] == {"name": "kv", "labels": {"a": "b"}}
    assert wanted.secret is not None
    assert wanted.secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "virtrigaud.core",
                                                   mp.OWNER_LABEL: "kv"}
    assert base64.b64decode(wanted.secret["data"]["kubeconfig"]) == b"k"


@pytest.mark.parametrize("change, option", [
    ({"provider_type": None}, "provider_type"),
    ({"region": ""}, "region"),
    ({"capabilities": {"instance_types": []}}, "capabilities.instance_types"),
    ({"compute": {"max_cpus": 0}}, "compute.max_cpus"),
    ({"endpoint": {"timeout_seconds": 301}}, "endpoint.timeout_seconds"),
    ({"authentication": {"type": "apikey"}}, "authentication.type"),
    ({"authentication": {"type": "credentials", "credentials": {"k": ["x"]}}}, "authentication.credentials"),
    ({"definition": {"spec": {}}}, "definition"),
])
def test_options_refused_by_name(change: dict[str, Any], option: str) -> None:
    with pytest.raises(SpecError) as caught:
        mp.wanted(dict(BASE, **change))
    assert caught.value.option == option


OLDER = {"spec": {"type": "kubevirt", "region": "r", "availabilityZones": ["z"], "networkConfig": {"defaultVPC": "v"},
                  "storageConfig": {"defaultType": "ssd"}, "computeConfig": {"maxCPUs": 2},
                  "authentication": {"type": "token"}, "config": {"n": 1}}}


def test_the_older_shape_is_translated_with_one_warning_per_renamed_field() -> None:
    spec, warnings = mp.spec_from_definition("old", OLDER)
    assert spec == {"providerType": "kubevirt", "region": "r", "zones": ["z"], "network": {"defaultVPC": "v"},
                    "storage": {"defaultType": "ssd"}, "compute": {"maxCPUs": 2}, "displayName": "old",
                    "authentication": {"type": "token"}, "config": {"n": "1"}}
    assert len([warning for warning in warnings if "older vitistack documentation's name" in warning]) == 5


@pytest.mark.parametrize("spec, option", [
    ({"type": "kubevirt", "region": "r", "authentication": {"type": "oauth2"}}, "definition.spec.authentication.type"),
    ({"type": "kubevirt", "providerType": "kubevirt"}, "definition.spec.type"),
    ({"type": "kubevirt", "computeConfig": {"cpus": 2}}, "definition.spec.computeConfig.cpus"),
    ({"providerType": "kubevirt", "region": "r", "authentication": {"type": "token"}}, "definition.spec.displayName"),
])
def test_definitions_refused_by_name(spec: dict[str, Any], option: str) -> None:
    with pytest.raises(SpecError) as caught:
        mp.spec_from_definition("old", {"spec": spec})
    assert caught.value.option == option
