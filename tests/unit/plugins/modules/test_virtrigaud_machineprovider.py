# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_machineprovider's logic on an in-memory API: what it writes, in which order, and when it writes
nothing at all."""

from __future__ import annotations

from typing import Any

from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_machineprovider as module
from ansible_collections.virtrigaud.core.tests.unit.plugins.module_utils.kube.fake_kube import FakeKube, run_module

ARGS: dict[str, Any] = {"name": "kv", "provider_type": "kubevirt", "display_name": "KubeVirt", "region": "oslo",
                        "authentication": {"type": "credentials", "credentials": {"kubeconfig": "CANARY"}},
                        "compute": {"max_cpus": 4}}


def test_the_secret_then_the_machine_provider_after_a_dry_run_and_a_second_run_changes_nothing() -> None:
    kube = FakeKube()
    result = run_module(module, kube, ARGS, diff_mode=True)
    assert [call[:4] for call in kube.writes()] == [("apply", "MachineProvider", "kv", True),
                                                    ("apply", "Secret", "kv-credentials", False),
                                                    ("apply", "MachineProvider", "kv", False)]
    assert result["changed"] and result["machine_provider"]["spec"]["compute"] == {"maxCPUs": 4}
    assert result["diff"]["after"]["Secret/kv-credentials"] == {"kubeconfig": "changed"}
    assert "CANARY" not in repr(result)
    again = run_module(module, kube, ARGS)
    assert not again["changed"]


def test_check_mode_writes_only_dry_runs() -> None:
    kube = FakeKube()
    result = run_module(module, kube, ARGS, check_mode=True)
    assert result["changed"] and all(call[3] for call in kube.writes())
    assert kube.store == {}


def test_bad_input_writes_nothing() -> None:
    kube = FakeKube()
    result = run_module(module, kube, dict(ARGS, compute={"max_cpus": 0}))
    assert result["failed"] and result["msg"].startswith("compute.max_cpus:")
    assert kube.writes() == []


def test_the_older_shape_warns_once_per_renamed_field() -> None:
    kube = FakeKube()
    definition = {"spec": {"type": "libvirt", "region": "r", "displayName": "d", "availabilityZones": ["z"],
                           "authentication": {"type": "token"}}}
    result = run_module(module, kube, {"name": "old", "definition": definition})
    assert result["machine_provider"]["spec"]["zones"] == ["z"]
    assert len(result["warnings"]) == 2
