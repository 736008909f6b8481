"""Fail when a module is missing from the `virtrigaud` action group in meta/runtime.yml."""

import pathlib
import sys

import yaml

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
modules = sorted(p.stem for p in (root / "plugins/modules").glob("*.py") if not p.stem.startswith("_"))
group = yaml.safe_load((root / "meta/runtime.yml").read_text())["action_groups"]["virtrigaud"]
missing = sorted(set(modules) - set(group))
unknown = sorted(set(group) - set(modules))
if missing or unknown:
    sys.exit("action group 'virtrigaud': missing %s, unknown %s" % (missing, unknown))
print("action group 'virtrigaud' lists all %d modules" % len(modules))
