# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible-inventory --list`` with virtrigaud.core.virtrigaud against the anchors and the floors, in one run.

  python3 bench/inventory.py [--sizes 2000,10000] [--backends vcsim,libvirt-test,pve,mock] [--skip-anchors]
                             [--anchor-limit 4000] [--json results.json] [--keep-backend]

For each size, on vcsim, libvirt's test driver (a world in a file, ``libvirt-test``; the shared libvirtd with
``libvirt``, only when named), the fake PVE and a mock state file holding that many VMs, it
times each as one ``ansible-inventory --list`` process and reports time and
peak RSS:

- the floor: a script inventory printing the same hosts and host variables as
  one JSON document (BENCH.md's inventory floor), and up to 4,000 VMs a static
  YAML inventory of the same (not a floor: YAML parsing is slow);
- this collection's plugin with a ``vsphere``, ``libvirt``, ``proxmox`` or ``mock`` source, with its default
  (basic) host variables and with ``host_variables: full``, each against the floor of its own listing;
- a cache hit: the same plugin file with ``cache: true`` (jsonfile), read a second time;
- the anchors from the ``ansible`` package on PyPI (in a virtual environment
  of their own): community.vmware.vmware_vm_inventory and vmware.vmware.vms on
  vcsim, community.libvirt.libvirt on the same libvirt,
  community.proxmox.proxmox on the fake PVE.

Everything runs under the same ansible-core, on the same simulator, in the
same run; read the ratios, not the absolute times.  KubeVirt against kubevirt.core is
``bench/kubevirt.py``.

Goals (issue 23): every listing at most 2x its script floor and faster than every anchor, peak RSS at most
300 MiB at 10,000 VMs, a cache hit at most 1.2x the floor.
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
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import benchlib  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
CACHE = pathlib.Path(os.environ.get("VIRTRIGAUD_CACHE", pathlib.Path.home() / ".cache" / "virtrigaud"))
TREE = pathlib.Path(os.environ.get("VIRTRIGAUD_TREE", CACHE / "collections"))
VENV = CACHE / "venv-bench"
VCSIM = REPO / "scripts" / "testbed" / "vcsim.sh"
PASSWORD = "vr-bench-secret"
# Ports of the bench's own: not the test legs' nor vmset_converge.py's, so that they can all run at once; the
# environment can move them, so that two engineers can run it at once.
PORT = int(os.environ.get("VR_BENCH_VCSIM_PORT", "18994"))
PVE_PORT = int(os.environ.get("VR_BENCH_PVE_PORT", "18046"))
PVE_CONTROL = PVE_PORT + 1
PVEFAKE = REPO / "scripts" / "testbed" / "pvefake.sh"


def venv() -> pathlib.Path:
    """A virtual environment with the ``ansible`` package, for the anchors, and what our plugin needs."""
    if not (VENV / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "ansible>=12,<13",
                    "pyvmomi", "requests", "proxmoxer", "libvirt-python"], check=True)
    return VENV / "bin"


def vcsim(command: str, *args: str) -> None:
    # Building 10,000 VMs in the model takes minutes: wait up to 20 of them.
    env = dict(os.environ, VCSIM_PORT=str(PORT), VCSIM_PASSWORD=PASSWORD, VCSIM_START_TICKS="12000")
    subprocess.run([str(VCSIM), command, *args], check=True, env=env, stdout=subprocess.DEVNULL)


REPEAT = 1
KEEP_BACKEND = False
# community.proxmox with want_facts asks for each VM's config and status: 12.5 s for 2,000 VMs on a quiet machine,
# 375 s under a load average of 10.
SLOW_ANCHOR_LIMIT = 2000


def measure(bindir: pathlib.Path, inventory: pathlib.Path, env: dict) -> tuple[float, float, str, float]:
    """(seconds, peak RSS in MiB, stdout, CPU seconds) of ``ansible-inventory --list``: the fastest of ``REPEAT``."""
    runs = [measure_once(bindir, inventory, env) for dummy in range(REPEAT)]
    return min(runs, key=lambda run: run[0])


