# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write each bad inventory file of a table into DIR and run ``ansible-inventory --list`` on it.

``bad_files.py DIR < cases.json`` prints ``{id: {"rc": ..., "stderr": ...}}``.  The files are written as
templates/inventory.yml.j2 writes them.  ansible-inventory runs once per file, as a user would run it, a few
at a time: each run is mostly the interpreter starting, so the table takes the time of one run per core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def write(folder: str, case: dict) -> str:
    path = os.path.join(folder, "bad-%s.virtrigaud.yml" % case["id"])
    lines = ["plugin: virtrigaud.core.virtrigaud", "sources: %s" % json.dumps(case["sources"])]
    lines += ["%s: %s" % (key, json.dumps(value)) for key, value in case.get("options", {}).items()]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


def run(path: str) -> dict:
    done = subprocess.run(["ansible-inventory", "-i", path, "--list"], capture_output=True, text=True, check=False)
    return {"rc": done.returncode, "stderr": done.stderr}


def main() -> None:
    folder, cases = sys.argv[1], json.load(sys.stdin)
    paths = [write(folder, case) for case in cases]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(run, paths))
    print(json.dumps({case["id"]: result for case, result in zip(cases, results)}))


if __name__ == "__main__":
    main()
