# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes client's comparison: what the server maintains is no change."""

from __future__ import annotations

import subprocess
import sys

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Change, comparable


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
