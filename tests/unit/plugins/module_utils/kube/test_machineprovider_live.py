# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A MachineProvider's discovered spec and its status from a probe: pure tables, no backend."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider_discovery as found
from ansible_collections.virtrigaud.core.plugins.module_utils.kube import machineprovider_status as live
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.schema_check import check, same
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.vitistack_schema import SPEC_SCHEMA
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import Capabilities, ObservedVM
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.discovery import (
    DiscoveredHost,
    DiscoveredImage,
    DiscoveredNetwork,
    DiscoveredStorage,
    Discovery,
    InstanceType,
)

DISCOVERY = Discovery(
    networks=(DiscoveredNetwork("default", "network", "192.168.122.0/24"), DiscoveredNetwork("br0", "bridge")),
    default_network="default",
    storages=(DiscoveredStorage("fast", "lvmthin", 500, 400, default=True), DiscoveredStorage("slow", "dir", 0)),
    hosts=(DiscoveredHost("a", 8, 32768), DiscoveredHost("b", 16, 16384)),
    instance_types=(InstanceType("u1.small", 1, 2048),),
    images=(DiscoveredImage("debian-12-genericcloud.qcow2", "debian-12-genericcloud.qcow2"),
            DiscoveredImage("vr-template", "vr-template")),
    capabilities=Capabilities(supports_snapshots=True, supports_reconfigure_online=True,
                              supported_network_types=("network", "bridge"), nic_changes={"set_network": "live"}),
    hotplug_disks=True,
)
NOW = datetime.datetime(2026, 11, 30, 6, 0, 0, tzinfo=datetime.timezone.utc)


def test_the_discovered_spec_fills_each_section_and_passes_the_crd_schema() -> None:
    spec = found.discovered_spec(DISCOVERY, "mp", (InstanceType("large", 8, 8192),))
    assert spec["network"] == {"availableVPCs": [{"id": "default", "name": "default", "cidr": "192.168.122.0/24"},
                                                 {"id": "br0", "name": "br0", "cidr": ""}], "defaultVPC": "default"}
    assert spec["compute"] == {"maxCPUs": 16, "maxMemoryGB": 16}
    assert spec["storage"]["defaultType"] == "fast" and spec["storage"]["maxStorageGB"] == 500
    assert [c["spec"]["displayName"] for c in spec["capabilities"]["machineClasses"]] == ["u1.small", "large"]
    assert spec["capabilities"]["machineClasses"][1]["spec"]["memory"] == {"quantity": "8Gi"}
    assert spec["capabilities"]["operatingSystems"][0] == {
        "family": "linux", "distribution": "debian", "versions": ["12"], "architectures": ["amd64"],
        "defaultImageID": "debian-12-genericcloud.qcow2"}
    assert spec["config"]["features.hotplugDisks"] == "true" and spec["config"]["features.hotplugNICs"] == "true"
    whole = dict(spec, providerType="libvirt", displayName="d", region="r", authentication={"type": "token"})
    check(whole, SPEC_SCHEMA, "", same)


def test_what_the_user_set_wins_and_the_rest_is_reported_as_discovered() -> None:
    user = {"providerType": "libvirt", "compute": {"maxCPUs": 2}, "config": {"features.snapshots": "false"}}
    merged = found.merge(user, found.discovered_spec(DISCOVERY, "mp"))
    assert merged.spec["compute"] == {"maxCPUs": 2, "maxMemoryGB": 16}
    assert merged.spec["config"]["features.snapshots"] == "false"
    assert "compute.maxCPUs" not in merged.discovered and "compute.maxMemoryGB" in merged.discovered
    assert "config.features.snapshots" not in merged.discovered and "network.availableVPCs" in merged.discovered
    assert user["compute"] == {"maxCPUs": 2}


@pytest.mark.parametrize("name, expected", [
    ("debian-12-genericcloud-amd64.qcow2", ("linux", "debian", "12")),
    ("ubuntu-22.04-server", ("linux", "ubuntu", "22.04")),
    ("Windows_2022", ("windows", "windows", "2022")),
    ("rocky9", ("linux", "rocky", "9")),
    ("vr-template", ("unknown", "unknown", "unknown")),
])
def test_an_image_name_tells_what_it_can(name: str, expected: tuple[str, str, str]) -> None:
    assert found.os_of(name) == expected


