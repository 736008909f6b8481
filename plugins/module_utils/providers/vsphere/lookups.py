# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects of a vSphere inventory found by id or by name, each one PropertyCollector query over a ContainerView."""

from __future__ import annotations

from typing import Any, Optional

from ...errors import ConflictError, SpecError
from . import client
from .translate import VM_PROPERTIES

try:
    from pyVmomi import vim, vmodl
except ImportError:  # pragma: no cover - client.connect reports it
    vim = vmodl = None  # type: ignore[assignment]  # unused without pyVmomi


def find_by_id(content: Any, vm_id: str) -> Optional[tuple[Any, dict[str, Any]]]:
    """The VM of a MoRef id (``vm-42``) or an instance UUID, with its properties; None when there is none."""
    if vm_id.startswith("vm-"):
        matches = [(o, p) for o, p in client.collect(content, vim.VirtualMachine, ("name",))
                   if o._moId == vm_id]  # pylint: disable=protected-access
    else:
        found = content.searchIndex.FindByUuid(None, vm_id, True, True)
        matches = [(found, {})] if found is not None else []
    if not matches:
        return None
    obj = matches[0][0]
    return obj, properties(content, obj)


def properties(content: Any, obj: Any) -> dict[str, Any]:
    collector = content.propertyCollector
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=obj, skip=False)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=list(VM_PROPERTIES))],
    )
    result = collector.RetrieveContents([spec])
    return {prop.name: prop.val for prop in result[0].propSet} if result else {}


def named(content: Any, kind: Any, name: str, option: str, templates: Optional[bool] = None,
          root: Any = None) -> Any:
    """The one object of ``kind`` with this name (below ``root``); two are an error naming both ids."""
    wanted = ("name", "config.template") if kind is vim.VirtualMachine else ("name",)
    matches = [obj for obj, props in client.collect(content, kind, wanted, root)
               if props.get("name") == name
               and (templates is None or bool(props.get("config.template")) == templates)]
    if len(matches) > 1:
        ids = ", ".join(m._moId for m in matches)  # pylint: disable=protected-access
        raise ConflictError("%d objects are named '%s': %s" % (len(matches), name, ids), option=option)
    return matches[0] if matches else None


def required(content: Any, kind: Any, name: str, option: str, what: str, root: Any = None) -> Any:
    found = named(content, kind, name, option, root=root)
    if found is None:
        raise SpecError("%s '%s' does not exist" % (what, name), option=option)
    return found
