# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole VM set in one task, against the per-host floor and community.vmware, at 100 and 1,000 members.

In one run, with ``forks: 10`` and ``connection: local``:

- on vcsim and on the fake PVE, a set made by ``virtrigaud.core.virtrigaud_vmset`` grows to each size in
  ``--members`` (100, then 1,000), trying a higher ``parallelism`` at each growth step, and reports members
  created per second with the parallelism that gave it (``rate_limit`` raised out of the way);
- at each size the set is converged with nothing to change by one ``virtrigaud_vmset`` task, with its time
  and the peak RSS of the largest process of that play; the floor is ``ansible.builtin.ping`` over the same
  hosts, measured once per size (it touches no backend); on vcsim at 100 members the anchor
  ``community.vmware.vmware_guest`` (``state: poweredon``) is looped over them;
- on the real libvirtd, a set of 20 members is created with ``parallelism`` 1 and then 4.

Goals (issues 10 and 23): the set task at most 0.2x the floor at 1,000 members, at least 10x faster than the
anchor, and the RSS at 1,000 members at most 2x the RSS at 100.

    python3 bench/vmset_converge.py [--members 100,1000] [--backends vcsim,pve,libvirt]
    VMSET_BENCH_PVE_PORT=18116 python3 bench/vmset_converge.py --reuse --members 1000 --backends pve
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import benchlib  # noqa: E402
from vsphere_converge import PASSWORD, REPO, VCSIM, connection, vcsim, venv_python  # noqa: E402

CACHE = pathlib.Path(os.environ.get("VIRTRIGAUD_CACHE", pathlib.Path.home() / ".cache" / "virtrigaud"))
TREE = pathlib.Path(os.environ.get("VIRTRIGAUD_TREE", CACHE / "collections"))
PORT = int(os.environ.get("VMSET_BENCH_VCSIM_PORT", "18992"))
PVE_PORT = int(os.environ.get("VMSET_BENCH_PVE_PORT", "18016"))
PVE_CONTROL = PVE_PORT + 1
PVEFAKE = REPO / "scripts" / "testbed" / "pvefake.sh"
TEMPLATE = {"cpu": 1, "memory": "256Mi", "image": "vr-template", "networks": [{"name": "lan", "network": "VM Network"}]}
PVE = {"provider_type": "proxmox", "api_host": "127.0.0.1", "api_port": PVE_PORT, "api_user": "root@pam",
       "api_password": PASSWORD, "validate_certs": False, "default_datastore": "ceph-vm", "default_bridge": "vmbr0"}
PVE_TEMPLATE = {"cpu": 1, "memory": "256Mi", "image": "vr-template", "networks": [{"name": "lan", "network": "vmbr0"}]}
LIBVIRT = {"provider_type": "libvirt", "uri": "qemu:///system", "libvirt_domain_type": "qemu",
           "default_datastore": "virtrigaud"}
LIBVIRT_TEMPLATE = {"cpu": 1, "memory": "128Mi", "image": "vr-tiny.qcow2", "disk_defaults": {"size": "1Gi"},
                    "networks": [{"name": "lan", "network": "default"}]}
# Creation is measured with parallelism, not the default rate limit (10 starts a second), as its bound.
FAST = {"rate_limit": {"qps": 1000, "burst": 1000}, "wait_timeout": 3600}


def set_play(connection_options: dict, name: str, replicas: int, template: dict, **extra) -> str:
    task = dict({"name": name, "replicas": replicas, "template": template}, **extra)
    return ("- hosts: localhost\n  gather_facts: false\n  module_defaults:\n"
            "    group/virtrigaud.core.virtrigaud: %s\n  tasks:\n    - virtrigaud.core.virtrigaud_vmset: %s\n"
            % (json.dumps(connection_options), json.dumps(task)))


def run_play(python: str, workdir: pathlib.Path, name: str, text: str, expect_change: bool) -> tuple[float, float]:
    """(seconds, peak RSS in MiB of the play's largest process) of one ``ansible-playbook``."""
    (workdir / ("%s.yml" % name)).write_text(text)
    bindir = pathlib.Path(python).parent
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(TREE), ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_FORKS="10", PATH="%s:%s" % (bindir, os.environ["PATH"]))
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter();"
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,"
             " r.returncode); sys.stderr.write(r.stdout[-3000:])")
    result = subprocess.run([sys.executable, "-c", probe, str(bindir / "ansible-playbook"), "-i",
                             str(workdir / "hosts"), str(workdir / ("%s.yml" % name))],
                            env=env, capture_output=True, text=True, check=False)
    seconds, rss, code = result.stdout.split()
    recap = [line for line in result.stderr.splitlines() if "changed=" in line]
    if code != "0" or (not expect_change and any("changed=0" not in line for line in recap)):
        raise SystemExit("%s did not run cleanly:\n%s" % (name, result.stderr))
    return float(seconds), float(rss)


