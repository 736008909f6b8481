# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a new vSphere VM goes: datacenter, folder, resource pool, host and datastore.

The caller passes ``required``, its lookup of one named object that raises a
SpecError naming the option when it is missing.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ...errors import SpecError
from ...spec import VMSpec
from . import client

try:
    from pyVmomi import vim
except ImportError:  # pragma: no cover - client.connect reports it
    vim = None  # type: ignore[assignment]  # unused without pyVmomi

Required = Callable[..., Any]


def resolve(options: Mapping[str, Any], spec: VMSpec, required: Required) -> dict[str, Any]:
    """Datacenter, folder, resource pool, host and datastore from the spec, then the provider defaults."""
    place = spec.placement
    found: dict[str, Any] = {}
    root = None
    if options.get("datacenter"):
        root = found["datacenter"] = required(vim.Datacenter, options["datacenter"], "datacenter", "datacenter")
    wanted = (
        ("cluster", vim.ClusterComputeResource, place.cluster, "placement.cluster", options.get("cluster"),
         "default_cluster", "cluster"),
        ("host", vim.HostSystem, place.host, "placement.host", None, None, "host"),
        ("pool", vim.ResourcePool, place.resource_pool, "placement.resource_pool", options.get("resource_pool"),
         "defaults.resourcePool", "resource pool"),
        ("datastore", vim.Datastore, place.datastore, "placement.datastore", options.get("storage_pool"),
         "default_datastore", "datastore"),
        ("folder", vim.Folder, place.folder, "placement.folder", options.get("folder"), "default_folder",
         "folder"),
    )
    for key, kind, given, option, default, default_option, what in wanted:
        name, name_option = (given, option) if given else (default, default_option)
        if name and name_option:
            found[key] = required(kind, name, name_option, what, root)
    if "datastore" not in found and options.get("storage_pod"):
        found["datastore"] = roomiest_member(options["storage_pod"], root, required)
    return found


def roomiest_member(pod_name: str, root: Any, required: Required) -> Any:
    """The datastore of a storage pod (Storage DRS cluster) with the most free space, as upstream picks it."""
    pod = required(vim.StoragePod, pod_name, "defaults.storagePod", "storage pod", root)
    members = [(ds, ds.summary) for ds in pod.childEntity if isinstance(ds, vim.Datastore)]
    usable = [(ds, summary) for ds, summary in members
              if summary.accessible and summary.maintenanceMode in (None, "normal")]
    if not usable:
        raise SpecError("storage pod '%s' has no accessible datastore out of maintenance" % pod_name,
                        option="defaults.storagePod")
    return max(usable, key=lambda member: member[1].freeSpace or 0)[0]


def locate(content: Any, found: dict[str, Any]) -> tuple[Any, Any, Optional[Any], Optional[Any]]:
    """(folder, resource pool, host, datastore) for a new VM, from what ``resolve`` found."""
    compute = found.get("cluster") or (found["host"].parent if "host" in found else None)
    if compute is None:
        computes = client.collect(content, vim.ComputeResource, ("name",), found.get("datacenter"))
        compute = next((obj for obj, dummy in computes), None)
        if compute is None:
            raise SpecError("there is no cluster or host to place the VM on", option="placement.cluster")
    pool = found.get("pool") or compute.resourcePool
    datacenter = compute
    while not isinstance(datacenter, vim.Datacenter):
        datacenter = datacenter.parent
    folder = found.get("folder") or datacenter.vmFolder
    datastore = found.get("datastore") or (compute.datastore[0] if compute.datastore else None)
    return folder, pool, found.get("host"), datastore
