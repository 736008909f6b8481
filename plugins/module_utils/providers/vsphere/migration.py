# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a vSphere VM to another host (vMotion) or datastore (Storage vMotion): one RelocateVM_Task.

vCenter carries out a relocation as one unit: when it fails, the VM is still
on its host and datastore and vCenter removes what it copied.
"""

from __future__ import annotations

from typing import Any, Optional

from ... import errors
from ...spec import Placement
from .translate import datastore_of

try:
    from pyVmomi import vim
except ImportError:  # pragma: no cover - client.connect reports it
    vim = None  # type: ignore[assignment]  # unused without pyVmomi

_USABLE_CONNECTION = "connected"


def where(vm: Any) -> Placement:
    """The VM's host, and its datastore: the only one it uses, else the one holding its configuration.

    A VM's ``datastore`` list is what Storage vMotion changes (vcsim changes nothing else); with a single datastore
    it is the one of ``config.files.vmPathName`` on a real vCenter too.
    """
    stores = list(vm.datastore or ())
    datastore = stores[0].name if len(stores) == 1 else datastore_of(vm.summary.config.vmPathName)
    host = vm.runtime.host
    return Placement(host=host.name if host is not None else None, datastore=datastore)


def check_host(host: Any, option: str) -> None:
    """A host that is disconnected or in maintenance takes no VM."""
    runtime = host.runtime
    if runtime.connectionState != _USABLE_CONNECTION or runtime.inMaintenanceMode:
        raise errors.PreconditionError(
            "host '%s' is %s and takes no VM" % (
                host.name, "in maintenance mode" if runtime.inMaintenanceMode else runtime.connectionState),
            option=option)


def check_datastore(datastore: Any, host: Any, option: str) -> None:
    """The datastore must be mounted on the host the VM will run on."""
    mounted = {mount.key for mount in datastore.host or ()}
    if host not in mounted:
        raise errors.PreconditionError(
            "datastore '%s' is not mounted on host '%s'" % (datastore.name, host.name),
            option=option)
    if not datastore.summary.accessible:
        raise errors.PreconditionError("datastore '%s' is not accessible" % datastore.name, option=option)


def relocate_spec(vm: Any, host: Optional[Any], datastore: Optional[Any]) -> Any:
    """A RelocateSpec; a host of another cluster or standalone host takes that compute resource's root pool."""
    spec = vim.vm.RelocateSpec()
    if host is not None:
        spec.host = host
        if host.parent != vm.runtime.host.parent:
            spec.pool = host.parent.resourcePool
    if datastore is not None:
        spec.datastore = datastore
    return spec