def hosts_file(workdir: pathlib.Path, python: str, names: list[str]) -> None:
    (workdir / "hosts").write_text("[members]\n" + "".join(
        "%s ansible_connection=local ansible_python_interpreter=%s\n" % (n, python) for n in names)
        + "[local]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n" % python)


def pvefake(command: str) -> None:
    env = dict(os.environ, PVEFAKE_PORT=str(PVE_PORT), PVEFAKE_CONTROL_PORT=str(PVE_CONTROL),
               PVEFAKE_PASSWORD=PASSWORD, PVEFAKE_SEED_VMS="0", PYTHON=sys.executable)
    subprocess.run([str(PVEFAKE), command], check=True, env=env, stdout=subprocess.DEVNULL)


def start_vcsim(python: str) -> None:
    vcsim(PORT, "stop")
    vcsim(PORT, "start", "1")
    env = dict(os.environ, VCSIM_PORT=str(PORT), VCSIM_PASSWORD=PASSWORD)
    exports = subprocess.run([str(VCSIM), "env"], env=env, capture_output=True, text=True, check=True).stdout
    for line in exports.splitlines():
        for pair in line.replace("export ", "").split():
            key, value = pair.split("=", 1)
            env[key] = value
    subprocess.run([python, str(REPO / "scripts" / "testbed" / "seed-template.py"), "vr-template"], env=env,
                   check=True, stdout=subprocess.DEVNULL)


BACKENDS = {
    "vcsim": {"start": start_vcsim, "stop": lambda: vcsim(PORT, "stop"), "connection": connection(PORT),
              "template": TEMPLATE},
    "pve": {"start": lambda python: (pvefake("stop"), pvefake("start")), "stop": lambda: pvefake("stop"),
            "connection": PVE, "template": PVE_TEMPLATE},
}
ANCHOR = """- hosts: members
  gather_facts: false
  tasks:
    - community.vmware.vmware_guest:
        hostname: 127.0.0.1
        port: %d
        username: vr-admin
        password: %s
        validate_certs: false
        datacenter: DC0
        name: "{{ inventory_hostname }}"
        state: poweredon
""" % (PORT, PASSWORD)
FLOOR = "- hosts: members\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n"


def growth_steps(sizes: list[int]) -> list[tuple[int, int]]:
    """(replicas, parallelism) to grow through: a higher parallelism at each step."""
    steps, previous, parallelism = [], 0, 8
    for size in sizes:
        middle = previous + (size - previous) // 2
        if size - previous >= 400:
            steps.append((middle, parallelism))
            parallelism *= 2
        steps.append((size, parallelism))
        parallelism *= 2
        previous = size
    return steps


def emit(rows: list[dict], entry: dict) -> None:
    """Keep a figure and print it at once: a long run shows what it has so far."""
    rows.append(entry)
    print(json.dumps(entry), flush=True)
    label = "%s: %s, %d members" % (entry["backend"], entry["what"], entry["members"])
    if "floor_seconds" in entry:
        benchlib.figure(label, entry["seconds"], "s", entry["floor_seconds"], "ansible.builtin.ping", entry["goal"])
    else:
        benchlib.figure("%s, parallelism %d" % (label, entry["parallelism"]), entry["members_per_second"],
                        "members/s")


def scale(name: str, backend: dict, python: str, sizes: list[int], floors: dict[int, float],
          reuse: bool = False) -> list[dict]:
    rows: list[dict] = []
    if not reuse:
        backend["start"](python)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = pathlib.Path(tmp)
            hosts_file(workdir, python, [])
            have = 0
            steps = [(size, 0) for size in sizes] if reuse else growth_steps(sizes)
            for replicas, parallelism in steps:
                if not reuse:
                    seconds, dummy = run_play(python, workdir, "grow-%d" % replicas, set_play(
                        backend["connection"], "bench", replicas, backend["template"], parallelism=parallelism,
                        **FAST), True)
                    emit(rows, {"backend": name, "what": "create members %d to %d" % (have, replicas - 1),
                                "members": replicas - have, "parallelism": parallelism, "seconds": round(seconds, 2),
                                "members_per_second": round((replicas - have) / seconds, 2)})
                have = replicas
                if replicas in sizes:
                    noop(name, backend, python, workdir, replicas, floors, rows)
    finally:
        if not reuse:
            backend["stop"]()
    return rows


