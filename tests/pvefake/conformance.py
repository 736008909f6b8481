# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the fake against the official PVE API schema, both ways, and every request a run sent.

  python -m pvefake.conformance SCHEMA [REQUEST_LOG]

Fails when a route or method the fake serves is not in the schema, when a
parameter it accepts is undeclared there or has another type, format, enum or
range, when the schema requires a parameter the fake does not, and when a
recorded request does not validate against the schema itself.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Mapping

from .api import BEYOND_SUBSET_ROUTES, ROUTES, Param, ParamError, SubKey, declared, validate

_KNOWN_FORMATS = {"pve-vmid", "pve-node", "pve-configid", "pve-storage-id", "urlencoded", "dns-name", "pve-tag-list",
                  "pve-configid-list", "pve-hotplug-features", "pve-realm", "pve-poolid"}


def schema_params(properties: Mapping[str, Any]) -> dict[str, Param]:
    """The schema's parameters as the fake's declarations, for validating recorded requests."""
    params = {}
    for name, prop in properties.items():
        fmt = prop.get("format")
        if isinstance(fmt, dict):
            fmt = ("property-string", _sub_keys(fmt))
        elif fmt not in _KNOWN_FORMATS:
            fmt = None
        params[name] = Param(prop.get("type", "string"), fmt, optional=bool(prop.get("optional")),
                             enum=tuple(prop.get("enum") or ()), minimum=_number(prop.get("minimum")),
                             maximum=_number(prop.get("maximum")), max_length=prop.get("maxLength"),
                             pattern=prop.get("pattern"))
    return params


def _sub_keys(fmt: Mapping[str, Any]) -> dict[str, SubKey]:
    keys = {}
    for name, prop in fmt.items():
        if prop.get("alias") == "macaddr":
            keys[name] = SubKey("mac-alias")
        elif prop.get("alias"):
            keys[name] = SubKey("string")
        else:
            kind = prop.get("type", "string")
            keys[name] = SubKey(kind if kind in ("boolean", "integer", "number") else "string",
                                default_key=bool(prop.get("default_key")), enum=tuple(prop.get("enum") or ()))
    return keys


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, (int, str)) and re.match(r"^-?\d+$", str(value)) else None


def _endpoints(schema: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, e["path"]): info.get("parameters", {}).get("properties", {})
            for e in schema["endpoints"] for method, info in e.get("info", {}).items()}


def check_routes(schema: Mapping[str, Any]) -> list[str]:
    problems = []
    endpoints = _endpoints(schema)
    for route in ROUTES:
        where = "%s %s" % (route.method, route.path)
        props = endpoints.get((route.method, route.path))
        if props is None:
            problems.append("%s: not in the schema" % where)
            continue
        for name, mine in route.params.items():
            theirs = props.get(name)
            if theirs is None:
                problems.append("%s: parameter '%s' is not in the schema" % (where, name))
                continue
            problems += ["%s: parameter '%s' %s" % (where, name, p) for p in _compare(mine, theirs)]
        for name, theirs in props.items():
            if not theirs.get("optional") and name not in route.params:
                problems.append("%s: the schema requires '%s', the fake does not accept it" % (where, name))
    problems += ["%s %s: now in the schema; move it to ROUTES" % (r.method, r.path)
                 for r in BEYOND_SUBSET_ROUTES if (r.method, r.path) in endpoints]
    return problems


def _compare(mine: Param, theirs: Mapping[str, Any]) -> list[str]:
    problems = []
    if mine.type != theirs.get("type"):
        problems.append("has type %s, the schema %s" % (mine.type, theirs.get("type")))
    fmt = theirs.get("format")
    if isinstance(mine.format, tuple):
        if not isinstance(fmt, dict):
            problems.append("is a property string, the schema's format is %r" % (fmt,))
    elif mine.format != (fmt if isinstance(fmt, str) else None):
        problems.append("has format %r, the schema %r" % (mine.format, fmt))
    if mine.optional != bool(theirs.get("optional")):
        problems.append("is %s, the schema has it %s" % (
            "optional" if mine.optional else "required", "optional" if theirs.get("optional") else "required"))
    if set(mine.enum) - set(theirs.get("enum") or ()):
        problems.append("accepts %s, which the schema's enum lacks" % sorted(set(mine.enum) - set(theirs["enum"])))
    for key, value in (("minimum", mine.minimum), ("maximum", mine.maximum), ("maxLength", mine.max_length)):
        if value is not None and _number(theirs.get(key)) != value:
            problems.append("has %s %s, the schema %s" % (key, value, theirs.get(key)))
    if mine.pattern and mine.pattern != theirs.get("pattern"):
        problems.append("has pattern %r, the schema %r" % (mine.pattern, theirs.get("pattern")))
    return problems


def check_requests(schema: Mapping[str, Any], lines: list[str]) -> tuple[int, list[str]]:
    endpoints = {key: schema_params(props) for key, props in _endpoints(schema).items()}
    # Routes beyond the subset are held to the fake's own declaration, from PVE's public API viewer.
    endpoints.update({(route.method, route.path): dict(route.params) for route in BEYOND_SUBSET_ROUTES})
    problems, seen = [], set()
    for line in lines:
        request = json.loads(line)
        where = "%s %s" % (request["method"], request["path"])
        params = endpoints.get((request["method"], request["path"]))
        if params is None:
            problems.append("%s: sent, but not in the schema" % where)
            continue
        values = {k: v for k, v in request["params"].items() if v != "<secret>"}
        values.update({k: "x" for k, v in request["params"].items() if v == "<secret>"})
        unknown = [k for k in values if declared(k, params) is None]
        if unknown:
            problems.append("%s: sent %s, which the schema does not declare" % (where, ", ".join(unknown)))
            continue
        try:
            validate(values, params)
        except ParamError as err:
            text = "%s: %s" % (where, "; ".join("%s: %s" % kv for kv in sorted(err.errors.items())))
            if text not in seen:
                problems.append(text)
                seen.add(text)
    return len(lines), problems


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        schema = json.load(handle)
    problems = check_routes(schema)
    print("fake PVE: %d routes checked against the schema; %d beyond the subset (%s) against the public API "
          "viewer only" % (len(ROUTES), len(BEYOND_SUBSET_ROUTES), ", ".join(r.path for r in BEYOND_SUBSET_ROUTES)))
    if len(sys.argv) > 2:
        with open(sys.argv[2], encoding="utf-8") as handle:
            count, request_problems = check_requests(schema, handle.read().splitlines())
        print("fake PVE: %d recorded requests checked against the schema" % count)
        problems += request_problems
    for problem in problems:
        print("  drift: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
