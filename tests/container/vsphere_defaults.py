# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Provider's vSphere defaults, through the runtime's container, on vcsim.

``setup`` gives vcsim what the defaults name: a storage pod (Storage DRS
cluster) of two datastores whose first member has the less free space, a
resource pool, a VM folder and a port group.  ``check`` creates a VM that names
no placement and no network through the running container over mTLS, reads
where vcsim put it, and removes it.  The VM must sit on the pod's roomier
member, in the pool and the folder, on the port group.

    python -m container.vsphere_defaults setup|check --tls DIR [--port 9443]

vcsim's address and user come from VMWARE_HOST, VMWARE_PORT, VMWARE_USER and
VMWARE_PASSWORD (``vcsim.sh env``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from typing import Any, Optional

from pyVmomi import vim

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import client as session
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import NetworkSpec, VMSpec

POD = "vr-pod"
# Each vcsim host that mounts a datastore adds a terabyte to its capacity: the second member is roomier.
MEMBERS = (("vr-pod-small", 1), ("vr-pod-large", 2))
POOL = "vr-pool"
FOLDER = "vr-folder"
PORT_GROUP = "vr-lan"
DEFAULTS = {"storage_pod": POD, "resource_pool": POOL, "folder": FOLDER, "network": PORT_GROUP}


def _vcsim() -> ProviderConfig:
    uri = "https://%s:%s/sdk" % (os.environ["VMWARE_HOST"], os.environ["VMWARE_PORT"])
    return ProviderConfig(type="vsphere", uri=uri, username=os.environ["VMWARE_USER"],
                          password=os.environ["VMWARE_PASSWORD"], validate_certs=False)


def _one(content: Any, kind: Any, name: Optional[str] = None) -> Any:
    return next((obj for obj, props in session.collect(content, kind, ("name",))
                 if name is None or props.get("name") == name), None)


def _wait(task: Any) -> Any:
    return session.wait_for(task, Deadline(60), "set up vcsim")


def _datastore(content: Any, name: str, hosts: list[Any]) -> Any:
    """A local datastore mounted on each of ``hosts``."""
    path = os.path.join(tempfile.gettempdir(), "virtrigaud-vcsim-datastores", name)
    shutil.rmtree(path, ignore_errors=True)  # left by an earlier vcsim, which took its datastores with it
    os.makedirs(path)
    hosts[0].configManager.datastoreSystem.CreateLocalDatastore(name=name, path=path)
    for host in hosts[1:]:
        try:
            host.configManager.datastoreSystem.CreateLocalDatastore(name=name, path=path)
        except KeyError:
            pass  # vcsim mounts an existing datastore on one more host but answers with an untyped element
    store = _one(content, vim.Datastore, name)
    if len(store.host) != len(hosts):
        raise RuntimeError("datastore %s is mounted on %d hosts, not %d" % (name, len(store.host), len(hosts)))
    return store


def setup(content: Any) -> dict[str, Any]:
    datacenter = _one(content, vim.Datacenter)
    cluster = _one(content, vim.ClusterComputeResource)
    hosts = list(cluster.host)
    if _one(content, vim.StoragePod, POD) is None:
        members = [_datastore(content, name, hosts[:mounts]) for name, mounts in MEMBERS]
        pod = datacenter.datastoreFolder.CreateStoragePod(name=POD)
        _wait(pod.MoveIntoFolder_Task(members))
    if _one(content, vim.ResourcePool, POOL) is None:
        cluster.resourcePool.CreateResourcePool(name=POOL, spec=vim.ResourceConfigSpec(
            cpuAllocation=vim.ResourceAllocationInfo(reservation=0, limit=-1, expandableReservation=True,
                                                     shares=vim.SharesInfo(level="normal")),
            memoryAllocation=vim.ResourceAllocationInfo(reservation=0, limit=-1, expandableReservation=True,
                                                        shares=vim.SharesInfo(level="normal"))))
    if _one(content, vim.Folder, FOLDER) is None:
        datacenter.vmFolder.CreateFolder(FOLDER)
    if _one(content, vim.Network, PORT_GROUP) is None:
        hosts[0].configManager.networkSystem.AddPortGroup(vim.host.PortGroup.Specification(
            name=PORT_GROUP, vlanId=0, vswitchName="vSwitch0", policy=vim.host.NetworkPolicy()))
    pod = _one(content, vim.StoragePod, POD)
    return {"pod_members": {store.name: store.summary.freeSpace for store in pod.childEntity}}


def _runtime(tls: str, port: int) -> Any:
    return open_provider(ProviderConfig(type="remote", uri="127.0.0.1:%d" % port, options={
        "tls": True, "ca_path": os.path.join(tls, "ca.crt"), "client_cert": os.path.join(tls, "tls.crt"),
        "client_key": os.path.join(tls, "tls.key")}))


def check(content: Any, tls: str, port: int) -> dict[str, Any]:
    """Create a VM without placement through the runtime; return where vcsim put it and what was expected."""
    pod = _one(content, vim.StoragePod, POD)
    roomiest = max(pod.childEntity, key=lambda store: store.summary.freeSpace).name
    if roomiest == pod.childEntity[0].name:
        raise RuntimeError("the pod's first member is also its roomiest: the check would not tell them apart")
    name = "vr-defaults-%s" % uuid.uuid4().hex[:6]
    runtime = _runtime(tls, port)
    try:
        vm_id = runtime.create(VMSpec(name=name, cpu=1, memory_mib=256, networks=(NetworkSpec(name="lan"),)))[0]
        vm = _one(content, vim.VirtualMachine, name)
        found = {"datastores": sorted(store.name for store in vm.datastore), "resource_pool": vm.resourcePool.name,
                 "folder": vm.parent.name, "networks": sorted(network.name for network in vm.network)}
        runtime.delete(vm_id)
    finally:
        runtime.close()
    expected = {"datastores": [roomiest], "resource_pool": POOL, "folder": FOLDER, "networks": [PORT_GROUP]}
    return {"ok": found == expected, "found": found, "expected": expected}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="container.vsphere_defaults")
    parser.add_argument("command", choices=["setup", "check", "defaults"])
    parser.add_argument("--tls", help="the directory of ca.crt, tls.crt and tls.key for the runtime's mTLS")
    parser.add_argument("--port", type=int, default=9443)
    args = parser.parse_args(argv)
    if args.command == "defaults":
        print(json.dumps(DEFAULTS))
        return 0
    service = session.connect(_vcsim())
    try:
        content = service.RetrieveContent()
        result = setup(content) if args.command == "setup" else check(content, args.tls, args.port)
    finally:
        session.disconnect(service)
    print(json.dumps(result, sort_keys=True))
    return 0 if result.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
