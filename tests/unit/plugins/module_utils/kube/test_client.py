# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes client's comparison: what the server maintains is no change."""

from __future__ import annotations

import subprocess
import sys

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import LIST_PAGE, Change, Kube, comparable


def test_a_change_ignores_what_the_server_maintains():
    before = {"kind": "Secret", "metadata": {"name": "a", "resourceVersion": "1", "uid": "x"}, "data": {"k": "dg=="}}
    after = {"kind": "Secret", "metadata": {"name": "a", "resourceVersion": "2", "uid": "x"}, "data": {"k": "dg=="}}
    assert not Change("Secret", "a", None, before, after).changed
    assert Change("Secret", "a", None, None, after).changed
    assert comparable(None) is None


def test_a_module_imports_the_kubernetes_package_only_when_it_connects_to_kubernetes():
    probe = ("import sys; import ansible_collections.virtrigaud.core.plugins.modules.virtrigaud_vmset; "
             "print('kubernetes' in sys.modules)")
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "False"


def test_a_list_follows_its_continue_tokens_page_by_page_and_drops_managed_fields():
    pages = {None: {"items": [{"n": 1}, {"n": 2, "metadata": {"name": "b", "managedFields": [{"manager": "x"}]}}],
                    "metadata": {"continue": "p2"}},
             "p2": {"items": [{"n": 3}], "metadata": {"continue": "p3"}},
             "p3": {"items": [], "metadata": {}}}
    asked = []

    def request(method, path, body=None, query=None, content_type="application/json", what=""):
        asked.append((method, path, dict(query or {}), what))
        return pages[(query or {}).get("continue")]

    kube = Kube.__new__(Kube)
    kube.request = request
    assert kube.list_items("/apis/kubevirt.io/v1/virtualmachines", "env=prod", what="list VMs") == [
        {"n": 1}, {"n": 2, "metadata": {"name": "b"}}, {"n": 3}]
    assert [query["continue"] for dummy, dummy, query, dummy in asked] == [None, "p2", "p3"]
    assert all(query["limit"] == LIST_PAGE and query["labelSelector"] == "env=prod"
               for dummy, dummy, query, dummy in asked)
    assert {(method, path, what) for method, path, dummy, what in asked} == {
        ("GET", "/apis/kubevirt.io/v1/virtualmachines", "list VMs")}
