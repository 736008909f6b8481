# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer rules of DESIGN.md, checked on the source: data flows down, third-party imports stay lazy."""

from __future__ import annotations

import ast
import pathlib

import pytest

PLUGINS = pathlib.Path(__file__).resolve().parents[4] / "plugins"
MODULE_UTILS = PLUGINS / "module_utils"
PURE = ["spec.py", "planner.py", "errors.py", "resilience.py", "executor.py", "providers/base.py",
        "providers/connection.py", "providers/nics.py"]
BACKENDS = ["kubevirt", "libvirt", "proxmox", "remote", "vsphere"]
# Each backend folder has the same roles: provider.py (I/O), translate.py (pure), client.py (the connection).
PURE += ["providers/%s/translate.py" % backend for backend in BACKENDS]
# Pure topics split out of a translate.py, each with one job.
PURE += ["providers/kubevirt/%s.py" % topic for topic in ("checks", "reconfiguration", "snapshots")]
PURE += ["providers/libvirt/%s.py" % topic for topic in ("graphics_xml", "storage_xml", "snapshot_xml")]
THIRD_PARTY = {"libvirt", "pyVmomi", "pyVim", "proxmoxer", "grpc", "kubernetes", "requests", "pycdlib", "jmespath"}


def imports(path):
    """(module name, level, inside a function) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    lazy = {id(inner) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for inner in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0, id(node) in lazy) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level, id(node) in lazy))
    return found


@pytest.mark.parametrize("name", PURE)
def test_pure_layers_import_no_ansible_and_no_third_party_library(name):
    for module, level, dummy in imports(MODULE_UTILS / name):
        if level == 0:
            assert module.split(".")[0] not in THIRD_PARTY | {"ansible"}, (name, module)


@pytest.mark.parametrize("path", sorted(MODULE_UTILS.rglob("*.py")), ids=lambda p: str(p.relative_to(PLUGINS)))
def test_module_utils_never_import_modules_or_inventory(path):
    for module, dummy_level, dummy_lazy in imports(path):
        assert "plugins.modules" not in module and "plugins.inventory" not in module


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_folder_has_the_same_roles(backend):
    folder = MODULE_UTILS / "providers" / backend
    assert {"provider.py", "translate.py", "client.py"} <= {path.name for path in folder.glob("*.py")}


def test_backends_load_only_when_their_type_is_used():
    registry = imports(MODULE_UTILS / "providers" / "registry.py")
    backends = [lazy for module, dummy, lazy in registry if module.endswith(("provider", "mock"))]
    assert backends and all(backends)


def test_third_party_imports_in_backends_are_guarded():
    for path in (MODULE_UTILS / "providers").rglob("*.py"):
        tree = ast.parse(path.read_text())
        guarded = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) for n in ast.walk(t)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and node.names[0].name.split(".")[0] in THIRD_PARTY:
                assert id(node) in guarded, "%s imports %s unguarded" % (path.name, node.names[0].name)


def test_only_the_module_host_imports_ansible_module_utils_basic():
    """AnsibleModule lives in module.py alone; the rest takes what it needs from ansible.module_utils.common."""
    for path in sorted(PLUGINS.rglob("*.py")) + sorted((PLUGINS.parent / "runtime").rglob("*.py")):
        for module, dummy_level, dummy_lazy in imports(path):
            assert module != "ansible.module_utils.basic" or path == MODULE_UTILS / "module.py", path
