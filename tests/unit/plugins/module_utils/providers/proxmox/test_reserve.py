# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VMIDs for parallel creates: the threads of one run never hold the same nextid answer at once."""

from __future__ import annotations

import concurrent.futures
import threading
import types

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox.provider import ProxmoxProvider


class Cluster:
    """nextid as PVE answers it: the lowest VMID from 100 that no VM has yet."""

    def __init__(self) -> None:
        self.vms: set[int] = set()
        self.handed_out = 0
        self.busiest = 0
        self.guard = threading.Lock()

    def nextid(self) -> int:
        with self.guard:
            self.handed_out += 1
            self.busiest = max(self.busiest, self.handed_out)
            return next(vmid for vmid in range(100, 10000) if vmid not in self.vms)

    def create(self, vmid: int) -> str:
        with self.guard:
            self.handed_out -= 1
            if vmid in self.vms:
                raise errors.ConflictError("VM %d already exists" % vmid)
            self.vms.add(vmid)
        return "UPID:pve1:%d" % vmid


def _provider(cluster: Cluster) -> ProxmoxProvider:
    provider = ProxmoxProvider(ProviderConfig(type="proxmox", uri="pve.example.com", username="root@pam",
                                              password="secret"))
    provider.session = types.SimpleNamespace(endpoint=types.SimpleNamespace(label="pve.example.com:8006"),
                                             get=lambda path: cluster.nextid())
    return provider


def test_parallel_creates_take_distinct_vmids_one_at_a_time():
    cluster = Cluster()
    providers = [_provider(cluster) for dummy in range(16)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        taken = list(pool.map(lambda provider: provider._reserve(cluster.create)[0], providers))
    assert sorted(taken) == list(range(100, 116))
    assert cluster.busiest == 1
