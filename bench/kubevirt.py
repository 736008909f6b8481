# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KubeVirt on the test bed's kube-apiserver and stand-in, against kubevirt.core and the floors, in one run.

  python3 bench/kubevirt.py [--vms 1000] [--converge 100] [--skip-inventory] [--skip-converge] [--keep-testbed]
                            [--repeat 3]

- Inventory of ``--vms`` VMs, each with its VMI, as one ``ansible-inventory --list`` process each: a script
  inventory printing the same hosts and variables (the floor), a static YAML inventory of the same, this
  collection's plugin with a ``kubevirt`` source, and kubevirt.core's ``kubevirt.core.kubevirt``.
- No-op converge of ``--converge`` running VMs made by ``virtrigaud_vmset``, ``forks: 10``,
  ``connection: local``: ``ansible.builtin.ping`` on them (the floor), ``virtrigaud_vm`` per host,
  ``kubevirt.core.kubevirt_vm`` per host (after one run that brings its labels in), and ``virtrigaud_vmset``
  for the whole set in one task.

kubevirt.core comes from the ``ansible`` package on PyPI, in the benchmarks' own virtual environment; every
play runs under that environment's ansible-core.  Its own kube-apiserver and stand-in run on other ports
than the test legs'.  Read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

from inventory import floors, measure, unmark, venv  # noqa: E402  # pylint: disable=wrong-import-position
from kubevirt_standin import client as k  # noqa: E402  # pylint: disable=wrong-import-position

import benchlib  # noqa: E402  # pylint: disable=wrong-import-position

CACHE = pathlib.Path(os.environ.get("VIRTRIGAUD_CACHE", pathlib.Path.home() / ".cache" / "virtrigaud"))
TREE = pathlib.Path(os.environ.get("VIRTRIGAUD_TREE", CACHE / "collections"))
PORTS = {"KUBE_APISERVER_PORT": "16473", "KUBE_ETCD_PORT": "12409", "KUBEVIRT_API_PORT": "18474"}
KUBECONFIG = "/run/virtrigaud-testbed/kube-%s.kubeconfig" % PORTS["KUBE_APISERVER_PORT"]
NAMESPACE = "vr-kubevirt"  # the test bed's, where the converge's set lives
INVENTORY_NAMESPACE = "vr-bench"
IMAGE = "quay.io/containerdisks/debian:12"


def testbed(command: str) -> None:
    env = dict(os.environ, **PORTS)
    for script in (("kube.sh", "kubevirt.sh") if command == "start" else ("kubevirt.sh", "kube.sh")):
        subprocess.run([str(REPO / "scripts" / "testbed" / script), command], check=True, env=env,
                       stdout=subprocess.DEVNULL)


def seed(count: int) -> None:
    """``count`` running VMs written as a user would (no DataVolumes), and wait for the stand-in's VMIs."""
    api = k.Api(KUBECONFIG)
    api.create(k.Kind("v1", "namespaces", namespaced=False),
               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INVENTORY_NAMESPACE}})

    def one(index: int) -> None:
        name = "vrbench-%04d" % index
        template = {"domain": {"cpu": {"sockets": 1}, "memory": {"guest": "128Mi"},
                               "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}],
                                           "interfaces": [{"name": "lan", "masquerade": {}}]}},
                    "networks": [{"name": "lan", "pod": {}}],
                    "volumes": [{"name": "root", "containerDisk": {"image": IMAGE}}]}
        api.create(k.VM, {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                          "metadata": {"name": name, "namespace": INVENTORY_NAMESPACE,
                                       "labels": {"bench": "inventory"}},
                          "spec": {"runStrategy": "Always", "template": {"spec": template}}})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))
    deadline = time.monotonic() + 600

    def settled() -> bool:
        """Every VMI made and every VM's status written: the stand-in is idle again, and out of the way."""
        vms = api.list(k.VM, INVENTORY_NAMESPACE).get("items") or []
        running = sum(1 for vm in vms if (vm.get("status") or {}).get("printableStatus") == "Running")
        return running == count and len(api.list(k.VMI, INVENTORY_NAMESPACE).get("items") or []) == count

    while not settled():
        if time.monotonic() > deadline:
            raise SystemExit("the stand-in did not start %d VMIs" % count)
        time.sleep(2)
    time.sleep(5)


def seeded() -> int:
    """How many VMs a run before left in the inventory's namespace (with ``--keep-testbed``)."""
    try:
        return len(k.Api(KUBECONFIG).list(k.VM, INVENTORY_NAMESPACE).get("items") or [])
    except Exception:  # pylint: disable=broad-except  # no test bed yet, or no namespace: nothing to reuse
        return 0


REPEAT = 3


