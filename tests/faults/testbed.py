# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fault cases need of the test bed: playbooks run in the background, the backends' own records
read without going through the collection, and the daemons killed and started again.

Everything here waits on a condition it polls, never on a fixed sleep.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any, Callable, Optional

REPO = pathlib.Path(__file__).resolve().parents[2]
TESTBED = REPO / "scripts" / "testbed"
URI = "qemu:///system"
POOL = "virtrigaud"
POOL_DIR = pathlib.Path("/var/lib/virtrigaud/pool")
DOMAIN_DIR = pathlib.Path("/etc/libvirt/qemu")
RUN_DIR = pathlib.Path("/run/virtrigaud-testbed")
LIBVIRT = {"provider_type": "libvirt", "uri": URI, "libvirt_domain_type": "qemu", "default_datastore": POOL}


def settle(condition: Callable[[], Any], timeout: float) -> bool:
    """Whether ``condition`` comes true within ``timeout`` seconds (for a backend finishing a step in flight)."""
    try:
        return bool(wait_for("a settled backend", condition, timeout=timeout))
    except AssertionError:
        return False


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 120.0, interval: float = 0.02) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))


class Play:
    """One ansible-playbook run of a single task, in the background; ``finish`` waits for it."""

    def __init__(self, workdir: pathlib.Path, name: str, connection: dict, module: str, args: dict) -> None:
        self.path = workdir / ("%s.yml" % name)
        self.path.write_text(json.dumps([{
            "hosts": "localhost", "gather_facts": False, "connection": "local",
            "module_defaults": {"group/virtrigaud.core.virtrigaud": connection},
            "tasks": [{"name": name, module: args, "register": "vr_result"},
                      {"ansible.builtin.copy": {"content": "{{ vr_result | to_json }}",
                                                "dest": str(self.path) + ".json", "mode": "0600"}}],
        }]))
        self.log = self.path.with_suffix(".log")
        env = dict(os.environ, ANSIBLE_NOCOLOR="1")
        self.started_at = time.monotonic()
        self.ended_at: Optional[float] = None
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["ansible-playbook", "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable,
                 str(self.path)], stdout=log, stderr=subprocess.STDOUT, env=env)
        threading.Thread(target=self._note_the_end, daemon=True).start()

    def _note_the_end(self) -> None:
        self.process.wait()
        self.ended_at = time.monotonic()

    def freeze(self) -> None:
        """Stop the run where it is, so a fault lands before its next step: every process of it, since
        Ansible's workers leave the playbook's process group (they call setsid)."""
        self._frozen = [self.process.pid] + descendants(self.process.pid)
        for pid in self._frozen:
            _signal(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in getattr(self, "_frozen", ()):
            _signal(pid, signal.SIGCONT)

    @property
    def seconds(self) -> float:
        """The run's own wall time, whenever it is asked."""
        return (self.ended_at or time.monotonic()) - self.started_at

    def finish(self, timeout: float = 300.0) -> tuple[bool, str]:
        """(succeeded, the task's message or its failure line)."""
        self.process.wait(timeout=timeout)
        result = pathlib.Path(str(self.path) + ".json")
        if self.process.returncode == 0 and result.exists():
            return True, "changed" if json.loads(result.read_text()).get("changed") else "ok"
        failure = [line for line in self.log.read_text().splitlines() if line.startswith("fatal:")]
        return False, failure[-1] if failure else self.log.read_text()[-600:]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (parents first)."""
    children: dict[int, list[int]] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(0), ()):
            found.append(child)
            queue.append(child)
    return found


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def run(workdir: pathlib.Path, name: str, connection: dict, module: str, args: dict) -> tuple[bool, str]:
    return Play(workdir, name, connection, module, args).finish()


# libvirt, read as libvirtd keeps it (files) or through virsh, never through the collection

def virsh(*args: str) -> str:
    return subprocess.run(["virsh", "-q", "-c", URI, *args], capture_output=True, text=True, check=True).stdout


def defined(name: str) -> bool:
    """libvirtd has written the domain's definition: the create is past its volumes."""
    return (DOMAIN_DIR / ("%s.xml" % name)).exists()


def running(name: str) -> bool:
    """libvirtd's live status says running: the start job is over (the guest may still be booting)."""
    status = pathlib.Path("/run/libvirt/qemu") / ("%s.xml" % name)
    return status.exists() and "state='running'" in status.read_text()


def sweep(prefix: str) -> None:
    """Take away the domains and volumes an earlier run of this prefix left, without the collection."""
    for name in domains(prefix):
        subprocess.run(["virsh", "-q", "-c", URI, "destroy", name], check=False, capture_output=True)
        subprocess.run(["virsh", "-q", "-c", URI, "undefine", "--nvram", name], check=False, capture_output=True)
    for volume in volumes(prefix):
        subprocess.run(["virsh", "-q", "-c", URI, "vol-delete", "--pool", POOL, volume], check=False,
                       capture_output=True)


def definition_says(name: str, pattern: str) -> bool:
    path = DOMAIN_DIR / ("%s.xml" % name)
    return path.exists() and re.search(pattern, path.read_text()) is not None


def domains(prefix: str) -> list[str]:
    return sorted(line.strip() for line in virsh("list", "--all", "--name").splitlines()
                  if line.strip().startswith(prefix))


def volumes(prefix: str) -> list[str]:
    virsh("pool-refresh", POOL)
    return sorted(line.split()[0] for line in virsh("vol-list", POOL).splitlines()
                  if line.strip() and line.split()[0].startswith(prefix))


def domain_volumes(name: str) -> list[str]:
    """The pool volumes a domain's disks point at."""
    return sorted(pathlib.Path(path).name for path in re.findall(r"<source file='([^']+)'", virsh("dumpxml", name))
                  if pathlib.Path(path).parent == POOL_DIR)


def orphans(prefix: str) -> list[str]:
    """Volumes of this run that no domain uses."""
    used = {volume for name in domains(prefix) for volume in domain_volumes(name)}
    return [volume for volume in volumes(prefix) if volume not in used]


# the daemons

def kill_pid(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_for("process %d to end" % pid, lambda: not pathlib.Path("/proc/%d" % pid).exists(), timeout=20)


def libvirtd_pid() -> int:
    return int(subprocess.run(["pgrep", "-xo", "libvirtd"], capture_output=True, text=True, check=True).stdout)


def kill_libvirtd() -> None:
    kill_pid(libvirtd_pid())


def start_libvirtd() -> None:
    subprocess.run([str(TESTBED / "libvirtd.sh"), "start"], check=True, capture_output=True)


class Runtime:
    """The collection's runtime over mTLS on ports of its own, with the real libvirtd behind it."""

    def __init__(self, port: int = 19643, http_port: int = 18643, backend: tuple[str, str] = ("libvirt", URI)) -> None:
        self.port, self.http_port, self.backend = port, http_port, backend
        self.env = dict(os.environ, RUNTIME_PORT=str(port), RUNTIME_HTTP_PORT=str(http_port), PYTHON=sys.executable)
        if backend[0] == "libvirt":
            # The runtime refuses settings its backend does not read.
            self.env.update(LIBVIRT_DOMAIN_TYPE="qemu", PROVIDER_DEFAULT_DATASTORE=POOL)
        pki = pathlib.Path(os.environ.get("VIRTRIGAUD_CACHE", pathlib.Path.home() / ".cache" / "virtrigaud"))
        pki = pki / "runtime-pki"
        self.connection = {"provider_type": "remote", "uri": "127.0.0.1:%d" % port,
                           "ca_path": str(pki / "ca" / "ca.crt"), "client_cert": str(pki / "client.crt"),
                           "client_key": str(pki / "client.key")}

    def start(self) -> None:
        started = subprocess.run([str(TESTBED / "runtime.sh"), "start", *self.backend], env=self.env,
                                 capture_output=True, text=True, check=False)
        if started.returncode:
            raise AssertionError("the runtime did not start: %s" % started.stderr[-1500:])

    def pid(self) -> int:
        return int((RUN_DIR / ("runtime-%d.pid" % self.port)).read_text())

    def kill(self) -> None:
        kill_pid(self.pid())

    def stop(self) -> None:
        subprocess.run([str(TESTBED / "runtime.sh"), "stop"], env=self.env, check=False, capture_output=True)

    def rss_kib(self) -> int:
        status = pathlib.Path("/proc/%d/status" % self.pid()).read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


# the fake PVE, through its control port

class FakePVE:
    def __init__(self, control: str = "http://127.0.0.1:18007") -> None:
        self.control = control

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.control + "/state", timeout=10) as answer:
            return json.loads(answer.read())

    def fault(self, **request: Any) -> None:
        body = json.dumps(request).encode()
        post = urllib.request.Request(self.control + "/faults", data=body, method="POST",
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(post, timeout=10):
            pass

    def vms(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {vmid: vm for vmid, vm in self.state().items()
                if vmid != "volumes" and str(vm["conf"].get("name", "")).startswith(prefix)}

    def orphans(self) -> list[str]:
        """Volumes allocated for a VMID that no VM's configuration (pending included) points at."""
        state = self.state()
        used = {str(value).split(",", maxsplit=1)[0] for vmid, vm in state.items() if vmid != "volumes"
                for section in (vm["conf"], vm["pending"]) for value in section.values()}
        return [volid for volid in state["volumes"] if volid not in used]


def scratch() -> pathlib.Path:
    return pathlib.Path(tempfile.mkdtemp(prefix="virtrigaud-faults-"))


def first_of(items: list[str]) -> Optional[str]:
    return items[0] if items else None
