# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No-op converge of 100 existing VMs on vcsim, against the per-host floor and community.vmware.

In one run, on one simulator, with ``forks: 10`` and ``connection: local``:

- floor: ``ansible.builtin.ping`` on the 100 hosts;
- ``virtrigaud.core.virtrigaud_vm`` with ``state: started`` (nothing to change);
- ``community.vmware.vmware_guest`` with ``state: poweredon`` (from the ``ansible`` package).

It prints each time and the ratios, then the time of one provider ``list_vms``
over 2,000 VMs against a bare PropertyCollector pass of their names.

    python3 bench/vsphere_converge.py          # after scripts/setup.sh
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time

import benchlib

REPO = pathlib.Path(__file__).resolve().parents[1]
CACHE = pathlib.Path(os.environ.get("VIRTRIGAUD_CACHE", pathlib.Path.home() / ".cache" / "virtrigaud"))
TREE = CACHE / "collections"
VENV = CACHE / "venv-bench"
VCSIM = REPO / "scripts" / "testbed" / "vcsim.sh"
PASSWORD = "vr-bench-secret"
CONVERGE_PORT, LIST_PORT = 18990, 18991


def venv_python() -> str:
    """A virtual environment with the ``ansible`` package, for community.vmware."""
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "ansible-playbook").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "ansible>=12,<13", "pyvmomi", "requests"], check=True)
    return str(python)


def vcsim(port: int, command: str, *args: str) -> None:
    env = dict(os.environ, VCSIM_PORT=str(port), VCSIM_PASSWORD=PASSWORD)
    subprocess.run([str(VCSIM), command, *args], check=True, env=env, stdout=subprocess.DEVNULL)


def connection(port: int) -> dict:
    return {"provider_type": "vsphere", "hostname": "127.0.0.1", "port": port, "username": "vr-admin",
            "password": PASSWORD, "validate_certs": False}


def open_provider(port: int):
    sys.path.insert(0, str(TREE))
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider as opener

    return opener(ProviderConfig(type="vsphere", uri="127.0.0.1", username="vr-admin", password=PASSWORD,
                                 validate_certs=False, options={"port": port}))


PLAYBOOKS = {
    "floor": "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n",
    "virtrigaud_vm": """- hosts: all
  gather_facts: false
  module_defaults:
    group/virtrigaud.core.virtrigaud: {connection}
  tasks:
    - virtrigaud.core.virtrigaud_vm:
        name: "{{{{ inventory_hostname }}}}"
        state: started
""",
    "vmware_guest": """- hosts: all
  gather_facts: false
  tasks:
    - community.vmware.vmware_guest:
        hostname: 127.0.0.1
        port: {port}
        username: vr-admin
        password: {password}
        validate_certs: false
        datacenter: DC0
        name: "{{{{ inventory_hostname }}}}"
        state: poweredon
""",
}


def play(python: str, workdir: pathlib.Path, name: str) -> float:
    bindir = pathlib.Path(python).parent
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(TREE), ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_FORKS="10", PATH="%s:%s" % (bindir, os.environ["PATH"]))
    started = time.perf_counter()
    result = subprocess.run([str(bindir / "ansible-playbook"), "-i", str(workdir / "hosts"),
                             str(workdir / ("%s.yml" % name))], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    recap = [line for line in result.stdout.splitlines() if "changed=" in line]
    if result.returncode or any("changed=0" not in line for line in recap):
        raise SystemExit("%s did not converge cleanly:\n%s" % (name, result.stdout[-3000:]))
    return elapsed


def converge(python: str) -> None:
    vcsim(CONVERGE_PORT, "stop")
    vcsim(CONVERGE_PORT, "start", "50")
    try:
        with open_provider(CONVERGE_PORT) as provider:
            names = sorted(vm.name for vm in provider.list_vms() if vm.power_state == "On")[:100]
        with tempfile.TemporaryDirectory() as tmp:
            workdir = pathlib.Path(tmp)
            (workdir / "hosts").write_text("[all]\n" + "".join(
                "%s ansible_connection=local ansible_python_interpreter=%s\n" % (n, python) for n in names))
            for name, text in PLAYBOOKS.items():
                body = text.format(connection=connection(CONVERGE_PORT), port=CONVERGE_PORT, password=PASSWORD)
                (workdir / ("%s.yml" % name)).write_text(body)
            times = {name: play(python, workdir, name) for name in PLAYBOOKS}
    finally:
        vcsim(CONVERGE_PORT, "stop")
    floor = times["floor"]
    print("no-op converge of %d VMs on vcsim, forks 10" % len(names))
    for name, seconds in times.items():
        print("  %-14s %6.1f s  %5.2fx the floor" % (name, seconds, seconds / floor))
    print("  virtrigaud_vm is %.1fx faster than vmware_guest" % (times["vmware_guest"] / times["virtrigaud_vm"]))
    benchlib.figure("no-op converge of %d VMs, virtrigaud_vm" % len(names), times["virtrigaud_vm"], "s", floor,
                    "ansible.builtin.ping", "<= 1.3x the floor", times["virtrigaud_vm"] <= 1.3 * floor)
    benchlib.figure("no-op converge of %d VMs, community.vmware.vmware_guest (anchor)" % len(names),
                    times["vmware_guest"], "s", floor, "ansible.builtin.ping", "slower than virtrigaud_vm",
                    times["vmware_guest"] > times["virtrigaud_vm"])


def listing() -> None:
    vcsim(LIST_PORT, "stop")
    vcsim(LIST_PORT, "start", "1000")
    try:
        with open_provider(LIST_PORT) as provider:
            from pyVmomi import vim  # pylint: disable=import-outside-toplevel

            from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import client

            provider.validate()
            bare, ours = [], []
            for _attempt in range(3):
                started = time.perf_counter()
                count = sum(1 for dummy in client.collect(provider.content, vim.VirtualMachine, ("name",)))
                bare.append(time.perf_counter() - started)
                started = time.perf_counter()
                listed = len(provider.list_vms())
                ours.append(time.perf_counter() - started)
    finally:
        vcsim(LIST_PORT, "stop")
    benchlib.figure("list_vms of %d VMs" % listed, min(ours), "s", min(bare), "bare PropertyCollector pass")
    print("list_vms of %d VMs: %.2f s; a bare PropertyCollector pass of %d names: %.2f s (%.1fx)"
          % (listed, min(ours), count, min(bare), min(ours) / min(bare)))


def main() -> None:
    benchlib.print_environment()
    python = venv_python()
    subprocess.run(["bash", "-c", "source scripts/lib.sh && build_tree"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    converge(python)
    listing()


if __name__ == "__main__":
    main()
