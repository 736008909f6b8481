# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VMClone manifest, read for virtrigaud_vm, which clones with clone_from (pure: no I/O).

The clone is ``spec.target.name``, made from the VM ``spec.source.vmRef.name`` as a full or linked copy
(``spec.options.type``), started when ``spec.options.powerOn``.  Upstream clones from a VM only too; its other
sources, the target's class, networks and disks, and the guest customization are refused by their paths, unless
at their schema default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from .manifests import OPTION, describe, load, only, part, refuse_unused_in_spec, validate

KIND = "VMClone"
CLONE_FIELDS = ("source.vmRef.name", "target.name", "target.providerRef", "target.namespace", "options.type",
                "options.powerOn", "metadata")
LINKED = {"FullClone": False, "LinkedClone": True}


@dataclass(frozen=True)
class CloneManifest:
    document: dict[str, Any]
    namespace: str


def holds_clone(definition: Any) -> bool:
    """Whether ``definition`` is a VMClone manifest rather than a VirtualMachine one."""
    return any(document["kind"] == KIND for document in load(definition))


def read(definition: Any) -> CloneManifest:
    documents = load(definition)
    validate(documents, (KIND,))
    document = only(documents, KIND)
    return CloneManifest(document, str(part(document.get("metadata"), "metadata").get("namespace") or "default"))


def as_resources(manifest: CloneManifest) -> list[dict[str, Any]]:
    """The VMClone as server-side apply writes it, in its namespace."""
    return [dict(manifest.document, metadata=dict(manifest.document["metadata"], namespace=manifest.namespace))]


def options(manifest: CloneManifest, params: dict[str, Any]) -> dict[str, Any]:
    """virtrigaud_vm's name, clone_from, linked_clone and state for the clone; ``params`` are the task's."""
    where = describe(manifest.document)
    spec = part(manifest.document.get("spec"), "spec")
    refuse_unused_in_spec(spec, KIND, CLONE_FIELDS, where)
    source, target = part(spec.get("source"), "spec.source"), part(spec.get("target"), "spec.target")
    settings = part(spec.get("options"), "spec.options")
    if not source.get("vmRef"):
        raise SpecError("%s, field spec.source.vmRef: name the VM to clone" % where, option=OPTION)
    if target.get("namespace") not in (None, manifest.namespace):
        raise SpecError("%s, field spec.target.namespace: the clone is made in namespace '%s'"
                        % (where, manifest.namespace), option=OPTION)
    kind = settings.get("type", "FullClone")
    if kind not in LINKED:
        raise SpecError("%s, field spec.options.type: %s is not made here; give FullClone or LinkedClone"
                        % (where, kind), option=OPTION)
    if params["linked_clone"] and not LINKED[kind]:
        raise SpecError("the VMClone's spec.options.type says the kind of copy; leave linked_clone out",
                        option="linked_clone")
    state = params["state"]
    if state not in ("present", "absent"):
        raise SpecError("with a VMClone, state is present or absent; its spec.options.powerOn says whether the "
                        "clone is started", option="state")
    if state == "present" and settings.get("powerOn"):
        state = "started"
    return {"name": target["name"], "clone_from": source["vmRef"]["name"], "linked_clone": LINKED[kind],
            "state": state}