def measure_once(bindir: pathlib.Path, inventory: pathlib.Path, env: dict) -> tuple[float, float, str, float]:
    """(seconds, peak RSS in MiB, stdout, CPU seconds) of one ``ansible-inventory --list`` in a fresh process.

    The CPU seconds (user and system) are the process's own: on a shared machine they move far less than the
    wall time, though they leave out the time a backend takes to answer.
    """
    probe = ("import resource, subprocess, sys, time;"
             "t = time.perf_counter();"
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
             "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
             "print(time.perf_counter() - t, u.ru_maxrss / 1024.0, u.ru_utime + u.ru_stime);"
             "sys.stderr.write(r.stderr[-2000:] if r.returncode else '');"
             "open(sys.argv[0] + '.out', 'w').write(r.stdout)")
    out = pathlib.Path(tempfile.mkstemp(suffix=".probe")[1])
    result = subprocess.run([sys.executable, "-c", probe.replace("sys.argv[0] + '.out'", repr(str(out))),
                             str(bindir / "ansible-inventory"), "-i", str(inventory), "--list"],
                            capture_output=True, text=True, env=env, check=False)
    if result.stderr:
        print("  (stderr of %s: %s)" % (inventory.name, result.stderr.strip()[-400:]))
    seconds, rss, cpu = (float(v) for v in result.stdout.split())
    text = out.read_text()
    out.unlink()
    return seconds, rss, text, cpu


def unmark(value):
    """ansible-inventory --list shows plugin strings as {"__ansible_unsafe": value}."""
    if isinstance(value, dict):
        if list(value) == ["__ansible_unsafe"]:
            return value["__ansible_unsafe"]
        return {k: unmark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unmark(v) for v in value]
    return value


def pvefake(command: str, size: int = 0) -> None:
    env = dict(os.environ, PVEFAKE_PORT=str(PVE_PORT), PVEFAKE_CONTROL_PORT=str(PVE_CONTROL),
               PVEFAKE_PASSWORD=PASSWORD, PVEFAKE_SEED_VMS=str(size), PVEFAKE_ANCHOR_ROUTES="1",
               PVEFAKE_START_TICKS="3000",
               PYTHON=sys.executable)
    subprocess.run([str(PVEFAKE), command], check=True, env=env, stdout=subprocess.DEVNULL)


DOMAIN_XML = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
              "<os><type arch='x86_64'>hvm</type></os></domain>")


def libvirt_domains(count: int) -> None:
    """Define ``count`` bench domains on the local libvirtd (never started), or remove them all for 0."""
    import libvirt  # pylint: disable=import-outside-toplevel  # only this backend needs it

    connection = libvirt.open("qemu:///system")
    try:
        for domain in connection.listAllDomains(0):
            if domain.name().startswith("vrbench-"):
                domain.undefine()
        for index in range(count):
            connection.defineXML(DOMAIN_XML % ("vrbench-%04d" % index))
    finally:
        connection.close()


LIBVIRT_FILE = pathlib.Path(tempfile.gettempdir()) / ("vr-bench-libvirt-%s.xml" % uuid.uuid4().hex[:8])
TEST_DOMAIN_XML = ("<domain type='test'><name>vrbench-%05d</name><uuid>6695eb01-f6a4-8304-79aa-%012x</uuid>"
                   "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
                   "<devices><interface type='network'><source network='default'/>"
                   "<mac address='52:54:00:%02x:%02x:%02x'/></interface></devices></domain>")


def libvirt_file(path: pathlib.Path, count: int) -> None:
    """A libvirt test-driver world (``test:///PATH``) of ``count`` domains, each with one NIC.

    The test driver runs inside the client: a throwaway libvirt that no test leg sees, where defining 10,000
    domains in the shared libvirtd would take minutes and show up in every other engineer's listing.  It
    answers without a daemon's round trip, which favours an anchor that asks once per domain.
    """
    domains = "".join(TEST_DOMAIN_XML % (index, index, index >> 16 & 255, index >> 8 & 255, index & 255)
                      for index in range(count))
    path.write_text("<node>%s<network><name>default</name><bridge name='virbr0'/><forward/>"
                    "<ip address='192.168.122.1' netmask='255.255.255.0'/></network></node>" % domains)


def mock_world(path: pathlib.Path, count: int) -> None:
    """A mock provider state file with ``count`` VMs, one in three running, each with one NIC and two tags."""
    vms = {}
    for index in range(count):
        vm_id = "vm-%012x" % index
        vms[vm_id] = {
            "id": vm_id, "name": "bench-%05d" % index, "power": "On" if index % 3 == 0 else "Off", "cpu": 2,
            "memory_mib": 1024, "max_cpu": 8, "max_memory_mib": 4096, "firmware": "bios", "secure_boot": False,
            "disks": [{"name": "root", "size_gib": 10}],
            "nics": [{"name": "lan", "network": "lan", "bridge": None, "model": "virtio",
                      "mac_address": "52:54:00:%02x:%02x:%02x" % (index >> 16 & 255, index >> 8 & 255, index & 255),
                      "dns": [], "static_ip": None, "gateway": None}],
            "tags": ["bench", "web" if index % 2 else "db"], "placement": {}, "snapshots": []}
    path.write_text(json.dumps({"vms": vms}))


