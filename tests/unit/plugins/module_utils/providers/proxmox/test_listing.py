# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""list_vms reads VMs side by side, yet answers as a serial read would: listing order, templates and VMs
removed meanwhile left out."""

from __future__ import annotations

import threading
import time
import types
from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox import provider as pve_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox.provider import ProxmoxProvider


class Node:
    """One online node's VMs; counts the reads that run at once."""

    def __init__(self, listing: list[dict[str, Any]], gone: frozenset[int] = frozenset()) -> None:
        self.listing = listing
        self.gone = gone
        self.reading = 0
        self.busiest = 0
        self.guard = threading.Lock()

    def get(self, path: str, **params: Any) -> Any:
        if path == "nodes":
            return [{"node": "pve1", "status": "online"}]
        if path == "nodes/pve1/qemu":
            return self.listing
        vmid = int(path.split("/")[3])
        with self.guard:
            self.reading += 1
            self.busiest = max(self.busiest, self.reading)
        try:
            time.sleep(0.01)
            if vmid in self.gone:
                raise errors.NotFoundError("Configuration file 'nodes/pve1/qemu-server/%d.conf' does not exist"
                                           % vmid)
            if path.endswith("/config"):
                return {"name": "vm-%d" % vmid, "cores": 1, "memory": "512"}
            return {"status": "stopped"}
        finally:
            with self.guard:
                self.reading -= 1


def _provider(node: Node) -> ProxmoxProvider:
    provider = ProxmoxProvider(ProviderConfig(type="proxmox", uri="pve.example.com", username="root@pam",
                                              password="secret"))
    provider.session = types.SimpleNamespace(
        endpoint=types.SimpleNamespace(label="pve.example.com:8006", host="pve.example.com", port=8006),
        get=node.get)
    return provider


def test_list_vms_reads_several_vms_at_once_but_no_more_than_its_bound():
    node = Node([{"vmid": vmid, "name": "vm-%d" % vmid} for vmid in range(100, 140)])
    listed = _provider(node).list_vms()
    assert [vm.id for vm in listed] == [str(vmid) for vmid in range(100, 140)]
    assert 1 < node.busiest <= pve_provider.LIST_READERS


def test_list_vms_leaves_out_templates_and_vms_removed_while_it_read():
    node = Node([{"vmid": 101, "name": "vm-101"}, {"vmid": 9000, "name": "tpl", "template": 1},
                 {"vmid": 102, "name": "vm-102"}, {"vmid": 103, "name": "vm-103"}], gone=frozenset({102}))
    assert [vm.id for vm in _provider(node).list_vms()] == ["101", "103"]


def test_list_vms_of_an_empty_cluster_is_empty():
    assert not _provider(Node([])).list_vms()
