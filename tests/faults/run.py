# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kill a backend in the middle of a create, a clone, a reconfigure and a VM set's roll; the re-run must converge.

Run by ``scripts/test.sh faults`` (as root, with the libvirt test bed and the fake PVE up, the collection tree on
PYTHONPATH and ANSIBLE_COLLECTIONS_PATH).  Each case starts ``ansible-playbook`` in the background, polls the
backend's own record (libvirtd's definition files and pool, the fake PVE's state) until the operation is
visibly half done, injects the fault, lets the run end, brings the backend back, runs the same task again,
and lists the backend's VMs and volumes: exactly one VM per name, no volume that no VM uses.  One line per case.

The faults: libvirtd killed (SIGKILL) after a create defined its domain, while a clone copies a disk, and
after a reconfigure changed the definition but before the VM is back; the provider runtime killed after a
create through it defined the domain, and while a VM set rolls through it; the fake PVE's API gone (every
request answered 503, as when pveproxy dies and the worker tasks go on) while a clone task runs.  vcsim is
not killed: it keeps its inventory in memory, so a killed vcsim comes back empty, with nothing to converge to.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import subprocess
import sys
import time

from .testbed import (
    LIBVIRT,
    POOL_DIR,
    FakePVE,
    Play,
    Runtime,
    defined,
    definition_says,
    domains,
    kill_libvirtd,
    orphans,
    run,
    running,
    scratch,
    settle,
    start_libvirtd,
    sweep,
    wait_for,
)

VM = "virtrigaud.core.virtrigaud_vm"
VMSET = "virtrigaud.core.virtrigaud_vmset"
SMALL = {"cpu": 1, "memory": "128Mi", "image": "vr-tiny.qcow2", "disk_defaults": {"size": "1Gi"},
         "networks": [{"name": "lan", "network": "default"}]}
CPU_BEYOND_HOTPLUG = r"current='5'|>5</vcpu>"  # 1 -> 5 vCPUs is past the 4x hot-plug ceiling: a power cycle


def vm_args(name: str, **extra) -> dict:
    return dict(SMALL, name=name, state="started", wait_for_ip_address=True, wait_timeout=240, **extra)


class Case:
    def __init__(self, work, prefix: str) -> None:
        self.work, self.prefix = work, prefix

    def caught(self, name: str, connection: dict, module: str, args: dict, visible, what: str) -> Play:
        """The task in the background, frozen as soon as the backend shows ``what`` (not after it has ended):
        the fault then lands before its next step, however fast that would have come."""
        play = Play(self.work, name, connection, module, args)
        wait_for(what, lambda: visible() or play.process.poll() is not None, timeout=240)
        play.freeze()
        if play.process.poll() is not None:
            raise AssertionError("the run ended before %s: %s" % (what, play.finish()))
        return play

    @staticmethod
    def resumed(play: Play) -> tuple[bool, str]:
        play.resume()
        return play.finish()

    def converged(self, name: str, connection: dict, module: str, args: dict) -> str:
        """Run the task again until it succeeds once, then once more, which must change nothing."""
        succeeded, again = run(self.work, name + "-rerun", connection, module, args)
        assert succeeded, "the re-run failed: %s" % again
        succeeded, third = run(self.work, name + "-third", connection, module, args)
        assert succeeded and third == "ok", "a third run changed something or failed: %s" % third
        return again


def libvirt_listing(prefix: str, names: list[str]) -> str:
    found, left = domains(prefix), orphans(prefix)
    assert found == sorted(names), "domains %s, expected %s" % (found, sorted(names))
    assert not left, "orphan volumes: %s" % left
    return "%d domain%s, 0 orphan volumes" % (len(found), "" if len(found) == 1 else "s")


def libvirtd_mid_create(case: Case) -> str:
    name = case.prefix + "-a"
    # Not while libvirtd starts the domain: a start cut short leaves its job lock held for good.
    play = case.caught("create", LIBVIRT, VM, vm_args(name), lambda: defined(name) and running(name),
                       "the domain defined and started")
    kill_libvirtd()
    first = case.resumed(play)
    start_libvirtd()
    again = case.converged("create", LIBVIRT, VM, vm_args(name))
    assert running(name)
    return outcome("libvirtd killed once the create defined and started the domain, before its address",
                   first, again,
                   libvirt_listing(case.prefix + "-a", [name]))


