# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The suite judges a second implementation fairly: the minimal provider and each of its mutations, over real
gRPC, must end exactly as tests/conformance/expected.yml records, and leave no VM behind."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from ansible_collections.virtrigaud.core.plugins.module_utils.conformance import Settings, Suite
from ansible_collections.virtrigaud.core.plugins.module_utils.conformance_report import FAILED, SKIPPED, markdown
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.client import Channel
from ansible_collections.virtrigaud.core.plugins.modules.virtrigaud_conformance import argument_spec, run
from conformance.minimal_provider import MUTATIONS, serve  # pylint: disable=import-error

EXPECTED = yaml.safe_load((pathlib.Path(__file__).parent / "expected.yml").read_text())


def test_every_variant_is_recorded():
    assert sorted(EXPECTED) == sorted(("minimal",) + MUTATIONS)


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_outcome_matches_the_record(variant, tmp_path):
    server, port = serve(0, "" if variant == "minimal" else variant)
    channel = Channel(ProviderConfig(type="remote", uri="127.0.0.1:%d" % port, options={"insecure": True}),
                      "vr-conformance-test")
    try:
        report = Suite(channel, Settings(prefix="vrc-" + variant[:8].strip("-"), task_timeout=10)).run()
    finally:
        channel.close()
        server.stop(0)
    (tmp_path / "report.md").write_text(markdown(report))
    print(markdown(report))
    failed = {step.name: step.error for step in report.steps if step.status == FAILED}
    skipped = sorted(step.name for step in report.steps if step.status == SKIPPED)
    record = EXPECTED[variant]
    assert sorted(failed) == sorted(record["failed"]), failed
    assert skipped == sorted(record["skipped"])
    assert not report.leftovers


def test_the_module_drives_a_plaintext_provider_and_writes_its_reports(tmp_path):
    server, port = serve(0, "not-found-on-delete")
    params = {name: None for name in argument_spec()}
    params.update({name: option["default"] for name, option in argument_spec().items() if "default" in option})
    params.update(provider_type="remote", uri="127.0.0.1:%d" % port, insecure=True, run_prefix="vrc-module",
                  report_dir=str(tmp_path / "report"), task_timeout=10)
    try:
        result = VirtrigaudRun(params, False, False, lambda text: None).outcome(run)
    finally:
        server.stop(0)
    assert not result.get("failed"), result
    assert not result["ok"] and result["summary"]["failed"] == 1
    assert "| delete_again | failed |" in (tmp_path / "report" / "conformance.md").read_text()
    assert '<failure message="NOT_FOUND' in (tmp_path / "report" / "conformance.xml").read_text()
