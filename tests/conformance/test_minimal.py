# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The suite judges a second implementation fairly: the minimal provider and each of its mutations, over real
gRPC, must end exactly as tests/conformance/expected.yml records, and leave no VM behind."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from ansible_collections.virtrigaud.core.plugins.module_utils.conformance import (
    FAILED,
    SKIPPED,
    Settings,
    Suite,
    markdown,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.client import Channel
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
