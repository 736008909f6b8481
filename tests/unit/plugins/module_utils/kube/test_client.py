# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes client's comparison: what the server maintains is no change."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import (
    LIST_READ_SECONDS,
    Change,
    Kube,
    comparable,
)


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


class StreamedAnswer:
    """An answer whose body comes in chunks of a few bytes, as a slow network gives it."""

    def __init__(self, body):
        self.body = body
        self.released = False

    def stream(self, amount):
        return (self.body[at:at + 5] for at in range(0, len(self.body), 5))

    def release_conn(self):
        self.released = True


def test_a_list_is_one_answer_read_item_by_item_without_managed_fields():
    answer = StreamedAnswer(json.dumps({"kind": "List", "metadata": {"resourceVersion": "7"}, "items": [
        {"n": 1}, {"n": 2, "metadata": {"name": "b", "managedFields": [{"manager": "x"}]}}, {"n": 3}]}).encode())
    asked = []

    def send(method, path, body, query, content_type, what, preload, read_timeout=None):
        asked.append((method, path, query, what, preload, read_timeout))
        return answer

    kube = Kube.__new__(Kube)
    kube._send = send
    assert kube.list_items("/apis/kubevirt.io/v1/virtualmachines", "env=prod", what="list VMs") == [
        {"n": 1}, {"n": 2, "metadata": {"name": "b"}}, {"n": 3}]
    assert asked == [("GET", "/apis/kubevirt.io/v1/virtualmachines", {"labelSelector": "env=prod"}, "list VMs", False,
                     LIST_READ_SECONDS)]
    assert answer.released


def test_a_list_answer_cut_short_is_an_error_that_names_the_list():
    kube = Kube.__new__(Kube)
    answer = StreamedAnswer(b'{"items": [{"n": 1}, {"n"')
    kube._send = lambda *args, **kwargs: answer
    with pytest.raises(errors.ProviderError, match="list VMs"):
        kube.list_items("/apis/kubevirt.io/v1/virtualmachines", what="list VMs")
    assert answer.released