@pytest.mark.parametrize("presets, option", [
    ([{"name": "Big", "cpu": 1, "memory": "1Gi"}], "presets[0].name"),
    ([{"name": "s", "cpu": 0, "memory": "1Gi"}], "presets[0].cpu"),
    ([{"name": "s", "cpu": True, "memory": "1Gi"}], "presets[0].cpu"),
    ([{"name": "s", "cpu": 1, "memory": "lots"}], "presets[0].memory"),
    ([{"name": "s", "cpu": 1, "memory": "1Gi"}, {"name": "s", "cpu": 2, "memory": "2Gi"}], "presets"),
])
def test_bad_presets_are_refused_by_name(presets: list[dict[str, Any]], option: str) -> None:
    with pytest.raises(SpecError) as raised:
        found.presets(presets)
    assert raised.value.option == option


def test_only_the_provider_layers_types_are_discovered() -> None:
    assert found.check_discoverable("proxmox", "discover") == "proxmox"
    with pytest.raises(SpecError) as raised:
        found.check_discoverable("aws", "update_status")
    assert raised.value.option == "update_status"


def _ready() -> live.Probe:
    vms = (ObservedVM("1", "a", "On", cpu=2, memory_mib=2048), ObservedVM("2", "b", "Off", cpu=4, memory_mib=4096))
    return live.Probe(True, True, 12, "", DISCOVERY, vms)


def test_a_ready_status_with_quota_resources_and_conditions() -> None:
    status = live.status_of(_ready(), {"zones": ["z1"], "capabilities": {"maxMachines": 10}}, None, NOW)
    assert status["phase"] == "Ready" and status["activeMachines"] == 2
    assert status["quota"] == {"cpuQuota": 24, "cpuUsed": 2, "memoryQuotaGB": 48, "memoryUsedGB": 2,
                               "instanceUsed": 2, "instanceQuota": 10, "storageQuotaGB": 500, "storageUsedGB": 100}
    assert status["availableResources"]["zones"] == ["z1"]
    assert status["availableResources"]["machineClasses"] == ["u1.small"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Reachable": "True", "Authenticated": "True",
                                                                      "Ready": "True"}
    assert status["health"]["responseTimeMs"] == 12 and status["lastVerified"] == "2026-11-30T06:00:00Z"


@pytest.mark.parametrize("probe, phase, conditions", [
    (live.Probe(False, None, 3, "connection refused"), "Offline", ("False", "Unknown", "False")),
    (live.Probe(True, False, 3, "bad password"), "Failed", ("True", "False", "False")),
    (live.Probe(True, True, 3, "listing failed"), "Failed", ("True", "True", "False")),
])
def test_an_unhealthy_backend_is_offline_or_failed(probe: live.Probe, phase: str, conditions: tuple[str, ...]) -> None:
    status = live.status_of(probe, {}, None, NOW)
    assert status["phase"] == phase and status["message"] == probe.message
    assert tuple(c["status"] for c in status["conditions"]) == conditions
    assert "quota" not in status


def test_a_second_probe_keeps_transition_times_and_needs_no_write() -> None:
    first = live.status_of(_ready(), {}, None, NOW)
    later = NOW + datetime.timedelta(minutes=5)
    second = live.status_of(live.Probe(True, True, 40, "", DISCOVERY, _ready().vms), {}, first, later)
    assert second["conditions"] == first["conditions"]
    assert not live.needs_write(first, second, later, 3600)
    assert live.needs_write(first, second, later, 300)
    assert live.needs_write(None, second, later, 3600)


def test_a_changed_condition_gets_a_new_transition_time_and_a_write() -> None:
    first = live.status_of(_ready(), {}, None, NOW)
    later = NOW + datetime.timedelta(minutes=1)
    second = live.status_of(live.Probe(False, None, 1, "down"), {}, first, later)
    times = {c["type"]: c["lastTransitionTime"] for c in second["conditions"]}
    assert times == {"Reachable": "2026-11-30T06:01:00Z", "Authenticated": "2026-11-30T06:01:00Z",
                     "Ready": "2026-11-30T06:01:00Z"}
    assert second["activeMachines"] == 2
    assert live.needs_write(first, second, later, 3600)


def test_the_kubernetes_options_are_no_stray_options_for_the_other_backends() -> None:
    params = {"uri": "qemu:///system", "kubeconfig": "/k", "hostname": "vc"}
    connection = live.connection_for("libvirt", params, {})
    assert connection.config.uri == "qemu:///system" and connection.foreign == ("hostname",)
    assert live.connection_for("kubevirt", params, {}).config.options["kubeconfig"] == "/k"
