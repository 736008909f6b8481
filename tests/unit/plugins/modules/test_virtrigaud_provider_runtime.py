# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_provider_runtime's logic on an in-memory API: the objects it reports, and the Provider status it
writes (one patch, through the status subresource)."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.module_utils.kube import provider as objects
from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_provider_runtime as module
from ansible_collections.virtrigaud.core.tests.unit.plugins.module_utils.kube.fake_kube import FakeKube, run_module

PROVIDER_PARAMS = {"name": "lab", "namespace": "infra", "type": "libvirt", "uri": "qemu:///system",
                   "credentials": {"username": "root", "password": "s3cret"}, "credentials_secret": None,
                   "validate_certs": True, "insecure_skip_verify": None, "defaults": None, "rate_limit": None,
                   "health_check": None, "labels": None, "annotations": None,
                   "runtime": {"image": None, "replicas": 1, "service_port": 9443, "env": None,
                               "tls": {"enabled": False}}}
ARGS = {"name": "lab", "namespace": "infra", "wait": False}


def cluster():
    return FakeKube(objects.provider_resource(PROVIDER_PARAMS), objects.credentials_secret(PROVIDER_PARAMS))


def status_writes(kube):
    return [call for call in kube.writes() if call[0] == "apply" and call[4] == "status"]


def test_present_reports_each_object_and_writes_the_status_once():
    kube = cluster()
    result = run_module(module, kube, ARGS, diff_mode=True)
    assert result["changed"]
    assert [entry["kind"] for entry in result["objects"]] == ["ServiceAccount", "Role", "RoleBinding", "Service",
                                                              "Deployment"]
    assert all(entry["namespace"] == "infra" and entry["changed"] for entry in result["objects"])
    assert set(result["diff"]["after"]) == {"%s/%s" % (entry["kind"], entry["name"]) for entry in result["objects"]}
    assert len(status_writes(kube)) == 1
    assert result["status"]["runtime"]["phase"] == "Pending"


def test_check_mode_then_real_then_unchanged():
    kube = cluster()
    predicted = run_module(module, kube, ARGS, check_mode=True)
    assert predicted["changed"] and not [call for call in kube.writes() if not call[3]]
    done = run_module(module, kube, ARGS)
    assert [entry["kind"] for entry in predicted["objects"]] == [entry["kind"] for entry in done["objects"]]
    again = run_module(module, kube, ARGS)
    assert not again["changed"]
    assert not any(entry["changed"] for entry in again["objects"])


def test_dropping_an_optional_object_removes_it_and_reports_only_that():
    kube = cluster()
    run_module(module, kube, dict(ARGS, network_policy=True))
    result = run_module(module, kube, ARGS)
    assert [(entry["kind"], entry["changed"]) for entry in result["objects"] if entry["changed"]] == [
        ("NetworkPolicy", True)]


def test_absent_removes_every_object_and_marks_the_provider_stopping():
    kube = cluster()
    run_module(module, kube, ARGS)
    result = run_module(module, kube, dict(ARGS, state="absent"))
    assert result["changed"] and result["deployment"] is None
    assert [entry["kind"] for entry in result["objects"]] == ["Deployment", "Service", "ServiceAccount", "Role",
                                                              "RoleBinding", "NetworkPolicy", "PodDisruptionBudget"]
    status = kube.get("Provider", "lab", "infra")["status"]
    assert status["runtime"]["phase"] == "Stopping"
    again = run_module(module, kube, dict(ARGS, state="absent"))
    assert not again["changed"]


def test_a_refused_tls_setting_is_recorded_in_the_status_and_fails():
    params = dict(PROVIDER_PARAMS, runtime=dict(PROVIDER_PARAMS["runtime"], tls={"enabled": True}))
    provider = objects.provider_resource(params)
    del provider["spec"]["runtime"]["service"]["tls"]
    kube = FakeKube(provider, objects.credentials_secret(params))
    result = run_module(module, kube, ARGS)
    assert result["failed"]
    assert [call[:2] for call in kube.writes()] == [("apply", "Provider")]
    conditions = kube.get("Provider", "lab", "infra")["status"]["conditions"]
    assert [entry["type"] for entry in conditions] == ["TLSConfigured", "ProviderRuntimeReady"]


def test_a_missing_provider_is_predicted_in_check_mode_and_refused_for_real():
    predicted = run_module(module, FakeKube(), ARGS, check_mode=True)
    assert predicted["changed"] and predicted["objects"] == [] and predicted["warnings"]
    assert run_module(module, FakeKube(), ARGS)["error_code"]
