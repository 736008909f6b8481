# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run every benchmark in bench/, or some, and write one JSON file and one Markdown table of their figures.

    python3 bench/run.py                                  # every benchmark, with its own defaults
    python3 bench/run.py grpc_describe 'inventory --sizes 2000,10000'
    python3 bench/run.py --list

A benchmark is any ``bench/*.py`` but this file and ``benchlib.py``: drop a script in and it is registered.  A
name may carry the script's arguments after it, in one shell word.  Each runs as its own process, with the
collection tree built (``scripts/lib.sh``'s ``build_tree``) and on ``PYTHONPATH`` and
``ANSIBLE_COLLECTIONS_PATH``; its output goes to the terminal and to ``OUT/NAME.log``.  The figures it reports
with ``benchlib.figure`` (value, floor, ratio, goal, met) go to ``OUT/bench.json`` and ``OUT/bench.md``, with
the ansible-core and Python versions and the core count.  ``OUT`` is ``~/.cache/virtrigaud/bench`` unless
``--out`` names another folder.  The exit status is 1 when a benchmark failed.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

import benchlib

BENCH = pathlib.Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = pathlib.Path(os.environ.get("VIRTRIGAUD_CACHE", pathlib.Path.home() / ".cache" / "virtrigaud"))
NOT_BENCHMARKS = {"run", "benchlib"}


def registry() -> dict[str, str]:
    """Every benchmark by name, with the first line of its docstring."""
    found = {}
    for path in sorted(BENCH.glob("*.py")):
        if path.stem in NOT_BENCHMARKS or path.stem.startswith("_"):
            continue
        summary = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        found[path.stem] = summary.strip().split("\n", 1)[0]
    return found


def build_tree() -> pathlib.Path:
    subprocess.run(["bash", "-c", 'source scripts/lib.sh && build_tree'], cwd=REPO, check=True)
    return pathlib.Path(os.environ.get("VIRTRIGAUD_TREE", CACHE / "collections"))


def run_one(name: str, arguments: list[str], out: pathlib.Path, env: dict[str, str]) -> dict[str, Any]:
    print("\n==> bench %s %s" % (name, " ".join(arguments)), flush=True)
    with tempfile.NamedTemporaryFile(prefix="bench-%s-" % name, suffix=".jsonl", delete=False) as handle:
        results = pathlib.Path(handle.name)
    log = out / ("%s.log" % name)
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as sink:
        process = subprocess.Popen([sys.executable, str(BENCH / ("%s.py" % name))] + arguments, cwd=REPO,
                                   env=dict(env, **{benchlib.RESULTS: str(results)}), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sink.write(line)
        returncode = process.wait()
    figures = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    results.unlink()
    return {"name": name, "arguments": arguments, "returncode": returncode,
            "seconds": round(time.perf_counter() - started, 1), "log": str(log), "figures": figures}


def cell(value: Optional[float], unit: str = "") -> str:
    if value is None:
        return ""
    text = ("%.3g" % value) if abs(value) < 1000 else ("{:,.0f}".format(value))
    return "%s %s" % (text, unit) if unit else text


def markdown(report: dict[str, Any]) -> str:
    lines = ["Benchmarks, %s, %s" % (report["started"], benchlib.describe(report["environment"])), "",
             "| benchmark | figure | value | floor | ratio | goal | met |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for bench in report["benchmarks"]:
        if bench["returncode"] != 0:
            lines.append("| %s | failed (exit %d), see %s | | | | | |"
                         % (bench["name"], bench["returncode"], bench["log"]))
        if not bench["figures"] and bench["returncode"] == 0:
            lines.append("| %s | no figures reported (printed only), see %s | | | | | |"
                         % (bench["name"], bench["log"]))
        for row in bench["figures"]:
            floor = cell(row["floor"], row["unit"])
            if floor and row.get("floor_name"):
                floor += " (%s)" % row["floor_name"]
            ratio = "%.2fx" % row["ratio"] if row["ratio"] is not None else ""
            met = {True: "yes", False: "**no**", None: ""}[row["met"]]
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                bench["name"], row["figure"], cell(row["value"], row["unit"]), floor, ratio, row["goal"], met))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmarks", nargs="*", help="names, each optionally with its arguments: 'NAME ARGS...'")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--out", type=pathlib.Path, default=CACHE / "bench", help="where the results go")
    args = parser.parse_args()
    known = registry()
    if args.list:
        for name, summary in known.items():
            print("%-20s %s" % (name, summary))
        return 0
    chosen = [shlex.split(word) for word in args.benchmarks] or [[name] for name in known]
    unknown = [words[0] for words in chosen if words[0] not in known]
    if unknown:
        parser.error("no benchmark %s; there are: %s" % (", ".join(unknown), ", ".join(known)))
    args.out.mkdir(parents=True, exist_ok=True)
    benchlib.print_environment()
    tree = build_tree()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tree),
               PYTHONPATH=os.pathsep.join(filter(None, [str(tree), str(REPO / "runtime"),
                                                        os.environ.get("PYTHONPATH", "")])))
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "environment": benchlib.environment(),
              "benchmarks": [run_one(words[0], words[1:], args.out, env) for words in chosen]}
    (args.out / "bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = markdown(report)
    (args.out / "bench.md").write_text(table, encoding="utf-8")
    print("\n" + table)
    print("written: %s and %s" % (args.out / "bench.json", args.out / "bench.md"))
    return 1 if any(bench["returncode"] != 0 for bench in report["benchmarks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
