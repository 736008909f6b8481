"""Fail when a module option appears in no integration scenario or bad-input case and is not allow-listed.

Every option of every module must be exercised somewhere on a real backend:
as a key in the integration targets, their per-backend configs and bad-input
tables, the other test plays, the example playbooks or the roles (which the
Kubernetes leg runs).  tests/coverage/allowed.yml
lists the exceptions, each with its reason.  Run with the collection tree on
PYTHONPATH.
"""

import importlib
import pathlib
import sys

import yaml

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec

PREFIX = "virtrigaud.core."
PLACES = ("tests/integration", "tests/isolation", "tests/container", "tests/awx", "playbooks", "roles")


def option_paths(spec, parent=""):
    for name, option in spec.items():
        path = parent + name
        yield path
        yield from option_paths(option.get("options") or {}, path + ".")


def keys_of(node):
    """Every mapping key anywhere in a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from keys_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from keys_of(item)


def documents(repo):
    for place in PLACES:
        for path in sorted((repo / place).rglob("*.y*ml")):
            try:
                yield path, list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError as err:
                sys.exit("%s is not valid YAML: %s" % (path, err))


def main():
    repo = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    allowed = yaml.safe_load((repo / "tests" / "coverage" / "allowed.yml").read_text()) or {}
    used = {key for dummy, docs in documents(repo) for key in keys_of(docs)}
    # The group's connection options are every module's: checked once.
    group = group_spec()
    tables = [("connection", group)]
    for source in sorted((repo / "plugins" / "modules").glob("*.py")):
        module = source.stem
        spec = importlib.import_module("ansible_collections.virtrigaud.core.plugins.modules." + module).argument_spec()
        tables.append((module, {name: option for name, option in spec.items() if name not in group}))
    missing, stale, total = [], [], 0
    for module, spec in tables:
        exceptions = allowed.get(module) or {}
        for path in option_paths(spec):
            total += 1
            covered = path.rsplit(".", 1)[-1] in used
            if not covered and path not in exceptions:
                missing.append("%s: %s" % (module, path))
            elif covered and path in exceptions:
                stale.append("%s: %s is exercised now; drop it from tests/coverage/allowed.yml" % (module, path))
    if missing or stale:
        sys.exit("options that no scenario or bad-input case exercises:\n  " + "\n  ".join(missing + stale))
    print("option coverage: %d options (%d modules and the shared connection options) exercised on real backends; "
          "%d allow-listed with a reason" % (total, len(tables) - 1, sum(len(v or {}) for v in allowed.values())))


main()
