# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_crds's logic on an in-memory API: ``objects``, the deprecated ``crds`` alias, and the diff."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_crds as module
from ansible_collections.virtrigaud.core.tests.unit.plugins.module_utils.kube.fake_kube import FakeKube, run_module

NAME = "things.example.com"
DEFINITION = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
              "metadata": {"name": NAME}, "spec": {"versions": [{"name": "v1"}]}}


def established(obj):
    return dict(obj, status={"conditions": [{"type": "Established", "status": "True"},
                                            {"type": "NamesAccepted", "status": "True"}]})


def test_install_reports_objects_and_the_deprecated_alias_alike():
    kube = FakeKube(on_wait=established)
    result = run_module(module, kube, {"definitions": [DEFINITION]}, diff_mode=True)
    assert result["objects"] == [{"kind": "CustomResourceDefinition", "name": NAME, "namespace": None,
                                  "changed": True, "versions": ["v1"], "established": True}]
    assert result["crds"] == [{"name": NAME, "versions": ["v1"], "changed": True, "established": True}]
    assert result["diff"] == {"before": {NAME: None, "CustomResourceDefinition/" + NAME: None},
                              "after": {NAME: ["v1"], "CustomResourceDefinition/" + NAME: ["v1"]}}
    assert [call[-1] for call in kube.calls if call[0] == "wait_for"] == [
        "CustomResourceDefinition %s to be established" % NAME]


def test_check_mode_waits_for_nothing_and_a_second_run_changes_nothing():
    kube = FakeKube(on_wait=established)
    predicted = run_module(module, kube, {"definitions": [DEFINITION]}, check_mode=True)
    assert predicted["changed"] and predicted["objects"][0]["established"] is False
    assert not [call for call in kube.calls if call[0] == "wait_for"]
    run_module(module, kube, {"definitions": [DEFINITION]})
    again = run_module(module, kube, {"definitions": [DEFINITION]}, diff_mode=True)
    assert not again["changed"] and again["diff"] == {"before": {}, "after": {}}


def test_removal_reports_absent_definitions_as_unchanged():
    kube = FakeKube(DEFINITION)
    result = run_module(module, kube, {"definitions": [DEFINITION], "state": "absent"})
    assert result["crds"] == [{"name": NAME, "versions": [], "changed": True, "established": False}]
    again = run_module(module, kube, {"definitions": [DEFINITION], "state": "absent"})
    assert again["objects"][0]["changed"] is False
    # Only the definition that existed is waited for.
    assert [call[-1] for call in kube.calls if call[0] == "wait_for"] == [
        "CustomResourceDefinition %s to be deleted" % NAME]
