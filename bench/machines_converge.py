# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""100 vitistack Machines converged by one ``virtrigaud_machines`` task, with nothing to change, against the floor.

In one run, with ``forks: 10`` and ``connection: local``, on a kube-apiserver of its own holding the Machines:

- on vcsim and on the fake PVE, 100 Machines (four sizes) are made VMs by one task, and then converged again
  with nothing to change; the floor is ``ansible.builtin.ping`` over 100 hosts, as in bench/vmset_converge.py.

Goal (issue 20): the no-op converge at most 0.2x the floor, as for VM sets.

    python3 bench/machines_converge.py        # after scripts/setup.sh; needs Go for vcsim and kube-apiserver
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import vmset_converge  # noqa: E402
from vmset_converge import timed  # noqa: E402

import vsphere_converge  # noqa: E402
from vsphere_converge import CACHE, PASSWORD, REPO, connection, vcsim, venv_python  # noqa: E402

# A collection tree of its own, so that the bench never rewrites the one a locked test run is using.
TREE = CACHE / "tree-bench-machines"
vsphere_converge.TREE = vmset_converge.TREE = TREE

TESTBED = REPO / "scripts" / "testbed"
KUBE = {"KUBE_APISERVER_PORT": "16743", "KUBE_ETCD_PORT": "12779"}
VCSIM_PORT = 18993
PVE = {"PVEFAKE_PORT": "18106", "PVEFAKE_CONTROL_PORT": "18107", "PVEFAKE_PASSWORD": PASSWORD}
COUNT = 100
SIZES = [{"cpu": {"cores": 1}, "memory": 128 * 2**20}, {"cpu": {"cores": 2}, "memory": 256 * 2**20},
         {"cpu": {"cores": 1, "sockets": 2}, "memory": 192 * 2**20}, {"cpu": {"cores": 2}, "memory": 160 * 2**20}]


def testbed(script: str, command: str, env: dict) -> str:
    result = subprocess.run([str(TESTBED / script), command], env=dict(os.environ, **env), capture_output=True,
                            text=True, check=True)
    return result.stdout


def kubectl(kubeconfig: str, *args: str, stdin: str = "") -> None:
    subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def machines(namespace: str, provider: str, image: str, network: str) -> str:
    items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
    for index in range(COUNT):
        spec = dict(SIZES[index % len(SIZES)], provider=provider, os={"imageID": image},
                    disks=[{"name": "root", "sizeGB": 1, "boot": True}],
                    network={"interfaces": [{"name": "lan", "subnet": network}]})
        items.append({"apiVersion": "vitistack.io/v1alpha1", "kind": "Machine",
                      "metadata": {"name": "%s-%d" % (namespace, index), "namespace": namespace}, "spec": spec})
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def machines_play(kubeconfig: str, options: dict, namespace: str) -> str:
    task = dict(options, machine_namespace=namespace, power_state="stopped", parallelism=8,
                rate_limit={"qps": 100, "burst": 100})
    return ("- hosts: localhost\n  gather_facts: false\n  module_defaults:\n"
            "    group/virtrigaud.core.virtrigaud: {kubeconfig: %s}\n  tasks:\n"
            "    - virtrigaud.core.virtrigaud_machines: %s\n" % (json.dumps(kubeconfig), json.dumps(task)))


def leg(python: str, workdir: pathlib.Path, kubeconfig: str, name: str, options: dict, image: str,
        network: str) -> dict:
    namespace = "bench-%s" % name
    kubectl(kubeconfig, "apply", "-f", "-", stdin=machines(namespace, options["provider_type"], image, network))
    play = machines_play(kubeconfig, options, namespace)
    created = timed(python, workdir, "%s-create" % name, play, True)
    return {"created": created, "noop": timed(python, workdir, "%s-noop" % name, play, False)}


def pve_options() -> dict:
    return {"provider_type": "proxmox", "api_host": "127.0.0.1", "api_port": int(PVE["PVEFAKE_PORT"]),
            "api_user": "root@pam", "api_password": PASSWORD, "validate_certs": False,
            "default_datastore": "ceph-vm"}


def vsphere_ready(python: str) -> None:
    vcsim(VCSIM_PORT, "stop")
    vcsim(VCSIM_PORT, "start", "1")
    env = dict(os.environ, VCSIM_PORT=str(VCSIM_PORT), VCSIM_PASSWORD=PASSWORD)
    exports = subprocess.run([str(TESTBED / "vcsim.sh"), "env"], env=env, capture_output=True, text=True,
                             check=True).stdout
    for line in exports.splitlines():
        for pair in line.replace("export ", "").split():
            key, value = pair.split("=", 1)
            env[key] = value
    subprocess.run([python, str(TESTBED / "seed-template.py"), "vr-template"], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def copy_tree() -> None:
    """The checkout's files into the bench's own collection tree."""
    target = TREE / "ansible_collections" / "virtrigaud" / "core"
    target.mkdir(parents=True, exist_ok=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout
    subprocess.run(["rsync", "-a", "--from0", "--files-from=-", "%s/" % REPO, "%s/" % target], input=files,
                   check=True)


def main() -> None:
    python = venv_python()
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "kubernetes", "proxmoxer"],
                   check=True, stdout=subprocess.DEVNULL)
    copy_tree()
    testbed("kube.sh", "restart", KUBE)
    testbed("pvefake.sh", "restart", PVE)
    results = {}
    try:
        kubeconfig = "/run/virtrigaud-testbed/kube-%s.kubeconfig" % KUBE["KUBE_APISERVER_PORT"]
        kubectl(kubeconfig, "apply", "--server-side", "-f", str(REPO / "roles/crds/files/vitistack"))
        kubectl(kubeconfig, "wait", "--for=condition=Established", "crd/machines.vitistack.io")
        vsphere_ready(python)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = pathlib.Path(tmp)
            (workdir / "hosts").write_text("[members]\n" + "".join(
                "m%d ansible_connection=local ansible_python_interpreter=%s\n" % (n, python) for n in range(COUNT))
                + "[local]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n" % python)
            floor = timed(python, workdir, "floor", "- hosts: members\n  gather_facts: false\n  tasks:\n"
                          "    - ansible.builtin.ping:\n", False)
            results["vcsim"] = leg(python, workdir, kubeconfig, "vs", connection(VCSIM_PORT), "vr-template",
                                   "VM Network")
            results["fake PVE"] = leg(python, workdir, kubeconfig, "pve", pve_options(), "vr-template", "vmbr0")
    finally:
        vcsim(VCSIM_PORT, "stop")
        testbed("pvefake.sh", "stop", PVE)
        testbed("kube.sh", "stop", KUBE)
    print("%d Machines, one virtrigaud_machines task; floor: ping over %d hosts, forks 10: %.2f s"
          % (COUNT, COUNT, floor))
    for name, times in results.items():
        print("  %-9s made in %6.2f s; no-op converge %5.2f s = %.2fx the floor (goal: at most 0.2x)"
              % (name, times["created"], times["noop"], times["noop"] / floor))


if __name__ == "__main__":
    main()
