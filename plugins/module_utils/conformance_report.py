# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a conformance run found (each step's result, the RPCs it made, the load figures), and its report files:
JUnit XML, JSON and Markdown."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional
from xml.etree import ElementTree

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class StepResult:
    name: str
    status: str
    seconds: float
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3), "error": self.error}


@dataclass
class CallRecord:
    method: str
    seconds: float
    code: str


@dataclass
class Report:
    """The outcome of one run: the steps in order, the RPCs they made, and the load figures."""

    endpoint: str
    prefix: str
    steps: list[StepResult] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    capabilities: dict[str, Any] = field(default_factory=dict)
    load: Optional[dict[str, Any]] = None
    leftovers: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for step in self.steps if step.status == status)

    @property
    def ok(self) -> bool:
        return self.count(FAILED) == 0 and not self.leftovers

    def summary(self) -> dict[str, int]:
        return {"total": len(self.steps), PASSED: self.count(PASSED), FAILED: self.count(FAILED),
                SKIPPED: self.count(SKIPPED)}

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "run_prefix": self.prefix, "summary": self.summary(),
                "steps": [step.to_dict() for step in self.steps], "capabilities": self.capabilities,
                "load": self.load, "leftovers": self.leftovers}


def markdown(report: Report) -> str:
    summary = report.summary()
    counts = (summary["total"], summary[PASSED], summary[FAILED], summary[SKIPPED])
    lines = ["## Conformance of %s (run %s)" % (report.endpoint, report.prefix), "",
             "%d steps: %d passed, %d failed, %d skipped" % counts, "",
             "| step | result | time (s) | error or reason |", "| --- | --- | ---: | --- |"]
    for step in report.steps:
        lines.append("| %s | %s | %.2f | %s |" % (step.name, step.status, step.seconds,
                                                  step.error.replace("|", "\\|").replace("\n", " ")))
    if report.load:
        load = report.load
        lines += ["", "Load: %d clients for %.1f s: %d requests, %.1f/s, p50 %.1f ms, p99 %.1f ms, %d errors"
                  % (load["clients"], load["seconds"], load["requests"], load["throughput_per_second"],
                     load["p50_ms"], load["p99_ms"], load["errors"])]
    if report.leftovers:
        lines += ["", "Left behind after cleanup: %s" % ", ".join(report.leftovers)]
    return "\n".join(lines) + "\n"


def junit(report: Report) -> str:
    summary = report.summary()
    suite = ElementTree.Element("testsuite", name="virtrigaud-conformance", tests=str(summary["total"]),
                                failures=str(summary[FAILED]), skipped=str(summary[SKIPPED]), errors="0",
                                time="%.3f" % sum(step.seconds for step in report.steps))
    for step in report.steps:
        case = ElementTree.SubElement(suite, "testcase", classname="conformance", name=step.name,
                                      time="%.3f" % step.seconds)
        if step.status == FAILED:
            ElementTree.SubElement(case, "failure", message=step.error)
        elif step.status == SKIPPED:
            ElementTree.SubElement(case, "skipped", message=step.error)
    return ElementTree.tostring(suite, encoding="unicode") + "\n"


def write_reports(report: Report, folder: str) -> dict[str, str]:
    """The JUnit XML, JSON and Markdown files in ``folder``, by kind."""
    os.makedirs(folder, exist_ok=True)
    paths = {kind: os.path.join(folder, "conformance.%s" % ext)
             for kind, ext in (("junit", "xml"), ("json", "json"), ("markdown", "md"))}
    texts = {"junit": junit(report), "json": json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n",
             "markdown": markdown(report)}
    for kind, path in paths.items():
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(texts[kind])
    return paths
