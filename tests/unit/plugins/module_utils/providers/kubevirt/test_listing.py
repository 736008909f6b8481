# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory's listing: every list call at once, each VM joined with its own VMI, in id order."""

from __future__ import annotations

import threading
import types
from typing import Any, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt import client as api
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt.provider import KubevirtProvider


def _vm(namespace: str, name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name},
            "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {}}}},
            "status": {"printableStatus": "Running", "created": True}}


def _vmi(namespace: str, name: str, node: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "labels": {"app": name}},
            "spec": {"domain": {"devices": {}}}, "status": {"nodeName": node, "phase": "Running"}}


class _Cluster:
    """Answers list calls from a table, and records them with the threads they ran on."""

    def __init__(self, table: dict[tuple[str, Optional[str]], list[dict[str, Any]]]) -> None:
        self.table = table
        self.calls: list[tuple[str, Optional[str], Optional[str]]] = []
        self.threads: set[int] = set()
        self.both_waiting = threading.Barrier(2, timeout=5)
        self.namespace = "default"
        self.kept_vmis: list[dict[str, Any]] = []
        self.kube = types.SimpleNamespace(base="https://kube.example.com")

    def list(self, kind: api.Kind, namespace: Optional[str] = None, selector: Optional[str] = None,
             kept: Any = None) -> list[dict[str, Any]]:
        self.calls.append((kind.plural, namespace, selector))
        self.threads.add(threading.get_ident())
        if namespace == "a":
            # The VM and VMI lists of one namespace are asked for together: each waits here for the other.
            self.both_waiting.wait()
        items = [kept(item) if kept else item for item in self.table.get((kind.plural, namespace), [])]
        if kind is api.VMI:
            self.kept_vmis += items
        return items


def _provider(cluster: _Cluster, namespaces: list[str], selector: Optional[str] = None) -> KubevirtProvider:
    provider = KubevirtProvider.__new__(KubevirtProvider)
    provider.config = ProviderConfig(type="kubevirt",
                                     options={"namespaces": namespaces, "label_selector": selector})
    provider.cluster = cluster  # type: ignore[assignment]
    provider.namespace = cluster.namespace
    provider.warnings = []
    provider._classes = {}  # pylint: disable=protected-access
    return provider


def test_lists_vms_and_vmis_at_once_and_joins_each_vm_with_its_own_vmi():
    cluster = _Cluster({
        ("virtualmachines", "a"): [_vm("a", "web"), _vm("a", "db")],
        ("virtualmachineinstances", "a"): [_vmi("a", "web", "node-1"), _vmi("a", "db", "node-2")],
        ("virtualmachines", "b"): [_vm("b", "web")],
        ("virtualmachineinstances", "b"): [_vmi("b", "web", "node-3")],
    })
    found = _provider(cluster, ["a", "b"], "env=prod").list_vms()
    assert [vm.id for vm in found] == ["a/db", "a/web", "b/web"]
    assert [vm.details["node"] for vm in found] == ["node-2", "node-1", "node-3"]
    assert sorted(cluster.calls) == [("virtualmachineinstances", "a", None), ("virtualmachineinstances", "b", None),
                                     ("virtualmachines", "a", "env=prod"), ("virtualmachines", "b", "env=prod")]
    assert len(cluster.threads) >= 2
    # Of a VMI only its name and status are kept while the lists are read.
    assert {"metadata": {"namespace": "a", "name": "web"},
            "status": {"nodeName": "node-1", "phase": "Running"}} in cluster.kept_vmis
    assert all(set(vmi) == {"metadata", "status"} for vmi in cluster.kept_vmis)


def test_a_vm_without_a_vmi_has_no_node():
    cluster = _Cluster({("virtualmachines", None): [_vm("c", "idle")]})
    found = _provider(cluster, []).list_vms()
    assert [vm.id for vm in found] == ["c/idle"]
    assert "node" not in found[0].details
    assert sorted(cluster.calls) == [("virtualmachineinstances", None, None), ("virtualmachines", None, None)]
