# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-operation cost of the libvirt provider against bare libvirt-python, in one run.

For each round, the same VM life (define, start, snapshot, destroy, delete) is
done twice on the test bed's libvirtd: once with hand-written libvirt-python
calls (the baseline), once through the provider.  It prints the median time of
each operation for both, and the ratio provider / baseline.

Run after ``scripts/setup.sh``:

    PYTHONPATH=~/.cache/virtrigaud/collections python3 bench/libvirt_ops.py [rounds]
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid

import libvirt

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import PowerOp, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

import benchlib

URI = "qemu:///system"
POOL = "virtrigaud"
IMAGE = "vr-tiny.qcow2"
OPERATIONS = ("define", "start", "snapshot", "destroy", "delete")


def bare_round(conn: libvirt.virConnect, name: str) -> dict[str, float]:
    """The baseline: the fewest libvirt-python calls that do the same work."""
    pool = conn.storagePoolLookupByName(POOL)
    image = pool.storageVolLookupByName(IMAGE)
    times = {}
    started = time.perf_counter()
    volume = pool.createXML(
        "<volume><name>%s-root.qcow2</name><capacity>%d</capacity><target><format type='qcow2'/></target>"
        "<backingStore><path>%s</path><format type='qcow2'/></backingStore></volume>"
        % (name, image.info()[1], image.path()), 0)
    domain = conn.defineXML(
        "<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>1024</memory>"
        "<currentMemory unit='MiB'>256</currentMemory><vcpu current='1'>4</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os><features><acpi/></features><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
        "<target dev='vda' bus='virtio'/></disk><interface type='network'><source network='default'/>"
        "<model type='virtio'/></interface><serial type='pty'/></devices></domain>"
        % (name, uuid.uuid4(), volume.path()))
    times["define"] = time.perf_counter() - started
    started = time.perf_counter()
    domain.create()
    times["start"] = time.perf_counter() - started
    time.sleep(3)
    started = time.perf_counter()
    domain.snapshotCreateXML("<domainsnapshot><name>bench</name></domainsnapshot>", 0)
    times["snapshot"] = time.perf_counter() - started
    started = time.perf_counter()
    domain.destroy()
    times["destroy"] = time.perf_counter() - started
    started = time.perf_counter()
    domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    volume.delete(0)
    times["delete"] = time.perf_counter() - started
    return times


def provider_round(name: str) -> dict[str, float]:
    """The same life through the provider, as the modules drive it."""
    config = ProviderConfig(type="libvirt", uri=URI, options={"domain_type": "qemu", "storage_pool": POOL})
    spec = parse_vm({"name": name, "cpu": 1, "memory": "256Mi", "image": IMAGE,
                     "networks": [{"name": "lan", "network": "default"}]})
    times = {}
    with open_provider(config) as provider:
        started = time.perf_counter()
        provider.check_spec(spec)
        vm_id, _task = provider.create(spec)
        times["define"] = time.perf_counter() - started
        started = time.perf_counter()
        provider.power(vm_id, PowerOp.ON)
        times["start"] = time.perf_counter() - started
        time.sleep(3)
        started = time.perf_counter()
        provider.snapshot_create(vm_id, "bench", include_memory=True)
        times["snapshot"] = time.perf_counter() - started
        started = time.perf_counter()
        provider.power(vm_id, PowerOp.OFF)
        times["destroy"] = time.perf_counter() - started
        started = time.perf_counter()
        provider.delete(vm_id)
        times["delete"] = time.perf_counter() - started
    return times


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    benchlib.print_environment()
    conn = libvirt.open(URI)
    bare: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    ours: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    for index in range(rounds):
        for op, seconds in bare_round(conn, "bench-bare-%d" % index).items():
            bare[op].append(seconds)
        for op, seconds in provider_round("bench-vr-%d" % index).items():
            ours[op].append(seconds)
    print("libvirt per-operation medians over %d rounds (TCG guest, 256 MiB)" % rounds)
    print("%-10s %14s %14s %8s" % ("operation", "libvirt-python", "provider", "ratio"))
    for op in OPERATIONS:
        base, mine = statistics.median(bare[op]), statistics.median(ours[op])
        print("%-10s %12.1f ms %12.1f ms %7.2fx" % (op, base * 1000, mine * 1000, mine / base))
        benchlib.figure("libvirt %s, median of %d" % (op, rounds), mine * 1000, "ms", base * 1000, "libvirt-python")


if __name__ == "__main__":
    main()
