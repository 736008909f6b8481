# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A vitistack ``MachineProvider`` and its credentials Secret from virtrigaud_machineprovider's options, or from a
``definition``, checked against the vendored CRD's schema before anything is written (pure: no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..errors import SpecError
from .provider import check_name, secret_object
from .schema_check import check, from_options, same, snake
from .vitistack_schema import API_VERSION, SPEC_SCHEMA

KIND = "MachineProvider"
OWNER_LABEL = "virtrigaud.core/machineprovider"
# The spec's fields, as module options of the same name in snake_case.
SPEC_OPTIONS = tuple(snake(name) for name in sorted(SPEC_SCHEMA["properties"]))
# Fields of the older vitistack documentation's shape, and the CRD's names for them.
LEGACY_NAMES = {"type": "providerType", "availabilityZones": "zones", "networkConfig": "network",
                "storageConfig": "storage", "computeConfig": "compute"}
# Auth types of the older documentation that the CRD has no counterpart for.
LEGACY_AUTH_TYPES = ("apikey", "oauth2")


@dataclass(frozen=True)
class Wanted:
    """The objects one run writes, and what translating an older definition renamed (one warning each)."""

    machine_provider: dict[str, Any]
    secret: Optional[dict[str, Any]] = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def wanted(params: Mapping[str, Any]) -> Wanted:
    """The MachineProvider (and its Secret when the task gives credentials) from the module's options."""
    name = check_name(params["name"], "name", 253)
    given = [option for option in SPEC_OPTIONS if params.get(option) is not None]
    if params.get("definition") is not None:
        if given:
            raise SpecError("give the spec's fields in definition or as options, not both (also given: %s)"
                            % ", ".join(given), option="definition")
        spec, warnings = spec_from_definition(name, params["definition"])
        secret = None
    else:
        spec, secret = _spec_from_options(name, params)
        warnings = []
    metadata = {key: value for key, value in (("name", name), ("labels", params.get("labels")),
                                              ("annotations", params.get("annotations"))) if value}
    return Wanted({"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}, secret,
                  tuple(warnings))


def _spec_from_options(name: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], Optional[dict[str, Any]]]:
    values = {option: params[option] for option in SPEC_OPTIONS if params.get(option) is not None}
    authentication = dict(values.get("authentication") or {})
    credentials = authentication.pop("credentials", None)
    if "authentication" in values:
        values["authentication"] = authentication
    spec = from_options(values, SPEC_SCHEMA, "")
    secret = None
    if credentials is not None:
        reference = dict((spec.get("authentication") or {}).get("credentialsRef") or {})
        reference.setdefault("secretName", "%s-credentials" % name)
        reference.setdefault("namespace", "default")
        check_name(reference["secretName"], "authentication.credentials_ref.secret_name", 253)
        check_name(reference["namespace"], "authentication.credentials_ref.namespace")
        spec["authentication"]["credentialsRef"] = reference
        secret = secret_object(name, reference["namespace"], reference["secretName"],
                               _texts(credentials, "authentication.credentials"), OWNER_LABEL)
    check(spec, SPEC_SCHEMA, "", snake)
    return spec, secret


def _texts(credentials: Any, option: str) -> dict[str, str]:
    if not isinstance(credentials, Mapping) or not credentials:
        raise SpecError("give the Secret's keys and their values", option=option)
    for key, value in credentials.items():
        if isinstance(value, (Mapping, list)) or value is None:
            raise SpecError("the value of key %s is %s; give its text" % (key, type(value).__name__), option=option)
    return {str(key): str(value) for key, value in credentials.items()}


def spec_from_definition(name: str, definition: Any) -> tuple[dict[str, Any], list[str]]:
    """The spec of a whole MachineProvider as given, translated from the older documented shape when it is in
    that shape, and checked against the CRD's schema."""
    if not isinstance(definition, Mapping):
        raise SpecError("give a MachineProvider as a mapping", option="definition")
    for key, wanted_value in (("apiVersion", API_VERSION), ("kind", KIND)):
        if definition.get(key) not in (None, wanted_value):
            raise SpecError("%r is not %s" % (definition[key], wanted_value), option="definition.%s" % key)
    extra = sorted(set(definition) - {"apiVersion", "kind", "metadata", "spec"})
    if extra:
        raise SpecError("a MachineProvider here has apiVersion, kind, metadata and spec only (status is written "
                        "through its subresource)", option="definition.%s" % extra[0])
    metadata = definition.get("metadata") or {}
    if metadata.get("name") not in (None, name):
        raise SpecError("%r differs from the option name, %r" % (metadata["name"], name),
                        option="definition.metadata.name")
    if metadata.get("namespace"):
        raise SpecError("MachineProvider is cluster-scoped; it has no namespace",
                        option="definition.metadata.namespace")
    spec = definition.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("is required, as a mapping", option="definition.spec")
    translated, warnings = translate_legacy(name, spec)
    check(translated, SPEC_SCHEMA, "definition.spec", same)
    return translated, warnings


def translate_legacy(name: str, spec: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The CRD's shape of a spec written from the older vitistack documentation, with one warning per renamed
    field; a field with no counterpart is refused by name."""
    translated = dict(spec)
    warnings: list[str] = []
    for old, new in LEGACY_NAMES.items():
        if old not in translated:
            continue
        where = "definition.spec.%s" % old
        if new in translated:
            raise SpecError("the older name of %s, given beside it; keep one" % new, option=where)
        translated[new] = translated.pop(old)
        # Checked here, so that an error names the field as the definition gives it.
        check(translated[new], SPEC_SCHEMA["properties"][new], where, same)
        warnings.append("%s is the older vitistack documentation's name; written as spec.%s" % (where, new))
    auth_type = (translated.get("authentication") or {}).get("type") if isinstance(
        translated.get("authentication"), Mapping) else None
    if auth_type in LEGACY_AUTH_TYPES:
        raise SpecError("%r is an auth type of the older vitistack documentation that the CRD lacks, with no "
                        "counterpart; use credentials with a credentialsRef, or token" % auth_type,
                        option="definition.spec.authentication.type")
    if warnings and not translated.get("displayName"):
        translated["displayName"] = name
        warnings.append("definition.spec.displayName, which the CRD requires and the older documentation lacks, "
                        "is the MachineProvider's name, %s" % name)
    config = translated.get("config")
    if warnings and isinstance(config, Mapping) and any(_typed(value) for value in config.values()):
        translated["config"] = {key: _as_text(value) if _typed(value) else value for key, value in config.items()}
        warnings.append("definition.spec.config is a map of strings in the CRD; its numbers and booleans are "
                        "written as text")
    return translated, warnings


def _typed(value: Any) -> bool:
    return isinstance(value, (bool, int, float))


def _as_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
