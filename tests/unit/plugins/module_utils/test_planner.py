# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner decides everything a run will do; these tests pin those decisions."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    NotFoundError,
    PreconditionError,
    SpecError,
    UnsupportedError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import (
    Policy,
    Whereabouts,
    parse_snapshot_name,
    plan,
    plan_migration,
    plan_snapshot,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    Capabilities,
    ObservedDisk,
    ObservedNIC,
    ObservedVM,
    Snapshot,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import Placement, parse_vm

ONLINE = Capabilities(supports_reconfigure_online=True, supports_disk_expansion_online=True,
                      supports_linked_clones=True, supports_memory_snapshots=True)
OFFLINE = Capabilities()


def observed(power="On", cpu=2, memory=1024, max_cpu=8, max_memory=4096, data_gib=10, nics=1, tags=("a",)):
    return ObservedVM(
        id="vm-1", name="web", power_state=power, cpu=cpu, memory_mib=memory, max_cpu=max_cpu,
        max_memory_mib=max_memory, firmware="bios",
        disks=(ObservedDisk("root", 20), ObservedDisk("data", data_gib)),
        nics=tuple(ObservedNIC("nic%d" % i) for i in range(nics)), tags=tags,
    )


def desired(**params):
    base = {"name": "web", "cpu": 2, "memory": "1Gi", "disk_defaults": {"size": "20Gi"},
            "disks": [{"name": "data", "size": "10Gi"}], "networks": [{"name": "nic0", "network": "default"}],
            "tags": ["a"]}
    base.update(params)
    return parse_vm(base)


def kinds(result):
    return [a.action for a in result.actions]


def test_nothing_exists_so_create_and_start():
    result = plan(desired(), None, Policy(state="started"), ONLINE)
    assert kinds(result) == ["create", "power_on"]
    assert result.before is None and result.after["power_state"] == "On"


def test_create_stopped_does_not_start():
    assert kinds(plan(desired(), None, Policy(state="stopped"), ONLINE)) == ["create"]


@pytest.mark.parametrize("state, power", [("present", "On"), ("present", "Off"), ("started", "On"), ("stopped", "Off")])
def test_matching_vm_means_no_actions(state, power):
    result = plan(desired(), observed(power=power), Policy(state=state), ONLINE)
    assert not result.changed
    assert result.diff["before"] == result.diff["after"]


def test_growth_within_the_ceiling_happens_online():
    result = plan(desired(cpu=4, memory="2Gi", disks=[{"name": "data", "size": "20Gi"}]), observed(), Policy(), ONLINE)
    assert kinds(result) == ["set_cpu", "set_memory", "resize_disk"]
    assert all(a.options["live"] for a in result.actions)
    assert not result.power_cycle
    assert (result.after["cpu"], result.after["memory_mib"], result.after["disks"][0]["size_gib"]) == (4, 2048, 20)


def test_growth_beyond_the_ceiling_is_refused_without_power_cycling():
    with pytest.raises(PreconditionError) as caught:
        plan(desired(memory="8Gi"), observed(), Policy(), ONLINE)
    assert caught.value.option == "allow_power_cycling"
    assert "set_memory" in caught.value.message


def test_growth_beyond_the_ceiling_power_cycles_when_allowed():
    result = plan(desired(memory="8Gi"), observed(), Policy(allow_power_cycling=True), ONLINE)
    assert kinds(result) == ["power_off", "set_memory", "power_on"]
    assert result.power_cycle
    assert not result.actions[1].options["live"]


def test_a_backend_without_online_changes_needs_a_power_cycle():
    with pytest.raises(PreconditionError):
        plan(desired(cpu=3), observed(), Policy(), OFFLINE)


def test_a_stopped_vm_is_changed_offline_without_permission():
    result = plan(desired(cpu=16), observed(power="Off"), Policy(), OFFLINE)
    assert kinds(result) == ["set_cpu"]
    assert not result.power_cycle


def test_stopping_then_changing_needs_no_permission():
    result = plan(desired(memory="8Gi"), observed(), Policy(state="stopped", shutdown_mode="hard"), ONLINE)
    assert kinds(result) == ["power_off", "set_memory"]
    assert result.actions[0].options["mode"] == "hard"


def test_disks_never_shrink():
    with pytest.raises(SpecError) as caught:
        plan(desired(disks=[{"name": "data", "size": "5Gi"}]), observed(), Policy(), ONLINE)
    assert caught.value.option == "disks[0].size"


def test_new_disks_and_nics_are_added():
    result = plan(desired(disks=[{"name": "data", "size": "10Gi"}, {"name": "logs", "size": "5Gi"}],
                          networks=[{"name": "nic0"}, {"name": "backup", "network": "b"}]),
                  observed(), Policy(), ONLINE)
    assert kinds(result) == ["add_disk", "add_network"]
    assert result.after["networks"] == [{"name": "nic0"}, {"name": "backup", "network": "b"}]


def test_tags_are_compared_as_sets():
    assert not plan(desired(tags=["a"]), observed(tags=("a",)), Policy(), ONLINE).changed
    result = plan(desired(tags=["b", "a"]), observed(tags=("a",)), Policy(), ONLINE)
    assert kinds(result) == ["set_tags"]
    assert result.actions[0].new == ["a", "b"]


def test_restarted_always_acts():
    assert kinds(plan(desired(), observed(), Policy(state="restarted"), ONLINE)) == ["reboot"]
    assert kinds(plan(desired(), observed(power="Off"), Policy(state="restarted"), ONLINE)) == ["power_on"]


@pytest.mark.parametrize("power, expected", [("On", ["power_off", "delete"]), ("Off", ["delete"])])
def test_absent_stops_hard_then_deletes(power, expected):
    result = plan(None, observed(power=power), Policy(state="absent", delete_disks=False), ONLINE)
    assert kinds(result) == expected
    assert result.actions[-1].options["delete_disks"] is False
    assert result.after is None


def test_absent_and_gone_is_a_no_op():
    assert not plan(None, None, Policy(state="absent"), ONLINE).changed


def test_clone_then_adjust_the_copy():
    source = observed(power="Off")
    result = plan(desired(cpu=1), None, Policy(state="started", clone_from="web-src", linked_clone=True), ONLINE,
                  source)
    assert kinds(result) == ["clone", "set_cpu", "power_on"]
    assert result.actions[0].options == {"source_id": "vm-1", "linked": True}


def test_clone_needs_a_source_and_linked_support():
    with pytest.raises(SpecError) as caught:
        plan(desired(), None, Policy(clone_from="nope"), ONLINE, None)
    assert caught.value.option == "clone_from"
    with pytest.raises(SpecError) as caught:
        plan(desired(), None, Policy(clone_from="web", linked_clone=True), OFFLINE, observed(power="Off"))
    assert caught.value.option == "linked_clone"


# NIC changes: desired list × the VM's NICs → actions, matched by name.

NIC_LIVE = Capabilities(supports_reconfigure_online=True, nic_changes={
    "set_network": "live", "set_mac_address": "live", "set_ip_address": "live", "remove_network": "live"})
NIC_OFFLINE = Capabilities(supports_reconfigure_online=True, nic_changes={
    "set_network": "offline", "set_mac_address": "offline", "set_ip_address": "offline", "remove_network": "offline"})
NIC_NO_STATIC = Capabilities(supports_reconfigure_online=True, nic_changes={
    "set_network": "live", "set_mac_address": "live", "remove_network": "live"})
LAN = ObservedNIC("lan", mac_address="52:54:00:00:00:01", network="default", model="virtio",
                  static_ip="192.0.2.10/24", gateway="192.0.2.1")
BACKUP = ObservedNIC("backup", mac_address="52:54:00:00:00:02", bridge="br0", static_ip="")
LAN_SPEC = {"name": "lan", "network": "default", "mac_address": "52:54:00:00:00:01", "ip_address": "192.0.2.10",
            "gateway": "192.0.2.1"}
BACKUP_SPEC = {"name": "backup", "bridge": "br0"}


def with_nics(*nics, power="On"):
    return ObservedVM(id="vm-1", name="web", power_state=power, cpu=2, memory_mib=1024, max_cpu=8,
                      max_memory_mib=4096, disks=(ObservedDisk("root", 20), ObservedDisk("data", 10)), nics=nics,
                      tags=("a",))


def nic_plan(networks, nics=(LAN, BACKUP), capabilities=NIC_LIVE, **policy):
    return plan(desired(networks=networks), with_nics(*nics, power=policy.pop("power", "On")), Policy(**policy),
                capabilities)


def changes(result):
    return [(a.action, a.target, a.old, a.new) for a in result.actions]


@pytest.mark.parametrize("networks, expected", [
    ([LAN_SPEC, BACKUP_SPEC], []),
    ([{"name": "lan"}, {"name": "backup"}], []),
    ([dict(LAN_SPEC, network="other"), BACKUP_SPEC], [("set_network", "lan", "default", "other")]),
    ([LAN_SPEC, {"name": "backup", "bridge": "br1"}], [("set_network", "backup", "br0", "br1")]),
    ([LAN_SPEC, {"name": "backup", "network": "default"}], [("set_network", "backup", None, "default")]),
    ([dict(LAN_SPEC, mac_address="52:54:00:00:00:AA"), BACKUP_SPEC],
     [("set_mac_address", "lan", "52:54:00:00:00:01", "52:54:00:00:00:aa")]),
    ([dict(LAN_SPEC, ip_address="192.0.2.20", prefix=25), BACKUP_SPEC],
     [("set_ip_address", "lan", {"ip_address": "192.0.2.10", "prefix": 24, "gateway": "192.0.2.1"},
       {"ip_address": "192.0.2.20", "prefix": 25, "gateway": "192.0.2.1"})]),
    ([dict(LAN_SPEC, gateway=None), BACKUP_SPEC],
     [("set_ip_address", "lan", {"ip_address": "192.0.2.10", "prefix": 24, "gateway": "192.0.2.1"},
       {"ip_address": "192.0.2.10", "prefix": 24})]),
    ([LAN_SPEC, dict(BACKUP_SPEC, ip_address="198.51.100.5")],
     [("set_ip_address", "backup", {}, {"ip_address": "198.51.100.5", "prefix": 24})]),
    ([LAN_SPEC], [("remove_network", "backup", "br0", None)]),
    ([], [("remove_network", "lan", "default", None), ("remove_network", "backup", "br0", None)]),
    ([{"name": "wan", "network": "default"}, BACKUP_SPEC],
     [("remove_network", "lan", "default", None), ("add_network", "wan", None, 0)]),
    ([dict(LAN_SPEC, network="other", mac_address="52:54:00:00:00:03"), BACKUP_SPEC, {"name": "extra"}],
     [("set_network", "lan", "default", "other"), ("set_mac_address", "lan", "52:54:00:00:00:01", "52:54:00:00:00:03"),
      ("add_network", "extra", None, 2)]),
])
def test_nics_are_matched_by_name_and_changed_in_place(networks, expected):
    result = nic_plan(networks)
    assert changes(result) == expected
    assert all(a.options["live"] for a in result.actions)
    assert not result.power_cycle


def test_no_networks_option_leaves_nics_alone():
    result = plan(parse_vm({"name": "web", "cpu": 2}), with_nics(LAN, BACKUP), Policy(), NIC_LIVE)
    assert not result.changed


@pytest.mark.parametrize("nic", [
    ObservedNIC("lan"),  # a backend that reports no attachment, MAC or static address
    ObservedNIC("lan", network="default", static_ip=None),  # a static address the backend does not know
])
def test_values_the_backend_does_not_report_never_count_as_changed(nic):
    assert not nic_plan([dict(LAN_SPEC, mac_address=None, ip_address="198.51.100.9")], nics=(nic,)).changed


def test_dns_servers_count_only_when_given():
    nic = ObservedNIC("lan", network="default", static_ip="192.0.2.10/24", dns=("192.0.2.53",))
    assert not nic_plan([{"name": "lan", "ip_address": "192.0.2.10"}], nics=(nic,)).changed
    result = nic_plan([{"name": "lan", "ip_address": "192.0.2.10", "dns": ["192.0.2.54"]}], nics=(nic,))
    assert changes(result) == [("set_ip_address", "lan", {"ip_address": "192.0.2.10", "prefix": 24,
                                                          "dns": ["192.0.2.53"]},
                                {"ip_address": "192.0.2.10", "prefix": 24, "dns": ["192.0.2.54"]})]


def test_offline_nic_changes_need_a_power_cycle():
    networks = [dict(LAN_SPEC, network="other"), BACKUP_SPEC]
    with pytest.raises(PreconditionError) as caught:
        nic_plan(networks, capabilities=NIC_OFFLINE)
    assert caught.value.option == "allow_power_cycling" and "set_network" in caught.value.message
    result = nic_plan(networks, capabilities=NIC_OFFLINE, allow_power_cycling=True)
    assert kinds(result) == ["power_off", "set_network", "power_on"] and result.power_cycle
    assert kinds(nic_plan(networks, capabilities=NIC_OFFLINE, power="Off")) == ["set_network"]


@pytest.mark.parametrize("networks, capabilities, option", [
    ([dict(LAN_SPEC, ip_address="192.0.2.20"), BACKUP_SPEC], NIC_NO_STATIC, "networks[0].ip_address"),
    ([LAN_SPEC, BACKUP_SPEC, {"name": "new", "ip_address": "192.0.2.30"}], NIC_NO_STATIC, "networks[2].ip_address"),
    ([LAN_SPEC, {"name": "backup", "bridge": "br1"}], ONLINE, "networks[1].bridge"),
    ([dict(LAN_SPEC, mac_address="52:54:00:00:00:09"), BACKUP_SPEC], ONLINE, "networks[0].mac_address"),
    ([LAN_SPEC], ONLINE, "networks"),
])
def test_nic_changes_the_backend_cannot_make_are_refused_by_name(networks, capabilities, option):
    with pytest.raises(UnsupportedError) as caught:
        nic_plan(networks, capabilities=capabilities, power="Off")
    assert caught.value.option == option


def test_the_diff_shows_each_nic_before_and_after():
    result = nic_plan([dict(LAN_SPEC, network="other", mac_address="52:54:00:00:00:03"),
                       {"name": "new", "bridge": "br2"}])
    assert result.diff["before"]["networks"] == [
        {"name": "lan", "network": "default", "model": "virtio", "mac_address": "52:54:00:00:00:01",
         "ip_address": "192.0.2.10", "prefix": 24, "gateway": "192.0.2.1"},
        {"name": "backup", "bridge": "br0", "mac_address": "52:54:00:00:00:02"}]
    assert result.diff["after"]["networks"] == [
        {"name": "lan", "network": "other", "model": "virtio", "mac_address": "52:54:00:00:00:03",
         "ip_address": "192.0.2.10", "prefix": 24, "gateway": "192.0.2.1"},
        {"name": "new", "bridge": "br2"}]


# Placement of an existing VM: refused where it differs, when the backend reports it.

@pytest.mark.parametrize("current, wanted, option", [
    (Placement(datastore="ds1"), {"datastore": "ds2"}, "placement.datastore"),
    (Placement(host="pve1"), {"host": "pve2"}, "placement.host"),
    (Placement(datastore="ds1", resource_pool="gold"), {"datastore": "ds1", "resource_pool": "silver"},
     "placement.resource_pool"),
    (Placement(datastore="ds1"), {"datastore": "ds1"}, None),
    (Placement(), {"datastore": "ds2", "cluster": "c", "folder": "f"}, None),
    (Placement(datastore="ds1"), {}, None),
])
def test_placement_that_differs_is_refused_until_migration_exists(current, wanted, option):
    vm = ObservedVM(**dict(vars(with_nics()), placement=current))
    wanted_spec = desired(networks=None, placement=wanted)
    if option is None:
        assert not plan(wanted_spec, vm, Policy(), ONLINE).changed
        return
    with pytest.raises(UnsupportedError) as caught:
        plan(wanted_spec, vm, Policy(), ONLINE)
    assert caught.value.option == option and "not supported" in caught.value.msg


def test_a_clone_stays_where_its_source_is():
    source = ObservedVM(**dict(vars(observed(power="Off")), placement=Placement(datastore="ds1")))
    with pytest.raises(UnsupportedError) as caught:
        plan(desired(placement={"datastore": "ds2"}), None, Policy(clone_from="web-src"), ONLINE, source)
    assert caught.value.option == "placement.datastore"


SNAP = Snapshot(id="s-1", name="base", description="d")


def test_snapshot_create_is_skipped_when_it_exists():
    assert kinds(plan_snapshot("present", "base", observed(), [])) == ["snapshot_create"]
    assert not plan_snapshot("present", "base", observed(), [SNAP]).changed


def test_memory_is_only_in_snapshots_of_running_vms():
    assert plan_snapshot("present", "s", observed(), [], include_memory=True).after["has_memory"]
    assert not plan_snapshot("present", "s", observed(power="Off"), [], include_memory=True).after["has_memory"]


def test_memory_snapshots_need_the_capability():
    with pytest.raises(SpecError) as caught:
        plan_snapshot("present", "s", observed(), [], include_memory=True, capabilities=OFFLINE)
    assert caught.value.option == "include_memory"


def test_snapshot_delete_and_revert():
    assert kinds(plan_snapshot("absent", "base", observed(), [SNAP])) == ["snapshot_delete"]
    assert not plan_snapshot("absent", "base", observed(), []).changed
    assert not plan_snapshot("absent", "base", None, []).changed
    assert kinds(plan_snapshot("reverted", "base", observed(), [SNAP])) == ["snapshot_revert"]
    with pytest.raises(NotFoundError):
        plan_snapshot("reverted", "other", observed(), [SNAP])
    with pytest.raises(NotFoundError):
        plan_snapshot("present", "base", None, [])


@pytest.mark.parametrize("name, ok", [("base", True), ("before-change_2", True), ("1st", False), ("a b", False),
                                      ("x" * 41, False), (None, False)])
def test_snapshot_names(name, ok):
    if ok:
        assert parse_snapshot_name(name) == name
    else:
        with pytest.raises(SpecError):
            parse_snapshot_name(name)


def _secure(observed_secure, **params):
    return plan(parse_vm(dict({"name": "web", "firmware": "uefi"}, **params)),
                ObservedVM(**dict(vars(observed()), firmware="uefi", secure_boot=observed_secure)),
                Policy(), Capabilities(supports_secure_boot=True))


def test_secure_boot_is_refused_by_name_where_the_backend_cannot_do_it():
    desired = parse_vm({"name": "web", "firmware": "uefi", "secure_boot": True})
    for current in (None, observed()):
        with pytest.raises(UnsupportedError) as caught:
            plan(desired, current, Policy(), ONLINE)
        assert caught.value.option == "secure_boot"
    off = parse_vm({"name": "web", "firmware": "uefi", "secure_boot": False})
    assert plan(off, None, Policy(), ONLINE).actions[0].action == "create"


def test_secure_boot_as_the_vm_has_it_or_left_out_changes_nothing():
    assert not _secure(True, secure_boot=True).actions
    assert not _secure(False, secure_boot=False).actions
    assert not _secure(True).actions
    assert _secure(True, secure_boot=True).before["secure_boot"] is True


def test_secure_boot_other_than_the_vm_has_is_refused_not_ignored():
    with pytest.raises(UnsupportedError) as caught:
        _secure(False, secure_boot=True)
    assert caught.value.option == "secure_boot" and "'web' has off" in str(caught.value)
    with pytest.raises(UnsupportedError):
        _secure(True, secure_boot=False)


def test_firmware_other_than_the_vm_has_is_refused_not_ignored():
    with pytest.raises(UnsupportedError) as caught:
        plan(parse_vm({"name": "web", "firmware": "bios"}), ObservedVM(**dict(vars(observed()), firmware="uefi")),
             Policy(), ONLINE)
    assert caught.value.option == "firmware" and "'web' has uefi" in str(caught.value)
    assert not plan(parse_vm({"name": "web"}), ObservedVM(**dict(vars(observed()), firmware="uefi")),
                    Policy(), ONLINE).actions


def test_a_clone_keeps_its_sources_secure_boot():
    source = ObservedVM(**dict(vars(observed(power="Off")), firmware="uefi", secure_boot=True))
    desired = parse_vm({"name": "copy", "firmware": "uefi", "secure_boot": False})
    with pytest.raises(UnsupportedError):
        plan(desired, None, Policy(clone_from="web"), Capabilities(supports_secure_boot=True), source)


CONSOLES = Capabilities(console_types=("vnc", "spice", "none"), console_listen=True)


def with_console(console, power="On"):
    return parse_vm({"name": "web", "console": console}), observed(power=power)


def test_a_new_display_on_a_running_vm_needs_a_power_cycle():
    desired, vm = with_console({"type": "vnc"})
    vm = ObservedVM(**dict(vars(vm), console=parse_vm({"name": "x", "console": {"type": "none"}}).console))
    with pytest.raises(PreconditionError) as caught:
        plan(desired, vm, Policy(), CONSOLES)
    assert caught.value.option == "allow_power_cycling"
    actions = plan(desired, vm, Policy(allow_power_cycling=True), CONSOLES).actions
    assert [a.action for a in actions] == ["power_off", "set_console", "power_on"]
    assert actions[1].old == {"type": "none", "listen": None}
    assert actions[1].new == {"type": "vnc", "listen": "127.0.0.1"}


def test_the_same_display_changes_nothing_and_a_rotation_is_live():
    desired, vm = with_console({"type": "vnc", "listen": "127.0.0.1"})
    vm = ObservedVM(**dict(vars(vm), console=parse_vm({"name": "x", "console": {"type": "vnc"}}).console))
    assert plan(desired, vm, Policy(), CONSOLES).actions == ()
    rotate = parse_vm({"name": "web", "console": {"type": "vnc", "rotate_password": True}})
    actions = plan(rotate, vm, Policy(), CONSOLES).actions
    assert [(a.action, a.options["live"]) for a in actions] == [("rotate_console_password", True)]


@pytest.mark.parametrize("console, capabilities, option", [
    ({"type": "spice"}, Capabilities(console_types=("webmks",)), "console.type"),
    ({"type": "vnc"}, Capabilities(), "console.type"),
    ({"type": "vnc", "listen": "0.0.0.0"}, Capabilities(console_types=("vnc",)), "console.listen"),
])
def test_a_console_the_backend_cannot_give_is_refused_by_name(console, capabilities, option):
    desired, vm = with_console(console)
    with pytest.raises(UnsupportedError) as caught:
        plan(desired, vm, Policy(), capabilities)
    assert caught.value.option == option


def test_a_built_in_console_is_never_changed():
    desired, vm = with_console({"type": "webmks"})
    assert plan(desired, vm, Policy(), Capabilities(console_types=("webmks",))).actions == ()


# moves (VMMigration within one backend)

def test_a_placement_move_is_one_migrate_action_with_old_and_new():
    move = plan_migration(observed(), Placement(host="h1", datastore="a"), Placement(host="h2"), ("host", "datastore"),
                          True, "target.", "vsphere")
    assert move.to_dict() == {"action": "migrate", "target": "web", "old": {"host": "h1"}, "new": {"host": "h2"}}
    assert move.options == {"target": Placement(host="h2"), "live": True}


def test_a_vm_already_there_needs_no_move():
    assert plan_migration(observed(), Placement(host="h1"), Placement(host="h1"), ("host",), True, "target.",
                          "proxmox") is None


def test_a_key_the_backend_does_not_move_is_refused_by_name():
    with pytest.raises(UnsupportedError) as caught:
        plan_migration(observed(), Placement(host="pve1", datastore="ceph"), Placement(datastore="local"),
                       ("host",), True, "target.", "proxmox")
    assert caught.value.option == "target.datastore" and "hosts" in caught.value.msg


def test_a_running_vm_is_not_moved_offline():
    with pytest.raises(PreconditionError) as caught:
        plan_migration(observed(), Placement(host="h1"), Placement(host="h2"), ("host",), False, "target.", "x")
    assert caught.value.option == "online"
    stopped = plan_migration(observed(power="Off"), Placement(host="h1"), Placement(host="h2"), ("host",), False,
                             "target.", "x")
    assert stopped.options["live"] is False


def test_a_backend_that_does_not_say_where_the_vm_is_cannot_move_it():
    with pytest.raises(PreconditionError) as caught:
        plan_migration(observed(), Placement(), Placement(host="h2"), ("host",), True, "target.", "x")
    assert caught.value.option == "target.host"


MOVABLE = Whereabouts(Placement(host="h1", datastore="a"), ("host", "datastore"), "vsphere")


def test_virtrigaud_vm_moves_first_with_allow_migration():
    desired = parse_vm({"name": "web", "cpu": 4, "placement": {"host": "h2"}})
    the_plan = plan(desired, observed(), Policy(allow_migration=True), ONLINE, whereabouts=MOVABLE)
    assert [a.action for a in the_plan.actions] == ["migrate", "set_cpu"]


def test_virtrigaud_vm_refuses_a_move_without_allow_migration_naming_the_key():
    desired = parse_vm({"name": "web", "placement": {"datastore": "b"}})
    with pytest.raises(UnsupportedError) as caught:
        plan(desired, observed(), Policy(), ONLINE, whereabouts=MOVABLE)
    assert caught.value.option == "placement.datastore" and "allow_migration" in caught.value.msg


def test_keys_the_backend_does_not_move_are_still_refused_as_before():
    vm = observed()
    vm = ObservedVM(**dict(vars(vm), placement=Placement(host="h1", folder="f1")))
    desired = parse_vm({"name": "web", "placement": {"folder": "f2"}})
    with pytest.raises(UnsupportedError) as caught:
        plan(desired, vm, Policy(allow_migration=True), ONLINE, whereabouts=MOVABLE)
    assert caught.value.option == "placement.folder"
