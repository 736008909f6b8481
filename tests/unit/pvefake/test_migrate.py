# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake PVE's migrate route refuses what PVE refuses, on the side PVE refuses it (before the fork or in the
qmigrate task), and moves the VM's config to the target node when it succeeds."""

from __future__ import annotations

import time

import pytest

from ansible_collections.virtrigaud.core.tests.pvefake.api import ParamError
from ansible_collections.virtrigaud.core.tests.pvefake.handlers import vm_migrate
from ansible_collections.virtrigaud.core.tests.pvefake.model import VM, Cluster
from ansible_collections.virtrigaud.core.tests.pvefake.tasks import PveError

ROOT = "root@pam"


@pytest.fixture
def cluster(tmp_path):
    found = Cluster(["pve1", "pve2", "pve3"], str(tmp_path), task_seconds=0.0)
    found.volumes["ceph-vm:vm-100-disk-0"] = {"size": 1, "vmid": 100, "base": None}
    found.volumes["local-lvm:vm-101-disk-0"] = {"size": 1, "vmid": 101, "base": None}
    found.vms[100] = VM(100, "pve1", {"name": "shared", "scsi0": "ceph-vm:vm-100-disk-0,size=1G"})
    found.vms[101] = VM(101, "pve1", {"name": "local", "scsi0": "local-lvm:vm-101-disk-0,size=1G"})
    return found


def finished(cluster, upid):
    task = cluster.tasks.tasks[upid]
    for dummy in range(200):
        if not task.running:
            return task
        time.sleep(0.01)
    raise AssertionError("the task did not finish")


def migrate(cluster, user=ROOT, **params):
    return vm_migrate(cluster, dict({"node": "pve1", "vmid": 100}, **params), user)


def test_a_stopped_vm_moves_offline_in_a_qmigrate_task(cluster):
    upid = migrate(cluster, target="pve2")
    assert ":qmigrate:100:" in upid
    task = finished(cluster, upid)
    assert task.exitstatus == "OK" and cluster.vms[100].node == "pve2" and "lock" not in cluster.vms[100].conf


def test_a_running_vm_moves_online_and_keeps_running(cluster):
    cluster.vms[100].running = True
    assert finished(cluster, migrate(cluster, target="pve3", online=True)).exitstatus == "OK"
    assert cluster.vms[100].node == "pve3" and cluster.vms[100].running


@pytest.mark.parametrize("params, user, error, text", [
    ({"target": "pve1"}, ROOT, ParamError, "target is local node."),
    ({"target": "pve9"}, ROOT, PveError, "no such cluster node 'pve9'"),
    ({"target": "pve2", "force": True}, "alice@pve", ParamError, "Only root may use this option."),
    ({"target": "pve3", "node": "pve2"}, ROOT, PveError, "does not exist"),
])
def test_refusals_before_the_fork(cluster, params, user, error, text):
    with pytest.raises(error) as caught:
        migrate(cluster, user, **params)
    assert text in str(getattr(caught.value, "errors", None) or caught.value)
    assert cluster.vms[100].node == "pve1" and not cluster.tasks.tasks


def test_a_running_vm_without_online_and_a_locked_vm_are_refused(cluster):
    cluster.vms[100].running = True
    with pytest.raises(PveError, match="can't migrate running VM without --online"):
        migrate(cluster, target="pve2")
    cluster.vms[100].running = False
    cluster.vms[100].conf["lock"] = "backup"
    with pytest.raises(PveError, match=r"VM is locked \(backup\)"):
        migrate(cluster, target="pve2")


def test_live_local_disks_need_with_local_disks_and_fail_in_the_task(cluster):
    cluster.vms[101].running = True
    task = finished(cluster, vm_migrate(cluster, {"node": "pve1", "vmid": 101, "target": "pve2", "online": True},
                                        ROOT))
    assert "without with-local-disks option" in task.exitstatus
    assert cluster.vms[101].node == "pve1" and "lock" not in cluster.vms[101].conf
    params = {"node": "pve1", "vmid": 101, "target": "pve2", "online": True, "with-local-disks": True}
    assert finished(cluster, vm_migrate(cluster, params, ROOT)).exitstatus == "OK"
    assert cluster.vms[101].node == "pve2"


def test_a_target_node_that_is_down_fails_the_task_and_the_vm_stays(cluster):
    cluster.nodes["pve2"].online = False
    task = finished(cluster, migrate(cluster, target="pve2"))
    assert task.exitstatus != "OK" and cluster.vms[100].node == "pve1" and "lock" not in cluster.vms[100].conf
