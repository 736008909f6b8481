# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole VM set in one task, against the per-host floor and community.vmware, and parallel creation.

In one run, with ``forks: 10`` and ``connection: local``:

- on vcsim, 100 members of a set made by ``virtrigaud.core.virtrigaud_vmset`` are converged with nothing to
  change by one ``virtrigaud_vmset`` task; the floor is ``ansible.builtin.ping`` over the same 100 hosts, and
  the anchor ``community.vmware.vmware_guest`` (``state: poweredon``) looped over them;
- on the real libvirtd, a set of 20 members is created with ``parallelism`` 1 and then 4.

Goals (issue 10): the set task at most 0.2x the floor, and at least 10x faster than the anchor.

    python3 bench/vmset_converge.py        # after scripts/setup.sh; needs the libvirt test bed and Go
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import benchlib  # noqa: E402
from vsphere_converge import PASSWORD, REPO, TREE, VCSIM, connection, play, vcsim, venv_python  # noqa: E402

PORT = 18992
TEMPLATE = {"cpu": 1, "memory": "256Mi", "image": "vr-template", "networks": [{"name": "lan", "network": "VM Network"}]}
LIBVIRT = {"provider_type": "libvirt", "uri": "qemu:///system", "libvirt_domain_type": "qemu",
           "default_datastore": "virtrigaud"}
LIBVIRT_TEMPLATE = {"cpu": 1, "memory": "128Mi", "image": "vr-tiny.qcow2", "disk_defaults": {"size": "1Gi"},
                    "networks": [{"name": "lan", "network": "default"}]}


def set_play(connection_options: dict, name: str, replicas: int, template: dict, **extra) -> str:
    task = dict({"name": name, "replicas": replicas, "template": template}, **extra)
    return ("- hosts: localhost\n  gather_facts: false\n  module_defaults:\n"
            "    group/virtrigaud.core.virtrigaud: %s\n  tasks:\n    - virtrigaud.core.virtrigaud_vmset: %s\n"
            % (json.dumps(connection_options), json.dumps(task)))


def timed(python: str, workdir: pathlib.Path, name: str, text: str, expect_change: bool) -> float:
    (workdir / ("%s.yml" % name)).write_text(text)
    if expect_change:
        bindir = pathlib.Path(python).parent
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(TREE), PATH="%s:%s" % (bindir, os.environ["PATH"]))
        started = time.perf_counter()
        result = subprocess.run([str(bindir / "ansible-playbook"), "-i", str(workdir / "hosts"),
                                 str(workdir / ("%s.yml" % name))], env=env, capture_output=True, text=True,
                                check=False)
        if result.returncode:
            raise SystemExit("%s failed:\n%s" % (name, result.stdout[-3000:]))
        return time.perf_counter() - started
    return play(python, workdir, name)


def vsphere(python: str) -> None:
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
    options = connection(PORT)
    names = ["bench-%d" % ordinal for ordinal in range(100)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = pathlib.Path(tmp)
            (workdir / "hosts").write_text("[members]\n" + "".join(
                "%s ansible_connection=local ansible_python_interpreter=%s\n" % (n, python) for n in names)
                + "[local]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n" % python)
            created = timed(python, workdir, "create", set_play(options, "bench", 100, TEMPLATE), True)
            times = {
                "floor": timed(python, workdir, "floor", "- hosts: members\n  gather_facts: false\n  tasks:\n"
                               "    - ansible.builtin.ping:\n", False),
                "virtrigaud_vmset": timed(python, workdir, "vmset", set_play(options, "bench", 100, TEMPLATE), False),
                "vmware_guest": timed(python, workdir, "anchor", """- hosts: members
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
""" % (PORT, PASSWORD), False),
            }
    finally:
        vcsim(PORT, "stop")
    floor = times["floor"]
    print("vcsim: a set of 100 members made in %.1f s (parallelism 8); a no-op converge, forks 10:" % created)
    for name, seconds in times.items():
        print("  %-17s %6.2f s  %5.2fx the floor" % (name, seconds, seconds / floor))
    print("  virtrigaud_vmset is %.1fx faster than vmware_guest (goals: at most 0.2x the floor, at least 10x)"
          % (times["vmware_guest"] / times["virtrigaud_vmset"]))
    benchlib.figure("no-op converge of a 100-member set, virtrigaud_vmset", times["virtrigaud_vmset"], "s", floor,
                    "ansible.builtin.ping", "<= 0.2x the floor", times["virtrigaud_vmset"] <= 0.2 * floor)
    benchlib.figure("the same, community.vmware.vmware_guest (anchor)", times["vmware_guest"], "s", floor,
                    "ansible.builtin.ping", ">= 10x virtrigaud_vmset",
                    times["vmware_guest"] >= 10 * times["virtrigaud_vmset"])


def libvirt(python: str) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        (workdir / "hosts").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % python)
        for parallelism in (1, 4):
            name = "bench-p%d" % parallelism
            results[parallelism] = timed(python, workdir, "create-%d" % parallelism, set_play(
                LIBVIRT, name, 20, LIBVIRT_TEMPLATE, parallelism=parallelism), True)
            removal = set_play(LIBVIRT, name, 0, LIBVIRT_TEMPLATE, state="absent")
            timed(python, workdir, "remove-%d" % parallelism, removal, True)
    benchlib.figure("20 members created on libvirt, parallelism 4", results[4], "s", results[1], "parallelism 1")
    print("libvirt: 20 members created with parallelism 1 in %.1f s, with 4 in %.1f s (%.1fx)"
          % (results[1], results[4], results[1] / results[4]))


def main() -> None:
    benchlib.print_environment()
    python = venv_python()
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "libvirt-python"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["bash", "-c", "source scripts/lib.sh && build_tree"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    vsphere(python)
    libvirt(python)


if __name__ == "__main__":
    main()
