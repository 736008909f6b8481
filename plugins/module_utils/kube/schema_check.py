# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CRD's structural schema applied before anything is written (pure: no I/O).

One checker, driven by the openAPIV3Schema itself: types, required fields, enums, ranges, lengths, patterns
(quantities among them) and fields the schema lacks (which the API server would prune without a word).  Every
error names the offending field as the user wrote it: in snake_case for module options, as given for a
``definition``.  The same schema maps snake_case option names onto its camelCase field names.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Optional

from ..errors import SpecError

Schema = Mapping[str, Any]
# How a schema field name appears in an error: snake_case for options, unchanged for definitions.
Display = Callable[[str], str]

# Words of a camelCase name; an upper-case run followed by a lower-case "s" is a plural acronym (maxCPUs).
_WORDS = re.compile(r"[A-Z]+s(?![a-z])|[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "object": ("a mapping", lambda value: isinstance(value, Mapping)),
    "array": ("a list", lambda value: isinstance(value, list)),
    "string": ("a string", lambda value: isinstance(value, str)),
    "integer": ("an integer", lambda value: isinstance(value, int) and not isinstance(value, bool)),
    "number": ("a number", lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)),
    "boolean": ("true or false", lambda value: isinstance(value, bool)),
}


def snake(name: str) -> str:
    """The snake_case option name of a schema field: maxCPUs → max_cpus, availableVPCs → available_vpcs."""
    return "_".join(word.lower() for word in _WORDS.findall(name))


def same(name: str) -> str:
    return name


def _join(path: str, key: str) -> str:
    return "%s.%s" % (path, key) if path else key


def from_options(value: Any, schema: Schema, option: str) -> Any:
    """``value`` with every snake_case key of the schema's objects renamed to the schema's own name.

    Keys of free-form maps (``additionalProperties``) are kept as given; a key that names no field is refused,
    naming the fields there are.  ``None`` values are dropped, as options left unset.
    """
    properties = schema.get("properties")
    if isinstance(value, Mapping) and properties:
        names = {snake(name): name for name in properties}
        renamed: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            if key not in names:
                raise SpecError("unknown field; the fields here are %s" % ", ".join(sorted(names)),
                                option=_join(option, key))
            renamed[names[key]] = from_options(item, properties[names[key]], _join(option, key))
        return renamed
    if isinstance(value, Mapping) and isinstance(schema.get("additionalProperties"), Mapping):
        return {key: from_options(item, schema["additionalProperties"], _join(option, str(key)))
                for key, item in value.items() if item is not None}
    if isinstance(value, list) and "items" in schema:
        return [from_options(item, schema["items"], "%s[%d]" % (option, index)) for index, item in enumerate(value)]
    return value


def check(value: Any, schema: Schema, path: str, display: Display = same) -> None:
    """Raise :class:`SpecError` for the first rule of ``schema`` that ``value`` breaks, naming its path."""
    if isinstance(value, bool) and schema.get("type") == "string":
        _refuse_yaml_boolean(value, schema, path)
    if "enum" in schema and value not in schema["enum"]:
        choices = list(dict.fromkeys(schema["enum"]))  # the CRD lists proxmox twice
        raise SpecError("%r is not one of %s" % (value, ", ".join(str(choice) for choice in choices)), option=path)
    # The CRDs write some enums as allOf (VMClone's options.type, VMClass's firmware): each part must hold.
    for part in schema.get("allOf") or ():
        check(value, part, path, display)
    if schema.get("x-kubernetes-int-or-string"):
        _check_int_or_string(value, schema, path)
        return
    kind = schema.get("type")
    if kind in _TYPES:
        described, accepts = _TYPES[kind]
        if not accepts(value):
            raise SpecError("got %s; the schema wants %s" % (_shown(value), described), option=path)
    if kind == "object":
        _check_object(value, schema, path, display)
    elif kind == "array":
        _check_array(value, schema, path, display)
    elif kind == "string":
        _check_string(value, schema, path)
    elif kind in ("integer", "number"):
        _check_range(value, schema, path)


# The words YAML 1.1 (PyYAML, and so Ansible) reads as booleans when they are not quoted.
_YAML11_WORDS = {True: "On, Yes, Y or True", False: "Off, No, N or False"}


def _refuse_yaml_boolean(value: bool, schema: Schema, path: str) -> None:
    """A boolean where a string is wanted: most likely an unquoted On/Off, which YAML 1.1 reads as one."""
    meant = [choice for choice in schema.get("enum") or () if str(choice).lower() in
             _YAML11_WORDS[value].lower().replace(" or ", ", ").split(", ")]
    word = meant[0] if meant else ("On" if value else "Off")
    field = path.rsplit(".", 1)[-1]
    raise SpecError("got the boolean %s, which YAML 1.1 makes of an unquoted %s (any case); quote the word to keep "
                    "it a string, as in %s: \"%s\"" % (str(value).lower(), _YAML11_WORDS[value], field, word),
                    option=path)


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    return "%s %r" % (type(value).__name__, value) if not isinstance(value, (Mapping, list)) else type(value).__name__


def _check_object(value: Mapping[str, Any], schema: Schema, path: str, display: Display) -> None:
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if value.get(name) is None:
            raise SpecError("is required", option=_join(path, display(name)))
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        where = _join(path, display(key) if key in properties else str(key))
        if key in properties:
            check(item, properties[key], where, display)
        elif isinstance(extra, Mapping):
            check(item, extra, where, display)
        elif properties:
            raise SpecError("unknown field; the API server would drop it. The fields here are %s"
                            % ", ".join(sorted(display(name) for name in properties)), option=where)


def _check_array(value: list[Any], schema: Schema, path: str, display: Display) -> None:
    _check_count(len(value), schema.get("minItems"), schema.get("maxItems"), "items", path)
    for index, item in enumerate(value):
        check(item, schema.get("items") or {}, "%s[%d]" % (path, index), display)


def _check_string(value: str, schema: Schema, path: str) -> None:
    _check_count(len(value), schema.get("minLength"), schema.get("maxLength"), "characters", path)
    pattern: Optional[str] = schema.get("pattern")
    if pattern is not None and not re.search(pattern, value):
        raise SpecError("%r does not match the schema's pattern %s" % (value, pattern), option=path)


def _check_int_or_string(value: Any, schema: Schema, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SpecError("got %s; the schema wants an integer or a quantity such as 4Gi" % _shown(value), option=path)
    if isinstance(value, str):
        _check_string(value, schema, path)


def _check_range(value: float, schema: Schema, path: str) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = "%s to %s" % (low, high) if low is not None and high is not None else (
            "at least %s" % low if low is not None else "at most %s" % high)
        raise SpecError("%s is out of range: the schema allows %s" % (value, bounds), option=path)


def _check_count(count: int, low: Optional[int], high: Optional[int], what: str, path: str) -> None:
    if low is not None and count < low:
        raise SpecError("has %d %s; the schema wants at least %d" % (count, what, low), option=path)
    if high is not None and count > high:
        raise SpecError("has %d %s; the schema allows at most %d" % (count, what, high), option=path)
