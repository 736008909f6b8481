# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_machineprovider's logic on an in-memory API: what it writes, in which order, and when it writes
nothing at all."""

from __future__ import annotations

from typing import Any

import pytest

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


LIVE_ARGS: dict[str, Any] = {"name": "kvm", "provider_type": "libvirt", "display_name": "KVM", "region": "oslo",
                             "authentication": {"type": "token"}, "uri": "test:///default",
                             "default_datastore": "default-pool", "compute": {"max_cpus": 2},
                             "discover": True, "presets": [{"name": "small", "cpu": 1, "memory": "1Gi"}],
                             "update_status": True}


def test_discovery_and_status_check_real_check_real_on_the_libvirt_test_driver() -> None:
    pytest.importorskip("libvirt")
    kube = FakeKube()
    runs = [run_module(module, kube, LIVE_ARGS, check_mode=check) for check in (True, False, True, False)]
    assert [run["changed"] for run in runs] == [True, True, False, False]
    assert [run["status_changed"] for run in runs] == [True, True, False, False]
    assert runs[0]["machine_provider"] == runs[1]["machine_provider"] == runs[3]["machine_provider"]
    spec = runs[1]["machine_provider"]["spec"]
    assert spec["compute"]["maxCPUs"] == 2 and "compute.maxCPUs" not in runs[1]["discovered_fields"]
    assert "compute.maxMemoryGB" in runs[1]["discovered_fields"] and spec["network"]["defaultVPC"] == "default"
    assert [c["spec"]["displayName"] for c in spec["capabilities"]["machineClasses"]] == ["small"]
    # The test driver keeps no DHCP leases; its VMs are listed all the same, and counted.
    assert runs[1]["status"]["phase"] == "Ready", runs[1]["status"]
    assert runs[1]["status"]["quota"]["instanceUsed"] == runs[1]["status"]["activeMachines"] >= 1
    assert runs[3]["status"] == runs[1]["status"]
    # Real writes only: the spec's apply (a no-op on the server when unchanged) and the status once.
    assert [call[4] for call in kube.writes() if call[0] == "apply" and not call[3]] == ["", "status", ""]
    assert not runs[1]["warnings"]


def test_a_status_older_than_status_max_age_is_rewritten_though_nothing_changed() -> None:
    pytest.importorskip("libvirt")
    kube = FakeKube()
    run_module(module, kube, LIVE_ARGS)
    again = run_module(module, kube, dict(LIVE_ARGS, status_max_age=0))
    assert again["changed"] and again["status_changed"]
    assert [call[4] for call in kube.writes() if call[0] == "apply" and not call[3]] == ["", "status", "", "status"]


@pytest.mark.parametrize("args, option", [
    ({"state": "absent", "discover": True}, "discover"),
    ({"provider_type": "aws"}, "discover"),
    ({"discover": False}, "presets"),
    ({"update_status": False, "presets": None, "status_max_age": 10}, "status_max_age"),
    ({"status_max_age": -1}, "status_max_age"),
])
def test_the_live_options_are_refused_by_name_before_anything_is_read_or_written(args: dict[str, Any],
                                                                                 option: str) -> None:
    kube = FakeKube()
    result = run_module(module, kube, dict(LIVE_ARGS, uri="qemu+tcp://127.0.0.1:1/system", **args))
    assert result["failed"] and result["details"]["option"] == option, result
    assert kube.calls == []
