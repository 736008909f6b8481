# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_provider's logic on an in-memory API: ``objects``, the deprecated ``secrets`` alias, and a diff
that names a Secret's keys, never its values."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_provider as module
from ansible_collections.virtrigaud.core.tests.unit.plugins.module_utils.kube.fake_kube import FakeKube, run_module

ARGS = {"name": "lab", "namespace": "infra", "type": "libvirt", "uri": "qemu:///system",
        "credentials": {"username": "root", "password": "s3cret-one"}, "runtime": {"tls": {"enabled": False}}}


def test_present_reports_the_secret_then_the_provider():
    kube = FakeKube()
    result = run_module(module, kube, ARGS, diff_mode=True)
    assert result["objects"] == [
        {"kind": "Secret", "name": "lab-credentials", "namespace": "infra", "changed": True},
        {"kind": "Provider", "name": "lab", "namespace": "infra", "changed": True},
    ]
    assert result["secrets"] == [{"name": "lab-credentials", "changed": True}]
    assert result["provider"]["spec"]["type"] == "libvirt"
    diff = result["diff"]
    assert diff["after"]["secrets"] == {"lab-credentials": {"password": "changed", "username": "changed"}}
    assert diff["after"]["Secret/lab-credentials"] == diff["after"]["secrets"]["lab-credentials"]
    assert diff["before"]["provider"] is None and diff["after"]["provider"] == diff["after"]["Provider/lab"]
    assert "s3cret-one" not in repr(result)
    # The Provider is checked by a dry run before its Secret is written.
    assert kube.writes()[0] == ("apply", "Provider", "lab", True, "")


def test_a_changed_password_changes_only_the_secret():
    kube = FakeKube()
    run_module(module, kube, ARGS)
    result = run_module(module, kube, dict(ARGS, credentials={"username": "root", "password": "s3cret-two"}),
                        diff_mode=True)
    assert [entry["kind"] for entry in result["objects"] if entry["changed"]] == ["Secret"]
    assert result["diff"]["before"]["provider"] == result["diff"]["after"]["provider"]
    assert result["diff"]["after"]["secrets"]["lab-credentials"] == {"password": "changed", "username": "unchanged"}
    assert set(result["diff"]["after"]) == {"provider", "secrets", "Secret/lab-credentials"}


def test_check_mode_writes_nothing_and_predicts_the_real_run():
    kube = FakeKube()
    predicted = run_module(module, kube, ARGS, check_mode=True)
    assert kube.store == {}
    done = run_module(module, kube, ARGS)
    assert predicted["objects"] == done["objects"]


def test_absent_removes_the_provider_and_the_secrets_it_owns():
    kube = FakeKube()
    run_module(module, kube, ARGS)
    result = run_module(module, kube, {"name": "lab", "namespace": "infra", "state": "absent"}, diff_mode=True)
    assert [(entry["kind"], entry["changed"]) for entry in result["objects"]] == [("Provider", True), ("Secret", True)]
    assert result["secrets"] == [{"name": "lab-credentials", "changed": True}]
    assert result["provider"] is None and result["diff"]["after"]["provider"] is None
    assert result["diff"]["before"]["secrets"] == {"lab-credentials": ["password", "username"]}
    again = run_module(module, kube, {"name": "lab", "namespace": "infra", "state": "absent", "wait": True})
    assert not again["changed"] and again["secrets"] == []
    assert not [call for call in kube.calls[-3:] if call[0] == "wait_for"]


PROVIDER_MANIFEST = """
apiVersion: infra.virtrigaud.io/v1beta1
kind: Provider
metadata: {name: lab, namespace: infra}
spec:
  type: libvirt
  endpoint: qemu:///system
  credentialSecretRef: {name: lab-login}
  runtime: {image: "registry.example.com/runtime:1", service: {port: 9443}}
"""


def test_a_provider_manifest_is_applied_as_written_with_the_credentials_given():
    kube = FakeKube()
    args = {"definition": PROVIDER_MANIFEST, "credentials": {"username": "root", "password": "s3cret-one"}}
    result = run_module(module, kube, args)
    assert [(entry["kind"], entry["name"], entry["namespace"]) for entry in result["objects"]] == [
        ("Secret", "lab-login", "infra"), ("Provider", "lab", "infra")]
    assert kube.store[("Provider", "infra", "lab")]["spec"]["runtime"] == {
        "image": "registry.example.com/runtime:1", "service": {"port": 9443}}
    assert not run_module(module, kube, args)["changed"]
    removed = run_module(module, kube, {"definition": PROVIDER_MANIFEST, "state": "absent"})
    assert [entry["kind"] for entry in removed["objects"] if entry["changed"]] == ["Provider", "Secret"]


def test_a_provider_manifest_the_schema_refuses_is_refused_naming_the_field():
    result = run_module(module, FakeKube(), {"definition": PROVIDER_MANIFEST.replace("qemu:///system", "ftp://x")})
    assert result["details"]["option"] == "definition" and "field spec.endpoint" in result["msg"]
    insecure = PROVIDER_MANIFEST.replace("  type: libvirt", "  type: libvirt\n  insecureSkipVerify: yes\n"
                                         "  healthCheck: {interval: off}")
    result = run_module(module, FakeKube(), {"definition": insecure})
    assert "field spec.healthCheck.interval" in result["msg"] and 'interval: "Off"' in result["msg"]
