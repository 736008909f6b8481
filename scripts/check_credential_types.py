"""Fail when an AWX credential type in docs/awx injects a variable no plugin documents."""

import pathlib
import re
import sys

import yaml

repo = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
documented = set()
for source in list((repo / "plugins").rglob("*.py")):
    documented.update(re.findall(r"E\(([A-Z0-9_]+)\)", source.read_text()))

problems = []
types = sorted((repo / "docs" / "awx" / "credential_types").glob("*.yml"))
for path in types:
    credential = yaml.safe_load(path.read_text())
    fields = {field["id"] for field in credential["inputs"]["fields"]}
    for name, value in credential["injectors"].get("env", {}).items():
        if name not in documented:
            problems.append("%s injects %s, which no plugin documents" % (path.name, name))
        for used in re.findall(r"{{\s*(\w+)\s*}}", str(value)):
            if used not in fields:
                problems.append("%s: %s uses unknown input %s" % (path.name, name, used))
if problems or not types:
    sys.exit("\n".join(problems) or "no credential types found")
print("%d credential types inject only documented variables" % len(types))