def noop(name: str, backend: dict, python: str, workdir: pathlib.Path, replicas: int, floors: dict[int, float],
         rows: list[dict]) -> None:
    """The no-op converge of a set of ``replicas`` members, against the ping floor over as many hosts."""
    hosts_file(workdir, python, ["bench-%d" % ordinal for ordinal in range(replicas)])
    if replicas not in floors:
        floors[replicas] = run_play(python, workdir, "floor", FLOOR, False)[0]
    seconds, rss = run_play(python, workdir, "noop-%d" % replicas, set_play(
        backend["connection"], "bench", replicas, backend["template"]), False)
    emit(rows, {"backend": name, "what": "no-op converge", "members": replicas,
                "seconds": round(seconds, 2), "peak_rss_mib": round(rss, 1),
                "floor_seconds": round(floors[replicas], 2), "ratio": round(seconds / floors[replicas], 3),
                "goal": "<= 0.2x floor"})
    if name == "vcsim" and replicas <= 100:
        anchor = run_play(python, workdir, "anchor", ANCHOR, False)[0]
        emit(rows, {"backend": name, "what": "community.vmware.vmware_guest", "members": replicas,
                    "seconds": round(anchor, 2), "floor_seconds": round(floors[replicas], 2),
                    "ratio": round(anchor / floors[replicas], 3), "goal": "10x slower than the set"})


def libvirt(python: str) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        (workdir / "hosts").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % python)
        for parallelism in (1, 4):
            name = "bench-p%d" % parallelism
            results[parallelism] = run_play(python, workdir, "create-%d" % parallelism, set_play(
                LIBVIRT, name, 20, LIBVIRT_TEMPLATE, parallelism=parallelism), True)[0]
            removal = set_play(LIBVIRT, name, 0, LIBVIRT_TEMPLATE, state="absent")
            run_play(python, workdir, "remove-%d" % parallelism, removal, True)
    benchlib.figure("20 members created on libvirt, parallelism 4", results[4], "s", results[1], "parallelism 1")
    print("libvirt: 20 members created with parallelism 1 in %.1f s, with 4 in %.1f s (%.1fx)"
          % (results[1], results[4], results[1] / results[4]))


def report(rows: list[dict]) -> None:
    for entry in rows:
        if "members_per_second" in entry:
            print("%(backend)s: %(what)s (%(members)d) in %(seconds).1f s with parallelism %(parallelism)d: "
                  "%(members_per_second).1f members/s" % entry)
        else:
            print("%s: %s of %d members: %.2f s, %.3fx the ping floor (%.1f s)%s" % (
                entry["backend"], entry["what"], entry["members"], entry["seconds"], entry["ratio"],
                entry["floor_seconds"], ", peak RSS %.0f MiB" % entry["peak_rss_mib"] if "peak_rss_mib" in entry
                else ""))
    for backend in sorted({entry["backend"] for entry in rows}):
        rss = {e["members"]: e["peak_rss_mib"] for e in rows if e["backend"] == backend and "peak_rss_mib" in e}
        if len(rss) > 1:
            low, high = min(rss), max(rss)
            print("%s: RSS at %d members is %.2fx the RSS at %d (goal: at most 2x)"
                  % (backend, high, rss[high] / rss[low], low))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", default="100,1000", help="set sizes, growing")
    parser.add_argument("--backends", default="vcsim,pve,libvirt")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--reuse", action="store_true",
                        help="converge sets already made, with nothing to change, on backends already running "
                             "(VMSET_BENCH_VCSIM_PORT, VMSET_BENCH_PVE_PORT): no growth, nothing started or stopped")
    args = parser.parse_args()
    python = venv_python()
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "libvirt-python",
                    "proxmoxer"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["bash", "-c", "source scripts/lib.sh && build_tree"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    core = subprocess.run([python, "-c", "import ansible.release as r; print(r.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()
    print("ansible-core %s, Python %s, %d cores" % (core, platform.python_version(), os.cpu_count() or 0))
    sizes = sorted(int(size) for size in args.members.split(","))
    floors: dict[int, float] = {}
    rows: list[dict] = []
    for name in args.backends.split(","):
        if name == "libvirt":
            libvirt(python)
        else:
            rows += scale(name, BACKENDS[name], python, sizes, floors, args.reuse)
    report(rows)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
