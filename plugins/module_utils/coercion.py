# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Catch what Ansible's option checks let through: a list or a dictionary given where a string goes.

Ansible turns such a value into its Python text (``['#cloud-config']``) without a word, so a
``user_data`` given as a list would reach the guest as that text.  Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .errors import SpecError


def container_for_string(spec: Mapping[str, Any], params: Mapping[str, Any], prefix: str = "") -> Optional[SpecError]:
    """The error for the first option of type str (or list element of type str) given a list or a dictionary."""
    for name, option in spec.items():
        for key in [name, *(option.get("aliases") or ())]:
            if key in params:
                found = _check(option, params[key], prefix + name)
                if found is not None:
                    return found
    return None


def _check(option: Mapping[str, Any], value: Any, path: str) -> Optional[SpecError]:
    kind = option.get("type", "str")
    if kind == "str":
        return _refuse(value, path)
    if kind == "dict" and option.get("options") and isinstance(value, Mapping):
        return container_for_string(option["options"], value, path + ".")
    if kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            where = "%s[%d]" % (path, index)
            if option.get("elements") == "str" and _refuse(item, where) is not None:
                return _refuse(item, where)
            if option.get("elements") == "dict" and option.get("options") and isinstance(item, Mapping):
                found = container_for_string(option["options"], item, where + ".")
                if found is not None:
                    return found
    return None


def _refuse(value: Any, path: str) -> Optional[SpecError]:
    if isinstance(value, (list, tuple, Mapping)):
        what = "a dictionary" if isinstance(value, Mapping) else "a list"
        return SpecError("expected a string, got %s" % what, option=path)
    return None
