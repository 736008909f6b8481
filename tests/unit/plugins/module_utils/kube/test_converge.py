# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The converge service against a fake client that records its calls: what it writes, removes and waits for,
in check mode and for real, and the one result shape it reports."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.converge import (
    Request,
    Wait,
    converge,
    gone,
    merged_diff,
)
from ansible_collections.virtrigaud.core.tests.unit.plugins.module_utils.kube.fake_kube import FakeKube


def config_map(name, value="one", namespace="apps"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"value": value}}


def secret(name, namespace="apps", **data):
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": encoded}


def exists(obj):
    return obj is not None


def test_new_objects_are_applied_in_order_and_reported_in_one_shape():
    kube = FakeKube()
    outcome = converge(kube, Request(apply=[config_map("a"), config_map("b")]), check_mode=False)
    assert outcome.changed
    assert outcome.objects() == [
        {"kind": "ConfigMap", "name": "a", "namespace": "apps", "changed": True},
        {"kind": "ConfigMap", "name": "b", "namespace": "apps", "changed": True},
    ]
    assert kube.writes() == [("apply", "ConfigMap", "a", False, ""), ("apply", "ConfigMap", "b", False, "")]
    assert set(outcome.diff()["after"]) == {"ConfigMap/a", "ConfigMap/b"}
    assert outcome.diff()["before"] == {"ConfigMap/a": None, "ConfigMap/b": None}


def test_a_second_run_changes_nothing_and_shows_no_diff():
    kube = FakeKube()
    converge(kube, Request(apply=[config_map("a")]), check_mode=False)
    outcome = converge(kube, Request(apply=[config_map("a")]), check_mode=False)
    assert not outcome.changed
    assert outcome.objects() == [{"kind": "ConfigMap", "name": "a", "namespace": "apps", "changed": False}]
    assert outcome.diff() == {"before": {}, "after": {}}


def test_check_mode_writes_as_dry_runs_and_waits_for_nothing():
    kube = FakeKube(config_map("old"))
    request = Request(apply=[config_map("a")], prune=[("ConfigMap", "old", "apps")],
                      waits=[Wait("ConfigMap", "a", "apps", exists, "ConfigMap a")])
    outcome = converge(kube, request, check_mode=True)
    assert outcome.changed
    assert [entry["name"] for entry in outcome.objects() if entry["changed"]] == ["a", "old"]
    assert kube.writes() == [("apply", "ConfigMap", "a", True, ""), ("delete", "ConfigMap", "old", "apps", True)]
    assert not [call for call in kube.calls if call[0] == "wait_for"]
    assert set(kube.store) == {("ConfigMap", "apps", "old")}
    assert outcome.current("ConfigMap", "a")["data"] == {"value": "one"}


def test_check_mode_predicts_what_the_real_run_reports():
    predicted = converge(FakeKube(config_map("a", "one")), Request(apply=[config_map("a", "two")]), check_mode=True)
    done = converge(FakeKube(config_map("a", "one")), Request(apply=[config_map("a", "two")]), check_mode=False)
    assert predicted.objects() == done.objects()
    assert predicted.diff() == done.diff()


def test_prune_removes_and_reports_only_leftovers_that_exist():
    kube = FakeKube(config_map("stale"))
    outcome = converge(kube, Request(prune=[("ConfigMap", "stale", "apps"), ("ConfigMap", "never", "apps")]),
                       check_mode=False)
    assert outcome.objects() == [{"kind": "ConfigMap", "name": "stale", "namespace": "apps", "changed": True}]
    assert kube.writes() == [("delete", "ConfigMap", "stale", "apps", False)]
    assert outcome.diff()["after"] == {"ConfigMap/stale": None}


