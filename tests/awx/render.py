# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render an AWX credential type for one job, the way AWX does before it hands the job to ansible-runner.

What is modelled, from AWX's documented behaviour for custom credential types:

- A type is checked as AWX checks it when it is saved: injector kinds are ``file``, ``env`` and
  ``extra_vars``; file injectors are named ``template`` (one file) or ``template.NAME`` (several, never both);
  every template names only the type's own input fields and ``tower.filename`` entries it declares; no
  ``env`` injector names a variable of Ansible (``ANSIBLE_*``) or one AWX reserves for itself.
- A credential is checked as AWX checks it when it is saved: only the type's fields, and every required one set.
- The templates see the inputs that are set: an empty string is left out (it renders empty), a boolean is kept
  as it is, and a boolean field that is not set at all is False.  A field's ``default`` only fills AWX's form,
  so it does not take part here either.
- Each file injector is rendered into a new file with a random name in the private data dir's ``env/``
  folder, readable by owner and group only, and ``tower.filename.NAME`` (or ``tower.filename``) is that
  file's path as the worker sees the private data dir (AWX's ``/runner``).
- ``env`` injectors become the job's environment; ``extra_vars`` injectors become a YAML file in ``env/``
  passed as ``-e @FILE``, except for inventory updates, which take no extra variables.
- Beside the real values, the same templates are rendered with every secret input as ``**********``: that is
  the environment AWX keeps in its database for the job (``job_env``).

Templates render in Jinja2's immutable sandbox, where an unknown name renders as an empty string.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Mapping

import yaml
from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

HIDDEN = "**********"
KINDS = ("file", "env", "extra_vars")
# AWX sets these itself for every job or inventory update; a credential may not.
RESERVED_VARIABLES = frozenset({
    "PATH", "PYTHONPATH", "VIRTUAL_ENV", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID", "INVENTORY_UPDATE_ID",
    "AD_HOC_COMMAND_ID", "PROJECT_REVISION", "AWX_HOST", "MAX_EVENT_RES",
})
_FILE_LABEL = re.compile(r"template(\.[A-Za-z_][A-Za-z0-9_]*)?")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RENDER = ImmutableSandboxedEnvironment()
_CHECK = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


class CredentialTypeError(ValueError):
    """A credential type or a credential that AWX would refuse to save."""


@dataclass
class Injection:
    """What one credential adds to a job: real values for the job, safe ones for AWX's records."""

    env: dict[str, str] = field(default_factory=dict)
    safe_env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def secret_variables(self) -> tuple[str, ...]:
        """The variables whose value carries a secret input."""
        return tuple(sorted(name for name, value in self.env.items() if self.safe_env.get(name) != value))


def load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    check_type(definition, os.path.basename(path))
    return definition


def check_type(definition: Mapping[str, Any], label: str = "credential type") -> None:
    """Refuse what AWX refuses when a credential type is saved.

    Raises:
        CredentialTypeError: naming the injector and what is wrong with it.
    """
    injectors = definition.get("injectors") or {}
    unknown = sorted(set(injectors) - set(KINDS))
    if unknown:
        raise CredentialTypeError("%s: unknown injector kinds %s; AWX knows %s" % (label, unknown, ", ".join(KINDS)))
    files = list(injectors.get("file") or {})
    for name in files:
        if not _FILE_LABEL.fullmatch(name):
            raise CredentialTypeError("%s: file injector %s is neither template nor template.NAME" % (label, name))
    if "template" in files and len(files) > 1:
        raise CredentialTypeError("%s: several files need the template.NAME form for each" % label)
    for name in injectors.get("env") or {}:
        _check_variable(label, name)
    example: dict[str, Any] = {field_id: "EXAMPLE" for field_id in _fields(definition)}
    example["tower"] = _tower({name: "EXAMPLE" for name in files})
    for kind in KINDS:
        for name, template in (injectors.get(kind) or {}).items():
            try:
                _CHECK.from_string(str(template)).render(example)
            except UndefinedError as err:
                raise CredentialTypeError("%s: %s injector %s uses an undefined name (%s)"
                                          % (label, kind, name, err)) from err


