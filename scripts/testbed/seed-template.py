"""Prepare vcsim for the scenario suite: a template to clone from (the first
standalone-host VM, with a 1 GiB disk like the libvirt test image) and two VMs
that share the name vr-duplicate, in different folders, for the bad-input table; and a second datastore,
LocalDS_1, on the cluster's hosts, for moves between datastores (vcsim's model has one)."""

import os
import ssl
import sys
import time

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim


def wait(task):
    while task.info.state in ("queued", "running"):
        time.sleep(0.1)
    if task.info.state == "error":
        raise task.info.error


TEMPLATE = sys.argv[1] if len(sys.argv) > 1 else "vr-template"

service = SmartConnect(host=os.environ["VMWARE_HOST"], port=int(os.environ["VMWARE_PORT"]),
                       user=os.environ["VMWARE_USER"], pwd=os.environ["VMWARE_PASSWORD"],
                       sslContext=ssl.create_default_context(cafile=os.environ["VCSIM_CA"]))
content = service.RetrieveContent()
view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
machines = {vm.name: vm for vm in view.view}
if TEMPLATE not in machines:
    source = machines["DC0_H0_VM0"]
    if source.runtime.powerState == "poweredOn":
        wait(source.PowerOffVM_Task())
    wait(source.Rename_Task(TEMPLATE))
    # A 1 GiB root disk, like the libvirt test image, so the same suite fits both.
    old = next(d for d in source.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(diskMode="persistent", thinProvisioned=True)
    new = vim.vm.device.VirtualDisk(key=-1, controllerKey=old.controllerKey, unitNumber=old.unitNumber,
                                    capacityInKB=1024 * 1024, backing=backing)
    changes = [vim.vm.device.VirtualDeviceSpec(operation="remove", fileOperation="destroy", device=old),
               vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=new)]
    wait(source.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=changes)))
    source.MarkAsTemplate()
if "vr-duplicate" not in machines:
    datacenter = content.rootFolder.childEntity[0]
    folder = datacenter.vmFolder.CreateFolder("vr-duplicates")
    source = next(vm for vm in view.view if vm.name == TEMPLATE)
    for target in (datacenter.vmFolder, folder):
        relocate = vim.vm.RelocateSpec(pool=datacenter.hostFolder.childEntity[0].resourcePool)
        wait(source.CloneVM_Task(folder=target, name="vr-duplicate",
                                 spec=vim.vm.CloneSpec(location=relocate, powerOn=False, template=False)))
cluster = next(c for c in content.rootFolder.childEntity[0].hostFolder.childEntity
               if isinstance(c, vim.ClusterComputeResource))
if not any(store.name == "LocalDS_1" for store in cluster.datastore):
    os.makedirs(os.environ["VCSIM_SECOND_DATASTORE_DIR"], exist_ok=True)
    # vcsim mounts a local datastore made on one host of a cluster on all of its hosts.
    cluster.host[0].configManager.datastoreSystem.CreateLocalDatastore(
        name="LocalDS_1", path=os.environ["VCSIM_SECOND_DATASTORE_DIR"])
print(TEMPLATE)
Disconnect(service)