def best(bindir: pathlib.Path, inventory_file: pathlib.Path, env: dict) -> tuple[float, float, str, float]:
    """The fastest of ``REPEAT`` runs: the machine is shared, and the first run warms the file cache."""
    runs = [measure(bindir, inventory_file, env) for dummy in range(REPEAT)]
    return min(runs, key=lambda run: run[0])


def inventory(bindir: pathlib.Path, count: int) -> None:
    # "auto" loads only the plugin a file names: naming both plugins here would load both in every run, the
    # floor's too (kubevirt.core brings the whole Kubernetes client).
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(TREE), ANSIBLE_INVENTORY_ENABLED="auto,script,yaml",
               ANSIBLE_INVENTORY_UNPARSED_FAILED="true", PATH="%s:%s" % (bindir, os.environ["PATH"]))
    started = time.perf_counter()
    if seeded() == count:
        print("reusing the %d VMs with VMIs a run before left (--keep-testbed)" % count)
    else:
        seed(count)
        print("seeded %d VMs with VMIs in %.0f s" % (count, time.perf_counter() - started))
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        ours = folder / "bench.virtrigaud.yml"
        ours.write_text(json.dumps({"plugin": "virtrigaud.core.virtrigaud", "sources": [
            {"type": "kubevirt", "name": "kv", "kubeconfig": KUBECONFIG, "namespaces": [INVENTORY_NAMESPACE]}]}))
        anchor = folder / "bench.kubevirt.yml"
        anchor.write_text(json.dumps({"plugin": "kubevirt.core.kubevirt", "kubeconfig": KUBECONFIG,
                                      "namespaces": [INVENTORY_NAMESPACE]}))
        seconds, rss, text, cpu = best(bindir, ours, env)
        listing = unmark(json.loads(text))
        hosts = len(listing["_meta"]["hostvars"])
        floor = floors(folder, listing)
        rows = [("floor: script inventory", best(bindir, floor["script"], env)),
                ("floor: static YAML", best(bindir, floor["static"], env)),
                ("virtrigaud (kubevirt source)", (seconds, rss, text, cpu)),
                ("kubevirt.core.kubevirt", best(bindir, anchor, env))]
    base = rows[0][1][0]
    print("ansible-inventory --list of %d KubeVirt VMs with VMIs (%d hosts from ours)" % (count, hosts))
    for name, (took, peak, dummy, dummy_cpu) in rows:
        print("  %-30s %7.2f s  %5.2fx the script floor   peak RSS %6.1f MiB" % (name, took, took / base, peak))
    print("  virtrigaud is %.1fx faster than kubevirt.core.kubevirt" % (rows[3][1][0] / rows[2][1][0]))
    benchlib.figure("inventory of %d KubeVirt VMs" % count, rows[2][1][0], "s", base, "script inventory",
                    "<= 2x the floor, faster than kubevirt.core",
                    rows[2][1][0] <= 2 * base and rows[2][1][0] < rows[3][1][0])
    benchlib.figure("inventory of %d KubeVirt VMs, kubevirt.core.kubevirt (anchor)" % count, rows[3][1][0], "s",
                    base, "script inventory")
    cpu_base, cpu_ours, cpu_anchor = rows[0][1][3], rows[2][1][3], rows[3][1][3]
    benchlib.figure("inventory of %d KubeVirt VMs (CPU)" % count, cpu_ours, "s", cpu_base, "script inventory (CPU)",
                    "<= 2x the floor, less than kubevirt.core", cpu_ours <= 2 * cpu_base and cpu_ours < cpu_anchor)
    benchlib.figure("inventory of %d KubeVirt VMs, kubevirt.core.kubevirt (anchor, CPU)" % count, cpu_anchor, "s",
                    cpu_base, "script inventory (CPU)")
    benchlib.figure("inventory of %d KubeVirt VMs, peak RSS" % count, rows[2][1][1], "MiB", rows[0][1][1],
                    "script inventory", "<= 300 MiB at 10,000 VMs")


CONNECTION = {"provider_type": "kubevirt", "kubeconfig": KUBECONFIG, "namespace": NAMESPACE}
TEMPLATE = {"cpu": 1, "memory": "128Mi", "image": IMAGE, "networks": [{"name": "lan", "network": "pod"}]}