def fresh(script, name: str, size: int) -> None:
    """Stop what a run before left, unless asked to reuse it (``--keep-backend``) and it holds ``size`` VMs."""
    marker = CACHE / ("bench-%s.size" % name)
    if not KEEP_BACKEND or not marker.exists() or marker.read_text() != str(size):
        script("stop")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(size))


MOCK_STATE = pathlib.Path(tempfile.gettempdir()) / ("vr-bench-mock-%s.json" % uuid.uuid4().hex[:8])

BACKENDS = {
    "vcsim": {
        "start": lambda size: (fresh(vcsim, "vcsim", size), vcsim("start", str(size // 2))),
        "stop": lambda: vcsim("stop"),
        "ours": {"type": "vsphere", "name": "vcsim", "hostname": "127.0.0.1", "port": PORT, "username": "vr-admin",
                 "password": PASSWORD, "validate_certs": False},
        "anchors": {
            "community.vmware.vmware_vm_inventory": {
                "plugin": "community.vmware.vmware_vm_inventory", "hostname": "127.0.0.1:%d" % PORT,
                "username": "vr-admin", "password": PASSWORD, "validate_certs": False, "with_tags": False},
            "vmware.vmware.vms": {"plugin": "vmware.vmware.vms", "hostname": "127.0.0.1", "port": PORT,
                                  "username": "vr-admin", "password": PASSWORD, "validate_certs": False},
        },
    },
    "libvirt": {
        "start": libvirt_domains,
        "stop": lambda: libvirt_domains(0),
        "ours": {"type": "libvirt", "name": "lab", "uri": "qemu:///system"},
        "anchors": {"community.libvirt.libvirt": {"plugin": "community.libvirt.libvirt", "uri": "qemu:///system"}},
    },
    "libvirt-test": {
        "start": lambda size: libvirt_file(LIBVIRT_FILE, size),
        "stop": lambda: LIBVIRT_FILE.unlink(missing_ok=True),
        "ours": {"type": "libvirt", "name": "lab", "uri": "test://%s" % LIBVIRT_FILE},
        "anchors": {"community.libvirt.libvirt": {"plugin": "community.libvirt.libvirt",
                                                  "uri": "test://%s" % LIBVIRT_FILE}},
    },
    "pve": {
        "start": lambda size: (fresh(pvefake, "pve", size), pvefake("start", size)),
        "stop": lambda: pvefake("stop"),
        "ours": {"type": "proxmox", "name": "pve", "api_host": "127.0.0.1", "api_port": PVE_PORT,
                 "api_user": "root@pam", "api_password": PASSWORD, "validate_certs": False},
        "anchors": {
            "community.proxmox.proxmox": {
                "plugin": "community.proxmox.proxmox", "url": "https://127.0.0.1:%d" % PVE_PORT, "user": "root@pam",
                "password": PASSWORD, "validate_certs": False},
            "community.proxmox.proxmox, want_facts": {
                "plugin": "community.proxmox.proxmox", "url": "https://127.0.0.1:%d" % PVE_PORT, "user": "root@pam",
                "password": PASSWORD, "validate_certs": False, "want_facts": True},
        },
    },
    "mock": {
        "start": lambda size: mock_world(MOCK_STATE, size),
        "stop": lambda: MOCK_STATE.unlink(missing_ok=True),
        "ours": {"type": "mock", "name": "mock", "uri": "mock://%s" % MOCK_STATE},
        "anchors": {},
    },
}


OURS = "virtrigaud.core.virtrigaud"
FULL = "virtrigaud.core.virtrigaud, host_variables: full"
CACHED = "virtrigaud.core.virtrigaud, cache hit"


def files(folder: pathlib.Path, backend: dict) -> dict[str, pathlib.Path]:
    plugin = {"plugin": OURS, "sources": [backend["ours"]]}
    cache = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(folder / "cache"),
             "cache_timeout": 3600}
    texts = {OURS: plugin, FULL: dict(plugin, host_variables="full"), CACHED: dict(plugin, **cache)}
    texts.update(backend["anchors"])
    paths = {}
    for index, (label, content) in enumerate(texts.items()):
        if label.startswith(OURS):
            name = "ours%d.virtrigaud.yml" % index
        elif label == "community.libvirt.libvirt":
            name = "anchor.libvirt.yml"
        else:
            name = "anchor%d.%s.yml" % (index, label.split(".")[2].split(",")[0])
        paths[label] = folder / name
        paths[label].write_text(json.dumps(content))
    return paths


def floors(folder: pathlib.Path, listing: dict, tag: str = "") -> dict[str, pathlib.Path]:
    """A script inventory and a static YAML inventory with the plugin's hosts and host variables."""
    data = folder / ("floor%s.json" % tag)
    data.write_text(json.dumps(listing))
    script = folder / ("floor_script%s.py" % tag)
    script.write_text("#!%s\nimport sys\nsys.stdout.write(open(%r).read())\n" % (sys.executable, str(data)))
    script.chmod(0o755)
    static = folder / ("floor_static%s.yml" % tag)
    hostvars = listing["_meta"]["hostvars"]
    static.write_text(json.dumps({"all": {"hosts": hostvars}}))
    return {"script": script, "static": static}


def row(label: str, figure: tuple, floor: tuple, size: int, goal: str, backend: str) -> dict:
    return {"backend": backend, "vms": size, "what": label, "seconds": round(figure[0], 3),
            "peak_rss_mib": round(figure[1], 1), "floor_seconds": round(floor[0], 3),
            "ratio": round(figure[0] / floor[0], 2), "cpu_seconds": round(figure[3], 3),
            "floor_cpu_seconds": round(floor[3], 3), "cpu_ratio": round(figure[3] / floor[3], 2), "goal": goal}


def anchor_rows(label: str, result: tuple, base: tuple, size: int, name: str, folder: pathlib.Path,
                bindir: pathlib.Path, env: dict) -> list[dict]:
    """The anchor against ours, and against a script inventory of its own listing.

    An anchor that lists fewer variables and groups per host than ours has less for Ansible to store, check and
    print; the second ratio compares what each plugin adds over a script inventory of its own output.
    """
    listing = unmark(json.loads(result[2]))
    own = measure(bindir, floors(folder, listing, "-%s" % abs(hash(label)))["script"], env)
    return [row(label, result, base, size, "slower than ours", name),
            row("%s, against a script inventory of its own listing" % label, result, own, size, "", name)]


def compare(name: str, backend: dict, size: int, bindir: pathlib.Path, env: dict, anchors: bool) -> list[dict]:
    backend["start"](size)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = pathlib.Path(tmp)
            paths = files(folder, backend)
            ours = measure(bindir, paths[OURS], env)
            full = measure(bindir, paths[FULL], env)
            measure(bindir, paths[CACHED], env)
            cached = measure(bindir, paths[CACHED], env)
            listing = unmark(json.loads(ours[2]))
            hosts = len(listing["_meta"]["hostvars"])
            if hosts != size:
                raise RuntimeError("%s listed %d hosts on %s, not %d: a backend of another size was kept running?"
                                   % (OURS, hosts, name, size))
            floor = floors(folder, listing)
            base = measure(bindir, floor["script"], env)
            full_base = measure(bindir, floors(folder, unmark(json.loads(full[2])), "-full")["script"], env)
            rows = [row("floor: script inventory", base, base, size, "", name)]
            if size <= 4000:
                rows.append(row("static YAML (not a floor)", measure(bindir, floor["static"], env), base, size, "",
                                name))
            rows += [row(OURS, ours, base, size, "<= 2x floor", name),
                     row(CACHED, cached, base, size, "<= 1.2x floor", name),
                     row("floor: script inventory, full variables", full_base, full_base, size, "", name),
                     row(FULL, full, full_base, size, "<= 2x its floor", name)]
            if anchors:
                for label in backend["anchors"]:
                    if size <= SLOW_ANCHOR_LIMIT or "want_facts" not in label:
                        rows += anchor_rows(label, measure_once(bindir, paths[label], env), base, size, name,
                                            folder, bindir, env)
    finally:
        if not KEEP_BACKEND:
            backend["stop"]()
    print("ansible-inventory --list, %d VMs on %s (%d hosts listed by %s)" % (size, name, hosts, OURS))
    for entry in rows:
        print("  %-52s %7.2f s  %5.2fx the floor  CPU %6.2f s %5.2fx  peak RSS %6.1f MiB" % (
            entry["what"], entry["seconds"], entry["ratio"], entry["cpu_seconds"], entry["cpu_ratio"],
            entry["peak_rss_mib"]))
    report(name, size, rows, ours)
    return rows


def report(name: str, size: int, rows: list[dict], ours: tuple) -> None:
    """Each listing's wall time and CPU time against the floor's, the anchors against ours, and peak RSS."""
    for entry in rows[1:]:
        label = "inventory, %d VMs on %s: %s" % (size, name, entry["what"])
        if entry["goal"] == "slower than ours":
            benchlib.figure(label, entry["seconds"], "s", ours[0], OURS, "slower than ours", entry["seconds"] > ours[0])
            benchlib.figure(label + " (CPU)", entry["cpu_seconds"], "s", ours[3], OURS + " (CPU)", "more than ours",
                            entry["cpu_seconds"] > ours[3])
            print("  %s takes %.2fx the time of %s (%.2fx its CPU time); below 1 is faster" % (
                OURS, ours[0] / entry["seconds"], entry["what"], ours[3] / entry["cpu_seconds"]))
            continue
        limit = {"<= 2x floor": 2.0, "<= 1.2x floor": 1.2, "<= 2x its floor": 2.0}.get(entry["goal"])
        benchlib.figure(label, entry["seconds"], "s", entry["floor_seconds"], "script inventory", entry["goal"],
                        None if limit is None else entry["ratio"] <= limit)
        if limit is not None or entry["what"].endswith("its own listing"):
            met = None if limit is None else entry["cpu_ratio"] <= limit
            benchlib.figure(label + " (CPU)", entry["cpu_seconds"], "s", entry["floor_cpu_seconds"],
                            "script inventory (CPU)", entry["goal"], met)
    if size >= 10000:
        benchlib.figure("inventory, %d VMs on %s: peak RSS of %s" % (size, name, OURS), ours[1], "MiB", None, "",
                        "<= 300 MiB", ours[1] <= 300)


def markdown(rows: list[dict]) -> str:
    lines = ["| backend | VMs | what | s | floor s | × floor | CPU s | × floor CPU | peak RSS MiB | goal |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    lines += ["| %(backend)s | %(vms)d | %(what)s | %(seconds).2f | %(floor_seconds).2f | %(ratio).2f | "
              "%(cpu_seconds).2f | %(cpu_ratio).2f | %(peak_rss_mib).0f | %(goal)s |" % entry for entry in rows]
    return "\n".join(lines)


def versions(bindir: pathlib.Path) -> str:
    core = subprocess.run([str(bindir / "python"), "-c", "import ansible.release as r; print(r.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()
    return "ansible-core %s, Python %s, %d cores" % (core, platform.python_version(), os.cpu_count() or 0)


def main() -> int:
    global REPEAT, SLOW_ANCHOR_LIMIT, KEEP_BACKEND  # noqa: PLW0603  # one setting for every measurement of the run
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000", help="VM counts to measure, such as 2000,10000 (even numbers)")
    parser.add_argument("--backends", default=",".join(name for name in BACKENDS if name != "libvirt"),
                        help="which of: %s (libvirt, the shared libvirtd, only when named)" % ", ".join(BACKENDS))
    parser.add_argument("--skip-anchors", action="store_true")
    parser.add_argument("--anchor-limit", type=int, default=0,
                        help="measure the anchors only up to this many VMs (0: at every size)")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--slow-anchor-limit", type=int, default=SLOW_ANCHOR_LIMIT,
                        help="measure community.proxmox with want_facts (one call per VM) only up to this many VMs")
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of this many runs of each")
    parser.add_argument("--keep-backend", action="store_true",
                        help="leave vcsim or the fake PVE running, for the next run of the same size to reuse "
                             "(building 10,000 VMs in vcsim takes minutes)")
    args = parser.parse_args()
    REPEAT, SLOW_ANCHOR_LIMIT, KEEP_BACKEND = args.repeat, args.slow_anchor_limit, args.keep_backend
    bindir = venv()
    print(versions(bindir))
    # community.proxmox verifies the fake's certificate whatever validate_certs says: give it the fake's CA.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(TREE), ANSIBLE_INVENTORY_ENABLED="auto,script,yaml",
               ANSIBLE_HOST_KEY_CHECKING="false", PYTHONWARNINGS="ignore",
               REQUESTS_CA_BUNDLE=str(CACHE / "pvefake" / "tls.crt"))
    rows = []
    for name in args.backends.split(","):
        backend = BACKENDS[name.strip()]
        for size in (int(s) for s in args.sizes.split(",")):
            anchors = not args.skip_anchors and (not args.anchor_limit or size <= args.anchor_limit)
            rows += compare(name.strip(), backend, size, bindir, env, anchors)
    print(markdown(rows))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"versions": versions(bindir), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
