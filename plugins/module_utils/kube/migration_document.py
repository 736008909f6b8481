# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VMMigration manifest, read for virtrigaud_vm_migration (pure: no I/O).

virtrigaud_vm_migration moves a VM within one backend.  A VMMigration says where the VM goes through its
``target.placementRef``: the VMPlacementPolicy given beside it names one host (``hard.hosts``) and one datastore
(``hard.datastores``).  The VM keeps its name and its provider; every field that asks for more (a new name,
another Provider, staging storage, a new class or disks) is refused by its path, unless at its schema default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..errors import SpecError
from .manifests import (
    OPTION,
    by_kind,
    describe,
    load,
    name_of,
    only,
    part,
    referenced,
    refuse_unused_in_spec,
    validate,
)

KINDS = ("VMMigration", "VMPlacementPolicy")
# The fields carried out; spec.metadata only describes the migration (who, why) and asks for nothing.
MIGRATION_FIELDS = ("source.vmRef.name", "source.providerRef", "target.name", "target.namespace", "target.providerRef",
                    "target.placementRef.name", "metadata")
POLICY_FIELDS = ("hard.hosts", "hard.datastores", "priority", "weight")


@dataclass(frozen=True)
class MigrationManifest:
    """The documents in the order to apply them (the VMMigration last), and its namespace."""

    documents: tuple[dict[str, Any], ...]
    namespace: str


def read(definition: Any) -> MigrationManifest:
    """The VMMigration of ``definition`` with the VMPlacementPolicy it names, each checked against its CRD."""
    documents = load(definition)
    validate(documents, KINDS)
    migration = only(documents, "VMMigration")
    policy = _policy_name(migration)
    for document in documents:
        if document is not migration and name_of(document) != policy:
            raise SpecError("%s: %s does not refer to it; leave it out" % (describe(document), describe(migration)),
                            option=OPTION)
    namespace = str(part(migration.get("metadata"), "metadata").get("namespace") or "default")
    others = tuple(document for document in documents if document is not migration)
    return MigrationManifest(others + (migration,), namespace)


def _policy_name(migration: dict[str, Any]) -> Optional[str]:
    target = part(part(migration.get("spec"), "spec").get("target"), "spec.target")
    name = part(target.get("placementRef"), "spec.target.placementRef").get("name")
    return str(name) if name else None


def options(manifest: MigrationManifest) -> dict[str, Any]:
    """virtrigaud_vm_migration's vm_name and target for a move within the VM's own backend."""
    migration = manifest.documents[-1]
    where = describe(migration)
    spec = part(migration.get("spec"), "spec")
    refuse_unused_in_spec(spec, "VMMigration", MIGRATION_FIELDS, where)
    source, target = part(spec.get("source"), "spec.source"), part(spec.get("target"), "spec.target")
    vm_name = source["vmRef"]["name"]
    _same(where, "spec.target.name", target["name"], vm_name, "the VM keeps its name (spec.source.vmRef.name)")
    if source.get("providerRef"):
        _same(where, "spec.target.providerRef", _ref(target["providerRef"], manifest.namespace),
              _ref(source["providerRef"], manifest.namespace), "a move within one backend stays on "
              "spec.source.providerRef; moving to another Provider is not done by this module")
    if target.get("namespace") not in (None, manifest.namespace):
        raise SpecError("%s, field spec.target.namespace: the VM stays in namespace '%s'"
                        % (where, manifest.namespace), option=OPTION)
    policy = referenced(by_kind(manifest.documents), "VMPlacementPolicy", target.get("placementRef"),
                        where + " spec.target.placementRef")
    if policy is None:
        raise SpecError("%s, field spec.target.placementRef: name the VMPlacementPolicy that says where the VM goes "
                        "(its spec.hard.hosts and spec.hard.datastores)" % where, option=OPTION)
    policy_where = "VMPlacementPolicy '%s'" % target["placementRef"]["name"]
    refuse_unused_in_spec(policy, "VMPlacementPolicy", POLICY_FIELDS, policy_where)
    hard = part(policy.get("hard"), "spec.hard")
    goes = {"host": _one(hard.get("hosts"), policy_where, "hosts"),
            "datastore": _one(hard.get("datastores"), policy_where, "datastores")}
    if not any(goes.values()):
        raise SpecError("%s: say where the VM goes in spec.hard.hosts, spec.hard.datastores or both" % policy_where,
                        option=OPTION)
    return {"vm_name": vm_name, "target": dict(goes, provider_type=None)}


def _ref(ref: dict[str, Any], namespace: str) -> tuple[str, str]:
    return str(ref["name"]), str(ref.get("namespace") or namespace)


def _same(where: str, field: str, given: Any, wanted: Any, why: str) -> None:
    if given != wanted:
        raise SpecError("%s, field %s: %s" % (where, field, why), option=OPTION)


def _one(names: Any, where: str, key: str) -> Optional[str]:
    """The one entry of a policy's hard list, the place a move goes to; None when the list is empty."""
    listed = list(names or ())
    if len(listed) > 1:
        raise SpecError("%s, field spec.hard.%s: a move goes to one place; list exactly one" % (where, key),
                        option=OPTION)
    return str(listed[0]) if listed else None


def as_resources(manifest: MigrationManifest) -> list[dict[str, Any]]:
    """The documents as server-side apply writes them: each in the VMMigration's namespace."""
    return [dict(document, metadata=dict(document["metadata"], namespace=manifest.namespace))
            for document in manifest.documents]