def libvirtd_mid_reconfigure(case: Case) -> str:
    name = case.prefix + "-a"
    args = vm_args(name, cpu=5, allow_power_cycling=True, shutdown_mode="hard")
    play = case.caught("reconfigure", LIBVIRT, VM, args, lambda: definition_says(name, CPU_BEYOND_HOTPLUG),
                       "the definition changed to 5 vCPUs")
    # Frozen between the change and the start, or in the start, which libvirtd then finishes by itself.
    back = settle(lambda: running(name), timeout=3)
    kill_libvirtd()
    first = case.resumed(play)
    start_libvirtd()
    again = case.converged("reconfigure", LIBVIRT, VM, args)
    assert running(name) and definition_says(name, CPU_BEYOND_HOTPLUG)
    return outcome("libvirtd killed after the reconfigure stopped the VM and set 5 vCPUs (%s)"
                   % ("it was started again, not yet reported" if back else "before it was started again"),
                   first, again, libvirt_listing(case.prefix + "-a", [name]))


def libvirtd_mid_clone(case: Case) -> str:
    source, target = case.prefix + "-src", case.prefix + "-copy"
    succeeded, message = run(case.work, "source", LIBVIRT, VM,
                             dict(SMALL, name=source, state="stopped", disks=[{"name": "data", "size": "2Gi"}]))
    assert succeeded, message
    # 640 MiB of data the copy must move block by block: the clone takes long enough to be caught copying.
    data = POOL_DIR / ("%s-data.qcow2" % source)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -q -P 0x5a 0 640M", str(data)], check=True,
                   capture_output=True)
    args = {"name": target, "clone_from": source, "state": "stopped"}
    play = case.caught("clone", LIBVIRT, VM, args, (POOL_DIR / ("%s-data.qcow2" % target)).exists,
                       "the data disk's copy begun")
    kill_libvirtd()
    first = case.resumed(play)
    start_libvirtd()
    left = orphans(target)
    again = case.converged("clone", LIBVIRT, VM, args)
    return outcome("libvirtd killed while the clone copied its data disk (%d volume%s left without a domain)"
                   % (len(left), "" if len(left) == 1 else "s"), first, again,
                   libvirt_listing(case.prefix + "-", [source, target, case.prefix + "-a"]))


def runtime_mid_create(case: Case, runtime: Runtime) -> str:
    name = case.prefix + "-r"
    play = case.caught("remote-create", runtime.connection, VM, vm_args(name), lambda: defined(name),
                       "the domain defined")
    runtime.kill()
    first = case.resumed(play)
    runtime.start()
    again = case.converged("remote-create", runtime.connection, VM, vm_args(name))
    return outcome("the runtime killed once a create through it defined the domain", first, again,
                   libvirt_listing(case.prefix + "-r", [name]))


