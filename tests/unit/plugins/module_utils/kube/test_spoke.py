# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OVIM spoke's objects: the settings the agent reads, the token only by reference, the policy's peers."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.module_utils.kube import spoke
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Change
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.runtime import CHECKSUM_ANNOTATION
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.spoke_client import SecretChecksum

OPTIONS = spoke.SpokeOptions(namespace="ovim-system", image="runtime:1", agent_id="a", cluster_id="c",
                             hub_endpoint="https://hub:8443", hub_token="t0ken")


def test_the_token_is_in_the_secret_only():
    objects = spoke.spoke_objects(OPTIONS)
    assert [obj["kind"] for obj in objects if "t0ken" in str(obj)] == []
    assert spoke.secret(OPTIONS)["data"] == {spoke.TOKEN_KEY: "dDBrZW4="}


def test_without_token_or_ca_the_secret_is_empty_and_unreferenced():
    bare = spoke.SpokeOptions(namespace="ovim-system", image="runtime:1", agent_id="a", cluster_id="c",
                              hub_endpoint="http://hub")
    names = [entry["name"] for entry in spoke.container_env(bare)]
    assert spoke.secret(bare)["data"] == {}
    assert "OVIM_HUB_TOKEN" not in names and "OVIM_HUB_CA_PATH" not in names


def test_the_policy_admits_any_namespace_when_none_is_listed():
    assert "from" not in spoke.network_policy(OPTIONS)["spec"]["ingress"][0]


def test_absent_removes_the_cluster_scoped_objects_by_their_namespaced_name():
    assert ("ClusterRole", "ovim-spoke-agent-ovim-system", None) in spoke.removed("ovim-system")
    assert all(ref[0] != "Namespace" for ref in spoke.removed("ovim-system"))


class _Written:
    """A converge client that stores each object as sent, the Secret with a uid, and records each call."""

    def __init__(self):
        self.calls = []

    def converge(self, objects, dry_run=False):
        self.calls.append([obj["kind"] for obj in objects])
        stored = [dict(obj, metadata=dict(obj["metadata"], uid="u-1")) for obj in objects]
        return [Change(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"), None, obj)
                for obj in stored]


def _checksum(options):
    client = _Written()
    changes = SecretChecksum(client).converge(spoke.spoke_objects(options))
    deployment = next(change.after for change in changes if change.kind == "Deployment")
    return client.calls, deployment["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION]


def test_the_pod_template_carries_the_secrets_checksum():
    calls, first = _checksum(OPTIONS)
    assert calls[0][-1] == "Secret" and calls[1][0] == "Service"
    assert first.startswith("hmac-sha256:") and _checksum(OPTIONS)[1] == first
    rotated = spoke.SpokeOptions(**dict(vars(OPTIONS), hub_token="t0ken-2"))
    assert _checksum(rotated)[1] != first
