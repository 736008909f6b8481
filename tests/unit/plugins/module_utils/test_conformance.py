# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conformance report files and the settings the module accepts (the steps themselves run over real gRPC in
tests/conformance)."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.conformance import _quantile
from ansible_collections.virtrigaud.core.plugins.module_utils.conformance_report import (
    FAILED,
    PASSED,
    SKIPPED,
    Report,
    StepResult,
    junit,
    markdown,
    write_reports,
)
from ansible_collections.virtrigaud.core.plugins.modules.virtrigaud_conformance import settings


def sample() -> Report:
    report = Report(endpoint="127.0.0.1:9443", prefix="vrc-unit")
    report.steps = [StepResult("validate", PASSED, 0.01), StepResult("clone", SKIPPED, 0.0, "no linked clones"),
                    StepResult("delete_again", FAILED, 0.2, "NOT_FOUND: VM | gone")]
    return report


def test_markdown_has_one_row_per_step_and_escapes_the_pipe():
    text = markdown(sample())
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith(("| step", "| ---"))]
    assert len(rows) == 3
    assert "| delete_again | failed | 0.20 | NOT_FOUND: VM \\| gone |" in text
    assert "3 steps: 1 passed, 1 failed, 1 skipped" in text


def test_junit_marks_failures_and_skips():
    suite = ElementTree.fromstring(junit(sample()))
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite}
    assert cases["delete_again"].find("failure").get("message") == "NOT_FOUND: VM | gone"
    assert cases["clone"].find("skipped") is not None
    assert not list(cases["validate"])


def test_reports_are_written_and_a_failure_makes_the_run_not_ok(tmp_path):
    report = sample()
    paths = write_reports(report, str(tmp_path / "out"))
    assert json.loads(open(paths["json"], encoding="utf-8").read())["summary"] == {
        "total": 3, "passed": 1, "failed": 1, "skipped": 1}
    assert not report.ok
    report.steps.pop()
    assert report.ok
    report.leftovers = ["vm-9"]
    assert not report.ok


def test_quantiles():
    ordered = [float(n) for n in range(1, 101)]
    assert (_quantile(ordered, 0.5), _quantile(ordered, 0.99), _quantile([], 0.5)) == (51.0, 100.0, 0.0)


BASE = {"provider_type": "remote", "run_prefix": "vrc-ok", "skip_steps": [], "cpu": 1, "memory_mib": 512,
        "graceful_timeout": 30, "task_timeout": 600, "load_clients": 0, "load_seconds": 10, "image": None,
        "network": None, "image_source": None, "disk_dir": None}


@pytest.mark.parametrize("change, option", [
    ({"provider_type": "libvirt"}, "provider_type"),
    ({"run_prefix": "Has_Upper"}, "run_prefix"),
    ({"skip_steps": ["no-such-step"]}, "skip_steps"),
    ({"memory_mib": 64}, "memory_mib"),
    ({"load_clients": -1}, "load_clients"),
])
def test_bad_settings_are_refused_by_name(change, option):
    with pytest.raises(errors.SpecError) as raised:
        settings(dict(BASE, **change))
    assert raised.value.option == option


def test_settings():
    chosen = settings(dict(BASE, skip_steps=["clone"], load_clients=4, disk_dir="/var/tmp"))
    assert (chosen.prefix, chosen.skip, chosen.load_clients, chosen.disk_dir) == ("vrc-ok", ("clone",), 4,
                                                                                  "/var/tmp")
