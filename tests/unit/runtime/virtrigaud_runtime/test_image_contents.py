# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every collection file the runtime imports is sent to the image build and copied into the image."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[4]
IMPORT = re.compile(
    r"ansible_collections\.virtrigaud\.core\.(plugins(?:\.\w+)+?)\s+import"
    r"|ansible_collections\.virtrigaud\.core\.(plugins(?:\.\w+)+)"
)


def collection_files_imported_by_runtime() -> set[str]:
    files = set()
    for source in (ROOT / "runtime" / "virtrigaud_runtime").rglob("*.py"):
        for match in IMPORT.finditer(source.read_text(encoding="utf-8")):
            dotted = match.group(1) or match.group(2)
            path = dotted.replace(".", "/")
            files.add(path + ".py" if (ROOT / (path + ".py")).is_file() else path)
    return files


def covered(path: str, prefixes: list[str]) -> bool:
    return any(path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


def test_runtime_imports_reach_the_image():
    containerfile = (ROOT / "runtime" / "Containerfile").read_text(encoding="utf-8")
    copied = re.findall(r"^COPY\s+(\S+)\s", containerfile, re.M)
    ignore_rules = (ROOT / ".containerignore").read_text(encoding="utf-8").splitlines()
    sent = [rule[1:] for rule in ignore_rules if rule.startswith("!")]
    imported = collection_files_imported_by_runtime()
    assert imported, "the runtime imports nothing from the collection: the pattern above went stale"
    assert sorted(path for path in imported if not covered(path, copied)) == [], "not copied by runtime/Containerfile"
    assert sorted(path for path in imported if not covered(path, sent)) == [], "left out by .containerignore"
