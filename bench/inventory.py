# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible-inventory --list`` with virtrigaud.core.virtrigaud against the anchors and the floors, in one run.

  python3 bench/inventory.py [--sizes 1000,2000] [--backends vcsim,libvirt,pve] [--skip-anchors]

For each size, on vcsim, the local libvirtd and the fake PVE holding that many VMs, it
times each as one ``ansible-inventory --list`` process and reports time and
peak RSS:

- the floor: a script inventory printing the same hosts and host variables as
  one JSON document (BENCH.md's inventory floor), and a static YAML inventory
  of the same (the issue's floor);
- this collection's plugin with a ``vsphere`` or ``proxmox`` source;
- the anchors from the ``ansible`` package on PyPI (in a virtual environment
  of their own): community.vmware.vmware_vm_inventory and vmware.vmware.vms on
  vcsim, community.libvirt.libvirt on libvirtd (domains defined, not started),
  community.proxmox.proxmox on the fake PVE.

Everything runs under the same ansible-core, on the same simulator, in the
same run; read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
CACHE = pathlib.Path(os.environ.get("VIRTRIGAUD_CACHE", pathlib.Path.home() / ".cache" / "virtrigaud"))
TREE = CACHE / "collections"
VENV = CACHE / "venv-bench"
VCSIM = REPO / "scripts" / "testbed" / "vcsim.sh"
PASSWORD = "vr-bench-secret"
PORT = 18992
PVE_PORT, PVE_CONTROL = 18016, 18017
PVEFAKE = REPO / "scripts" / "testbed" / "pvefake.sh"


def venv() -> pathlib.Path:
    """A virtual environment with the ``ansible`` package, for the anchors, and what our plugin needs."""
    if not (VENV / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "ansible>=12,<13",
                    "pyvmomi", "requests", "proxmoxer", "libvirt-python"], check=True)
    return VENV / "bin"


def vcsim(command: str, *args: str) -> None:
    env = dict(os.environ, VCSIM_PORT=str(PORT), VCSIM_PASSWORD=PASSWORD)
    subprocess.run([str(VCSIM), command, *args], check=True, env=env, stdout=subprocess.DEVNULL)


def measure(bindir: pathlib.Path, inventory: pathlib.Path, env: dict) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, stdout) of one ``ansible-inventory --list`` in a fresh process."""
    probe = ("import resource, subprocess, sys, time;"
             "t = time.perf_counter();"
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0);"
             "sys.stderr.write(r.stderr[-2000:] if r.returncode else '');"
             "open(sys.argv[0] + '.out', 'w').write(r.stdout)")
    out = pathlib.Path(tempfile.mkstemp(suffix=".probe")[1])
    result = subprocess.run([sys.executable, "-c", probe.replace("sys.argv[0] + '.out'", repr(str(out))),
                             str(bindir / "ansible-inventory"), "-i", str(inventory), "--list"],
                            capture_output=True, text=True, env=env, check=False)
    if result.stderr:
        print("  (stderr of %s: %s)" % (inventory.name, result.stderr.strip()[-400:]))
    seconds, rss = (float(v) for v in result.stdout.split())
    text = out.read_text()
    out.unlink()
    return seconds, rss, text


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


BACKENDS = {
    "vcsim": {
        "start": lambda size: (vcsim("stop"), vcsim("start", str(size // 2))),
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
    "pve": {
        "start": lambda size: (pvefake("stop"), pvefake("start", size)),
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
}


def files(folder: pathlib.Path, backend: dict) -> dict[str, pathlib.Path]:
    texts = {"virtrigaud.core.virtrigaud": {"plugin": "virtrigaud.core.virtrigaud", "sources": [backend["ours"]]}}
    texts.update(backend["anchors"])
    paths = {}
    for index, (label, content) in enumerate(texts.items()):
        name = "ours.virtrigaud.yml" if index == 0 else "anchor%d.%s.yml" % (index, label.split(".")[2].split(",")[0])
        if label == "community.libvirt.libvirt":
            name = "anchor.libvirt.yml"
        paths[label] = folder / name
        paths[label].write_text(json.dumps(content))
    return paths


def floors(folder: pathlib.Path, listing: dict) -> dict[str, pathlib.Path]:
    """A script inventory and a static YAML inventory with the plugin's hosts and host variables."""
    data = folder / "floor.json"
    data.write_text(json.dumps(listing))
    script = folder / "floor_script.py"
    script.write_text("#!%s\nimport sys\nsys.stdout.write(open(%r).read())\n" % (sys.executable, str(data)))
    script.chmod(0o755)
    static = folder / "floor_static.yml"
    hostvars = listing["_meta"]["hostvars"]
    static.write_text(json.dumps({"all": {"hosts": hostvars}}))
    return {"script": script, "static": static}


def compare(name: str, backend: dict, size: int, bindir: pathlib.Path, env: dict, skip_anchors: bool) -> None:
    backend["start"](size)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = pathlib.Path(tmp)
            paths = files(folder, backend)
            ours = measure(bindir, paths["virtrigaud.core.virtrigaud"], env)
            listing = unmark(json.loads(ours[2]))
            hosts = len(listing["_meta"]["hostvars"])
            floor = floors(folder, listing)
            rows = [("floor: script inventory", measure(bindir, floor["script"], env)),
                    ("floor: static YAML", measure(bindir, floor["static"], env)),
                    ("virtrigaud.core.virtrigaud", ours)]
            if not skip_anchors:
                rows += [(label, measure(bindir, paths[label], env)) for label in backend["anchors"]]
    finally:
        backend["stop"]()
    base = rows[0][1]
    print("ansible-inventory --list, %d VMs on %s (%d hosts listed by virtrigaud.core.virtrigaud)"
          % (size, name, hosts))
    for label, (seconds, rss, dummy) in rows:
        print("  %-38s %7.2f s  %5.2fx the script floor   peak RSS %6.1f MiB  %4.2fx" % (
            label, seconds, seconds / base[0], rss, rss / base[1]))
    for label, (seconds, dummy, dummy2) in rows[3:]:
        print("  virtrigaud.core.virtrigaud is %.1fx faster than %s" % (seconds / ours[0], label))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000", help="VM counts to measure, such as 1000,2000 (even numbers)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="which of: %s" % ", ".join(BACKENDS))
    parser.add_argument("--skip-anchors", action="store_true")
    args = parser.parse_args()
    bindir = venv()
    # community.proxmox verifies the fake's certificate whatever validate_certs says: give it the fake's CA.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(TREE), ANSIBLE_INVENTORY_ENABLED="auto,script,yaml",
               ANSIBLE_HOST_KEY_CHECKING="false", PYTHONWARNINGS="ignore",
               REQUESTS_CA_BUNDLE=str(CACHE / "pvefake" / "tls.crt"))
    for name in args.backends.split(","):
        backend = BACKENDS[name.strip()]
        for size in (int(s) for s in args.sizes.split(",")):
            compare(name, backend, size, bindir, env, args.skip_anchors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
