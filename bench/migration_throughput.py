# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk migration throughput through the runtime (ExportDisk then ImportDisk) against qemu-img convert plus a copy.

  PYTHONPATH=<collections tree> python3 bench/migration_throughput.py [size_mib] [rounds]

On the test bed's libvirtd, in a storage pool of its own (a folder under /var/tmp, removed at the end), it makes a
raw disk of ``size_mib`` (1024) MiB of random bytes and a stopped VM that owns it, and starts its own runtime
(libvirt backend, mTLS, scripts/testbed/runtime.sh on ports 19853 and 18853).  Each round, in turn:

- the floor: ``qemu-img convert -O qcow2`` of the disk's file to a staging file, then a copy of that file into
  the pool folder, as a hand-made migration would do;
- through the runtime: ExportDisk to a qcow2 file (converted, SHA-256 reported), then ImportDisk of that file into
  the pool with the checksum verified.

It prints the best time of each and the throughput ratio floor / runtime (goal >= 0.8), and checks that the
checksum the import reports is the export's.  The machine is shared: read the ratio, not the seconds.
"""

from __future__ import annotations

import os
import pathlib
import random
import shutil
import string
import subprocess
import sys
import tempfile
import time
import uuid

import libvirt

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from faults.testbed import Runtime  # noqa: E402

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig  # noqa: E402
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.client import Channel  # noqa: E402

import benchlib  # noqa: E402

URI = "qemu:///system"
MIB = 1024 * 1024
GOAL = 0.8


def make_disk(path: pathlib.Path, size_mib: int) -> None:
    block = os.urandom(4 * MIB)
    with open(path, "wb") as handle:
        for index in range(size_mib // 4):
            # A different first byte per block, so that no two blocks are alike.
            handle.write(bytes([index % 256]) + block[1:])


def make_pool(conn: libvirt.virConnect, name: str, folder: pathlib.Path) -> libvirt.virStoragePool:
    pool = conn.storagePoolCreateXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, folder), 0)
    return pool


def make_vm(conn: libvirt.virConnect, name: str, disk: pathlib.Path) -> libvirt.virDomain:
    return conn.defineXML(
        "<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
        "<driver name='qemu' type='raw'/><source file='%s'/><target dev='vda' bus='virtio'/></disk></devices>"
        "</domain>" % (name, uuid.uuid4(), disk))


def floor_round(disk: pathlib.Path, staging: pathlib.Path, pool_dir: pathlib.Path) -> tuple[float, float]:
    started = time.perf_counter()
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(disk), str(staging)], check=True)
    convert_seconds = time.perf_counter() - started
    shutil.copyfile(staging, pool_dir / "floor.qcow2")
    seconds = time.perf_counter() - started
    staging.unlink()
    (pool_dir / "floor.qcow2").unlink()
    return seconds, convert_seconds


def runtime_round(channel: Channel, vm_id: str, exported: pathlib.Path, pool: libvirt.virStoragePool,
                  name: str) -> tuple[float, float, str, str]:
    started = time.perf_counter()
    export = channel.call("ExportDisk", vm_id=vm_id, destination_url=str(exported), format="qcow2")
    export_seconds = time.perf_counter() - started
    imported = channel.call("ImportDisk", source_url="file://%s" % exported, target_name=name,
                            storage_hint=pool.name(), format="qcow2", verify_checksum=True,
                            expected_checksum=export.checksum)
    seconds = time.perf_counter() - started
    pool.refresh(0)
    pool.storageVolLookupByName(name).delete(0)
    exported.unlink()
    return seconds, export_seconds, export.checksum, imported.checksum


def main() -> None:
    size_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    benchlib.print_environment()
    tag = "".join(random.choice(string.ascii_lowercase + string.digits) for dummy in range(6))
    work = pathlib.Path(tempfile.mkdtemp(prefix="vrbench-disks-", dir="/var/tmp"))
    pool_dir = work / "pool"
    pool_dir.mkdir()
    disk = pool_dir / "source.raw"
    conn = libvirt.open(URI)
    runtime = Runtime(port=19853, http_port=18853)
    pool = domain = None
    try:
        make_disk(disk, size_mib)
        pool = make_pool(conn, "vrbench-%s" % tag, pool_dir)
        domain = make_vm(conn, "vrbench-%s" % tag, disk)
        runtime.start()
        config = ProviderConfig(type="remote", uri=runtime.connection["uri"], options=runtime.connection)
        channel = Channel(config, "bench-%s" % tag)
        floors, throughs = [], []
        for index in range(rounds):
            floor, convert_seconds = floor_round(disk, work / "staging.qcow2", pool_dir)
            floors.append(floor)
            seconds, export_seconds, exported, imported = runtime_round(
                channel, domain.UUIDString(), work / "export.qcow2", pool, "vrbench-%s-%d" % (tag, index))
            if exported != imported:
                raise SystemExit("the import reports sha256 %s, the export %s" % (imported, exported))
            throughs.append(seconds)
            times = (index + 1, floor, convert_seconds, floor - convert_seconds, seconds, export_seconds,
                     seconds - export_seconds)
            print("round %d: floor %.2f s (convert %.2f s, copy %.2f s); runtime %.2f s (ExportDisk %.2f s, "
                  "ImportDisk %.2f s)" % times, flush=True)
        channel.close()
    finally:
        runtime.stop()
        if domain is not None:
            domain.undefine()
        if pool is not None:
            pool.destroy()
        conn.close()
        shutil.rmtree(work, ignore_errors=True)
    floor, through = min(floors), min(throughs)
    ratio = floor / through
    print("migration_throughput: %d MiB disk, best of %d: floor (qemu-img convert + copy) %.2f s = %.0f MiB/s; "
          "runtime (ExportDisk + ImportDisk, checksums) %.2f s = %.0f MiB/s; ratio %.2f (goal >= %.1f); "
          "the machine was shared" % (size_mib, rounds, floor, size_mib / floor, through, size_mib / through,
                                      ratio, GOAL))
    benchlib.figure("disk migration throughput, %d MiB" % size_mib, size_mib / through, "MiB/s", size_mib / floor,
                    "qemu-img convert + copy", ">= %.1fx the floor" % GOAL, ratio >= GOAL)


if __name__ == "__main__":
    main()
