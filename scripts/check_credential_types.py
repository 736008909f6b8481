"""Fail when an AWX credential type in docs/awx injects a variable its own backend does not read.

Each credential type serves one backend (its file name, with runtime.yml for
the remote provider and kubernetes.yml for the Kubernetes table, which the
Kubernetes modules and the kubevirt backend share).  It may
inject only the variables of that backend's connection table, so that a job
carrying several credentials never hands one backend's secret to another.
Run with the collection tree on PYTHONPATH.
"""

import pathlib
import re
import sys

import yaml

from ansible_collections.virtrigaud.core.plugins.module_utils.providers import connection

BACKEND_OF = {"runtime": "remote"}


def readable(backend):
    """The variables a credential type for ``backend`` may inject, and those that hold secrets."""
    table = connection.KUBERNETES if backend == "kubernetes" else connection.settings_of(backend)
    return {name for s in table for name in s.env}, {name for s in table if s.secret for name in s.env}


repo = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
problems = []
types = sorted((repo / "docs" / "awx" / "credential_types").glob("*.yml"))
for path in types:
    backend = BACKEND_OF.get(path.stem, path.stem)
    allowed, secret_names = readable(backend)
    credential = yaml.safe_load(path.read_text())
    fields = {field["id"]: field for field in credential["inputs"]["fields"]}
    for name, value in credential["injectors"].get("env", {}).items():
        if name not in allowed:
            problems.append("%s injects %s, which %s does not read" % (path.name, name, backend))
        for used in re.findall(r"{{\s*(\w+)\s*}}", str(value)):
            if used not in fields:
                problems.append("%s: %s uses unknown input %s" % (path.name, name, used))
            elif name in secret_names and not fields[used].get("secret"):
                problems.append("%s: input %s feeds the secret %s but is not marked secret" % (path.name, used, name))
if problems or not types:
    sys.exit("\n".join(problems) or "no credential types found")
print("%d credential types inject only their own backend's variables, secrets from secret inputs" % len(types))
