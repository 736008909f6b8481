# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upstream manifests given as a module's ``definition`` (pure: no I/O).

A definition is what ``kubectl apply`` would take: one document, a list of them, or multi-document YAML text.
Every document of a VirtRigaud kind is checked against its CRD's schema first, so that what the API server
would refuse is refused here, naming the document and the field.  What a module does not carry out is
refused by name too (:func:`refuse_unused`), except a field left at the schema's default.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from ..errors import MissingDependency, SpecError
from .schema_check import check
from .virtrigaud_schema import API_VERSION, SPEC_SCHEMAS

OPTION = "definition"
# metadata.name of every VirtRigaud kind: a DNS-1123 subdomain, as the API server wants it.
_NAME_SCHEMA = {"type": "string", "maxLength": 253,
                "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}

Found = dict[str, dict[Optional[str], dict[str, Any]]]


def part(value: Any, where: str) -> dict[str, Any]:
    """A part of a manifest that must be a mapping when it is there."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError("%s is a %s, not a mapping" % (where, type(value).__name__), option=OPTION)
    return value


def entries(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of mappings, such as a VM's networks or disks."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError("%s is a %s, not a list" % (where, type(value).__name__), option=OPTION)
    return [part(entry, "%s[%d]" % (where, index)) for index, entry in enumerate(value)]


def load(definition: Any) -> list[dict[str, Any]]:
    """The documents of a definition: a mapping, a list of mappings, or YAML text of one or more documents."""
    if isinstance(definition, str):
        definition = _parse_yaml(definition)
    documents = definition if isinstance(definition, list) else [definition]
    for index, document in enumerate(documents):
        if not isinstance(document, dict) or not document.get("kind"):
            raise SpecError("document %d is not a Kubernetes object (it has no kind)" % index, option=OPTION)
    return documents


def _parse_yaml(text: str) -> list[Any]:
    try:
        import yaml  # pylint: disable=import-outside-toplevel  # ships with ansible-core
    except ImportError as err:
        raise MissingDependency("PyYAML", reason="to read a definition given as YAML text",
                                import_error=err) from None
    try:
        return [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as err:
        raise SpecError("is not YAML: %s" % str(err).replace("\n", " "), option=OPTION) from None


def name_of(document: dict[str, Any]) -> str:
    return str(part(document.get("metadata"), "metadata").get("name"))


def describe(document: dict[str, Any]) -> str:
    """How an error names a document: its kind and name."""
    return "%s '%s'" % (document.get("kind"), name_of(document))


def validate(documents: Iterable[dict[str, Any]], kinds: Iterable[str]) -> None:
    """Refuse a document of a kind not among ``kinds``, or one its CRD's schema refuses, naming the field."""
    wanted = list(kinds)
    for document in documents:
        kind = document["kind"]
        if kind not in wanted:
            raise SpecError("%s: this module takes documents of kind %s only" % (describe(document), ", ".join(wanted)),
                            option=OPTION)
        if document.get("apiVersion") != API_VERSION:
            raise SpecError("%s: apiVersion is %r; the CRD serves %s"
                            % (describe(document), document.get("apiVersion"), API_VERSION), option=OPTION)
        metadata = part(document.get("metadata"), "the metadata of %s" % describe(document))
        _checked(metadata.get("name"), _NAME_SCHEMA, document, "metadata.name")
        if metadata.get("namespace") is not None:
            _checked(metadata["namespace"], _NAME_SCHEMA, document, "metadata.namespace")
        _checked(document.get("spec"), SPEC_SCHEMAS[kind], document, "spec")


def _checked(value: Any, schema: dict[str, Any], document: dict[str, Any], path: str) -> None:
    try:
        if value is None and path != "spec":
            raise SpecError("is required", option=path)
        check({} if value is None else value, schema, path)
    except SpecError as err:
        raise SpecError("%s, field %s: %s" % (describe(document), err.option, err.msg), option=OPTION) from None


def by_kind(documents: Iterable[dict[str, Any]]) -> Found:
    """Each document's spec, by kind and name."""
    found: Found = {}
    for document in documents:
        found.setdefault(document["kind"], {})[name_of(document)] = part(document.get("spec"), "spec")
    return found


def only(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The one document of ``kind`` among ``documents``."""
    matching = [document for document in documents if document["kind"] == kind]
    if len(matching) != 1:
        raise SpecError("give exactly one %s document (found %d)" % (kind, len(matching)), option=OPTION)
    return matching[0]


def referenced(found: Found, kind: str, ref: Any, field: str) -> Optional[dict[str, Any]]:
    """The spec of the document that ``ref`` (a ``{name}`` reference in ``field``) names; None without one."""
    if not ref:
        return None
    spec = found.get(kind, {}).get(part(ref, field).get("name"))
    if spec is None:
        raise SpecError("%s names %s '%s', which is not among the documents" % (field, kind, ref.get("name")),
                        option=OPTION)
    return spec


def refuse_unused(value: Any, schema: dict[str, Any], used: Iterable[str], where: str, path: str = "") -> None:
    """Refuse a field of ``value`` that no path of ``used`` covers and that is not at its schema default.

    Paths are dotted, a list's items written ``[]`` (``networks[].name``); a path covers its whole subtree.
    """
    covered = set(used)
    if path in covered:
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, item in value.items():
            inner = "%s.%s" % (path, key) if path else key
            refuse_unused(item, properties.get(key) or {}, covered, where, inner)
        return
    if isinstance(value, list) and any(name.startswith(path + "[]") for name in covered):
        for item in value:
            refuse_unused(item, schema.get("items") or {}, covered, where, path + "[]")
        return
    if "default" in schema and value == schema["default"]:
        return
    raise SpecError("%s: field %s is not carried out by this module%s; leave it out" % (
        where, path, "" if "default" not in schema else " (only its default %r is)" % (schema["default"],)),
        option=OPTION)


def refuse_unused_in_spec(spec: dict[str, Any], kind: str, fields: Iterable[str], where: str) -> None:
    """As :func:`refuse_unused` for a document's spec, naming the field by its whole path (``spec.storage.type``)."""
    refuse_unused(spec, SPEC_SCHEMAS[kind], ["spec." + name for name in fields], where, "spec")


def read_one(definition: Any, kind: str) -> dict[str, Any]:
    """The one document of ``kind`` that ``definition`` holds, checked against its CRD's schema."""
    documents = load(definition)
    validate(documents, (kind,))
    return only(documents, kind)