def runtime_mid_roll(case: Case, runtime: Runtime) -> str:
    name = case.prefix + "-set"
    members = ["%s-%d" % (name, ordinal) for ordinal in range(2)]
    base = {"name": name, "replicas": 2, "template": SMALL, "ready_requires_ip": True, "wait_timeout": 600,
            "update_strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 1}}}
    succeeded, message = run(case.work, "set", runtime.connection, VMSET, base)
    assert succeeded, message
    rolled = dict(base, template=dict(SMALL, cpu=5))
    # The roll goes highest first: member 1 changed, member 0 not yet.
    play = case.caught("roll", runtime.connection, VMSET, rolled,
                       lambda: definition_says(members[1], CPU_BEYOND_HOTPLUG), "member 1 changed")
    runtime.kill()
    first = case.resumed(play)
    runtime.start()
    again = case.converged("roll", runtime.connection, VMSET, rolled)
    assert all(definition_says(member, CPU_BEYOND_HOTPLUG) and running(member) for member in members)
    return outcome("the runtime killed while a VM set rolled through it (member 1 done, member 0 not)", first, again,
                   libvirt_listing(name + "-", members))


def pve_api_gone_mid_create(case: Case, pve: FakePVE, connection: dict) -> str:
    name = case.prefix + "-pve"
    args = {"name": name, "image": "vr-template", "cpu": 1, "memory": "256Mi", "state": "stopped"}
    known = set(pve.state())
    pve.fault(slow_factor=10)
    try:
        # The clone's VMID shows at once, locked, and gets its name only when the task is done.
        play = case.caught("pve-create", connection, VM, args,
                           lambda: [vmid for vmid, vm in pve.state().items() if vmid not in known
                                    and vm["conf"].get("lock") == "clone"], "the clone task begun")
        pve.fault(http_errors={"count": 100000, "status": 503, "message": "Service Unavailable"})
        first = case.resumed(play)
    finally:
        pve.fault(http_errors={"count": 0}, slow_factor=1)
    # The worker task goes on without the API, as on a real PVE; the re-run starts once it let go of the VM.
    wait_for("the clone task to finish", lambda: all("lock" not in vm["conf"] for vmid, vm in pve.state().items()
                                                     if vmid not in known))
    again = case.converged("pve-create", connection, VM, args)
    found, left = pve.vms(name), pve.orphans()
    assert len(found) == 1, "VMs named %s: %s" % (name, sorted(found))
    assert not left, "orphan volumes: %s" % left
    run(case.work, "pve-remove", connection, VM, {"name": name, "state": "absent"})
    return outcome("the fake PVE's API gone (503 to every request) while the clone task ran", first, again,
                   "1 VM (VMID %s), 0 orphan volumes" % next(iter(found)))


def outcome(fault: str, first: tuple[bool, str], again: str, listing: str) -> str:
    """The case's lines; the first run, cut short by the fault, must have failed and said why."""
    assert not first[0], "the first run was not cut short: the fault came too late (%s)" % fault
    try:
        said = json.loads(first[1].split("=>", 1)[1])["msg"]
    except (IndexError, ValueError, KeyError):
        said = first[1]
    return "%s\n    first run failed: %s\n    re-run %s, third run unchanged; %s" % (fault, said[:160], again, listing)


def main() -> int:
    work = scratch()
    prefix = "vrf-" + "".join(random.choice(string.ascii_lowercase + string.digits) for dummy in range(5))
    case = Case(work, prefix)
    runtime = Runtime()
    pve = FakePVE(os.environ.get("PVEFAKE_CONTROL", "http://127.0.0.1:18007"))
    pve_connection = {"provider_type": "proxmox", "api_host": "127.0.0.1", "api_port": 18006, "api_user": "root@pam",
                      "api_password": os.environ["PVEFAKE_PASSWORD"], "validate_certs": False,
                      "default_datastore": "ceph-vm", "default_bridge": "vmbr0"}
    started = time.monotonic()
    lines = []
    sweep("vrf-")
    try:
        runtime.start()
        for step in (lambda: libvirtd_mid_create(case), lambda: libvirtd_mid_reconfigure(case),
                     lambda: libvirtd_mid_clone(case), lambda: runtime_mid_create(case, runtime),
                     lambda: runtime_mid_roll(case, runtime),
                     lambda: pve_api_gone_mid_create(case, pve, pve_connection)):
            began = time.monotonic()
            line = step()
            lines.append(line)
            print("faults: %s (%.0f s)" % (line, time.monotonic() - began), flush=True)
    finally:
        cleanup(case, runtime)
    print("faults: %d cases, each converged on the re-run with one VM per name and no orphan volume (%.0f s)"
          % (len(lines), time.monotonic() - started))
    shutil.rmtree(work)
    return 0


def cleanup(case: Case, runtime: Runtime) -> None:
    for name in domains(case.prefix):
        succeeded, message = run(case.work, "remove-" + name, LIBVIRT, VM, {"name": name, "state": "absent"})
        if not succeeded:
            print("faults: could not remove %s: %s" % (name, message), file=sys.stderr)
    runtime.stop()
    sweep("vrf-")


if __name__ == "__main__":
    sys.exit(main())