def inject(definition: Mapping[str, Any], inputs: Mapping[str, Any], private_data_dir: str, worker_root: str,
           inventory_update: bool = False) -> Injection:
    """Render one credential of ``definition`` with ``inputs`` into ``private_data_dir``.

    ``worker_root`` is where the worker unpacks the private data dir (AWX's ``/runner``): file paths given to
    the job point there.

    Raises:
        CredentialTypeError: the inputs hold an unknown field or miss a required one.
    """
    _check_inputs(definition, inputs)
    values, safe = _namespaces(definition, inputs)
    injectors = definition.get("injectors") or {}
    injection = Injection()
    for name, template in (injectors.get("file") or {}).items():
        path = _write(private_data_dir, _RENDER.from_string(str(template)).render(values), 0o660)
        injection.files[name] = os.path.join(worker_root, os.path.relpath(path, private_data_dir))
    values["tower"] = safe["tower"] = _tower(injection.files)
    for name, template in (injectors.get("env") or {}).items():
        injection.env[name] = _RENDER.from_string(str(template)).render(values)
        injection.safe_env[name] = _RENDER.from_string(str(template)).render(safe)
    extra_vars = {name: _RENDER.from_string(str(template)).render(values)
                  for name, template in (injectors.get("extra_vars") or {}).items()}
    if extra_vars and not inventory_update:
        path = _write(private_data_dir, yaml.safe_dump(extra_vars, default_flow_style=False), 0o440)
        injection.args += ["-e", "@" + os.path.join(worker_root, os.path.relpath(path, private_data_dir))]
    return injection


def _fields(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {entry["id"]: entry for entry in (definition.get("inputs") or {}).get("fields", [])}


def _check_variable(label: str, name: str) -> None:
    if not _VARIABLE.fullmatch(name):
        raise CredentialTypeError("%s: %s is not an environment variable name" % (label, name))
    if name.startswith("ANSIBLE_") or name in RESERVED_VARIABLES:
        raise CredentialTypeError("%s: %s is reserved; AWX refuses it in a credential type" % (label, name))


def _check_inputs(definition: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    fields = _fields(definition)
    unknown = sorted(set(inputs) - set(fields))
    if unknown:
        raise CredentialTypeError("%s has no fields %s" % (definition.get("name"), ", ".join(unknown)))
    missing = [name for name in (definition.get("inputs") or {}).get("required", []) if inputs.get(name) in ("", None)]
    if missing:
        raise CredentialTypeError("%s requires %s" % (definition.get("name"), ", ".join(missing)))
    for name, value in inputs.items():
        kind = fields[name].get("type", "string")
        if (kind == "boolean") != isinstance(value, bool):
            raise CredentialTypeError("%s: %s must be a %s" % (definition.get("name"), name, kind))


def _namespaces(definition: Mapping[str, Any], inputs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The template namespace of the job and the one with secrets hidden."""
    fields = _fields(definition)
    values: dict[str, Any] = {}
    safe: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, bool):
            values[name] = safe[name] = value
            continue
        if fields[name].get("secret"):
            safe[name] = HIDDEN
        elif value:
            safe[name] = value
        if value:
            values[name] = value
    for name, entry in fields.items():
        if entry.get("type") == "boolean" and name not in inputs:
            values[name] = safe[name] = False
    return values, safe


def _tower(files: Mapping[str, str]) -> SimpleNamespace:
    """The ``tower`` template name: ``tower.filename`` for one file, ``tower.filename.NAME`` for several."""
    if "template" in files:
        return SimpleNamespace(filename=files["template"])
    return SimpleNamespace(filename=SimpleNamespace(**{name.split(".", 1)[1]: path for name, path in files.items()}))


def _write(private_data_dir: str, text: str, mode: int) -> str:
    handle, path = tempfile.mkstemp(dir=os.path.join(private_data_dir, "env"))
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, mode)
    return path