def playbooks(spec: dict, count: int) -> dict[str, str]:
    group = json.dumps(CONNECTION)
    return {
        "floor": "- hosts: vms\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n",
        "virtrigaud_vm": "- hosts: vms\n  gather_facts: false\n  module_defaults:\n"
                         "    group/virtrigaud.core.virtrigaud: %s\n  tasks:\n"
                         "    - virtrigaud.core.virtrigaud_vm: %s\n"
                         % (group, json.dumps(dict(TEMPLATE, name="{{ inventory_hostname }}", state="started"))),
        "kubevirt_vm": "- hosts: vms\n  gather_facts: false\n  tasks:\n"
                       "    - kubevirt.core.kubevirt_vm: %s\n"
                       % json.dumps({"name": "{{ inventory_hostname }}", "namespace": NAMESPACE,
                                     "kubeconfig": KUBECONFIG, "run_strategy": "Always", "spec": spec,
                                     "labels": {"kubevirt.io/domain": "{{ inventory_hostname }}"}}),
        "virtrigaud_vmset": "- hosts: localhost\n  gather_facts: false\n  module_defaults:\n"
                            "    group/virtrigaud.core.virtrigaud: %s\n  tasks:\n"
                            "    - virtrigaud.core.virtrigaud_vmset: %s\n"
                            % (group, json.dumps({"name": "vrconv", "replicas": count, "parallelism": 10,
                                                  "template": TEMPLATE})),
    }


def play(bindir: pathlib.Path, workdir: pathlib.Path, name: str, must_be_noop: bool = True) -> float:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(TREE), ANSIBLE_FORKS="10",
               ANSIBLE_HOST_KEY_CHECKING="False", PATH="%s:%s" % (bindir, os.environ["PATH"]))
    started = time.perf_counter()
    result = subprocess.run([str(bindir / "ansible-playbook"), "-i", str(workdir / "hosts"),
                             str(workdir / ("%s.yml" % name))], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    recap = [line for line in result.stdout.splitlines() if "changed=" in line]
    if result.returncode or (must_be_noop and any("changed=0" not in line for line in recap)):
        raise SystemExit("%s did not converge cleanly:\n%s" % (name, result.stdout[-3000:]))
    return elapsed


def converge(bindir: pathlib.Path, count: int) -> None:
    python = bindir / "python"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        (workdir / "hosts").write_text("[vms]\n" + "".join(
            "vrconv-%d ansible_connection=local ansible_python_interpreter=%s\n" % (index, python)
            for index in range(count)))
        (workdir / "make.yml").write_text(playbooks({}, count)["virtrigaud_vmset"])
        started = time.perf_counter()
        play(bindir, workdir, "make", must_be_noop=False)
        print("made %d VMs with virtrigaud_vmset in %.0f s" % (count, time.perf_counter() - started))
        spec = k.Api(KUBECONFIG).get(k.VM, "vrconv-0", NAMESPACE)["spec"]["template"]["spec"]
        for name, text in playbooks(spec, count).items():
            (workdir / ("%s.yml" % name)).write_text(text)
        play(bindir, workdir, "kubevirt_vm", must_be_noop=False)  # brings its label in once
        names = ("floor", "virtrigaud_vm", "kubevirt_vm", "virtrigaud_vmset")
        times = {name: play(bindir, workdir, name) for name in names}
    floor = times["floor"]
    print("no-op converge of %d KubeVirt VMs, forks 10" % count)
    for name, seconds in times.items():
        print("  %-18s %6.1f s  %5.2fx the floor" % (name, seconds, seconds / floor))
    print("  virtrigaud_vm is %.1fx faster than kubevirt.core.kubevirt_vm"
          % (times["kubevirt_vm"] / times["virtrigaud_vm"]))
    for name, goal in (("virtrigaud_vm", 1.3), ("virtrigaud_vmset", 0.2)):
        benchlib.figure("no-op converge of %d KubeVirt VMs, %s" % (count, name), times[name], "s", floor,
                        "ansible.builtin.ping", "<= %sx the floor" % goal, times[name] <= goal * floor)
    benchlib.figure("no-op converge of %d KubeVirt VMs, kubevirt.core.kubevirt_vm (anchor)" % count,
                    times["kubevirt_vm"], "s", floor, "ansible.builtin.ping")


def main() -> None:
    global REPEAT  # noqa: PLW0603  # one setting for every measurement of the run
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--converge", type=int, default=100)
    parser.add_argument("--skip-inventory", action="store_true")
    parser.add_argument("--skip-converge", action="store_true")
    parser.add_argument("--keep-testbed", action="store_true",
                        help="leave the kube-apiserver and its VMs running, and reuse them if a run before left "
                             "them (seeding 10,000 VMs takes minutes)")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="keep the fastest of this many listings of each")
    args = parser.parse_args()
    REPEAT = args.repeat
    benchlib.print_environment()
    bindir = venv()
    subprocess.run(["bash", "-c", "source scripts/lib.sh && build_tree"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    if not args.keep_testbed:
        testbed("stop")
    testbed("start")
    try:
        if not args.skip_converge:
            converge(bindir, args.converge)
        if not args.skip_inventory:
            inventory(bindir, args.vms)
    finally:
        if not args.keep_testbed:
            testbed("stop")


if __name__ == "__main__":
    main()