def test_delete_reports_every_object_and_waits_only_for_those_that_existed():
    kube = FakeKube(config_map("here"))
    waits = [Wait("ConfigMap", name, "apps", gone, "ConfigMap %s to be deleted" % name) for name in ("here", "gone")]
    outcome = converge(kube, Request(delete=[("ConfigMap", "here", "apps"), ("ConfigMap", "gone", "apps")],
                                     waits=waits), check_mode=False)
    assert [(entry["name"], entry["changed"]) for entry in outcome.objects()] == [("here", True), ("gone", False)]
    assert [call[2] for call in kube.calls if call[0] == "wait_for"] == ["here"]
    assert outcome.current("ConfigMap", "here") is None


def test_waits_share_one_deadline_and_their_result_is_the_current_object():
    def reconciled(obj):
        return dict(obj, status={"ready": True})

    kube = FakeKube(on_wait=reconciled)
    waits = [Wait("ConfigMap", name, "apps", lambda obj: bool((obj or {}).get("status")), "ConfigMap %s" % name)
             for name in ("a", "b")]
    outcome = converge(kube, Request(apply=[config_map("a"), config_map("b")], waits=waits, wait_timeout=5),
                       check_mode=False)
    deadlines = {call[4] for call in kube.calls if call[0] == "wait_for"}
    assert len(deadlines) == 1
    assert outcome.current("ConfigMap", "b")["status"] == {"ready": True}
    # The diff and the per-object changes are about the writes; a wait's reading does not change them.
    assert outcome.diff()["after"]["ConfigMap/b"] == config_map("b")


def test_the_checkpoint_sees_every_write_before_any_wait_and_may_stop_the_run():
    kube = FakeKube()
    seen = []

    def checkpoint(changes):
        seen.append([change.name for change in changes])
        seen.append(list(kube.calls))
        raise RuntimeError("refused")

    request = Request(apply=[config_map("a")], waits=[Wait("ConfigMap", "a", "apps", exists, "a")])
    with pytest.raises(RuntimeError):
        converge(kube, request, check_mode=False, checkpoint=checkpoint)
    assert seen[0] == ["a"]
    assert not [call for call in kube.calls if call[0] == "wait_for"]


def test_secrets_show_their_keys_never_their_values():
    kube = FakeKube(secret("creds", username="root", password="old-pass"))
    outcome = converge(kube, Request(apply=[secret("creds", username="root", password="new-pass", token="t0k3n")]),
                       check_mode=False)
    diff = outcome.diff()
    assert diff == {"before": {"Secret/creds": ["password", "username"]},
                    "after": {"Secret/creds": {"password": "changed", "token": "changed", "username": "unchanged"}}}
    for value in ("old-pass", "new-pass", "t0k3n"):
        assert value not in repr(diff) and base64.b64encode(value.encode()).decode() not in repr(diff)


def test_a_module_adds_its_own_fields_and_its_own_view():
    kube = FakeKube()
    outcome = converge(kube, Request(apply=[config_map("a", "x")]), check_mode=False)

    def detail(change, obj):
        return {"value": obj["data"]["value"]}

    def view(change):
        return None, change.after["data"]["value"]

    assert outcome.objects(detail) == [{"kind": "ConfigMap", "name": "a", "namespace": "apps", "changed": True,
                                        "value": "x"}]
    assert outcome.diff(view) == {"before": {"ConfigMap/a": None}, "after": {"ConfigMap/a": "x"}}


def test_merged_diff_keeps_every_key_and_the_later_diff_wins():
    first = {"before": {"a": 1, "shared": 1}, "after": {"a": 2}}
    second = {"before": {"shared": 2}, "after": {"b": 3}}
    assert merged_diff(first, second) == {"before": {"a": 1, "shared": 2}, "after": {"a": 2, "b": 3}}


def test_cluster_scoped_objects_have_no_namespace():
    definition = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                  "metadata": {"name": "things.example.com"}, "spec": {"versions": [{"name": "v1"}]}}
    outcome = converge(FakeKube(), Request(apply=[definition]), check_mode=False)
    assert outcome.objects()[0]["namespace"] is None
