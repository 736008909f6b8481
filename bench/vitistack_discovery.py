# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MachineProvider discovery per backend, against a bare listing of the same objects, in one run.

  PYTHONPATH=<collections tree> python3 bench/vitistack_discovery.py [--rounds 20] [--backends libvirt,...]

For each backend whose test bed answers (the real libvirtd at qemu:///system; vcsim from ``VMWARE_*``; the
fake PVE from ``PROXMOX_*``; a KubeVirt cluster from ``KUBECONFIG`` and ``KUBEVIRT_NAMESPACE``, such as
scripts/testbed/kubevirt.sh's), on one open connection, the median of ``--rounds``:

- ``discover()``: the provider's one call that reads networks, storage, hosts, instance types, images and
  capabilities, and translates them;
- the floor: the same kinds of objects listed with the backend's library and nothing else: libvirt's
  listAllNetworks, listAllStoragePools, getInfo and listAllDomains; one property collection per kind on vCenter;
  PVE's ``cluster/resources`` and each node's ``network``; one list per kind on Kubernetes.

Prints milliseconds and the ratio.  The machine is shared: read the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import Provider, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider


def median_ms(call: Callable[[], Any], rounds: int) -> float:
    call()  # warm: the first call opens the session
    times = []
    for dummy in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def libvirt_floor(provider: Any) -> Callable[[], Any]:
    conn = provider.conn
    return lambda: (conn.listAllNetworks(0), conn.listAllStoragePools(0), conn.getInfo(), conn.listAllDomains(0))


def vsphere_floor(provider: Any) -> Callable[[], Any]:
    from pyVmomi import vim  # pylint: disable=import-outside-toplevel

    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import client

    kinds = ((vim.Network, ("name",)), (vim.Datastore, ("name", "summary.capacity")),
             (vim.HostSystem, ("name", "summary.hardware.memorySize")), (vim.VirtualMachine, ("name",)))
    return lambda: [list(client.collect(provider.content, kind, props)) for kind, props in kinds]


def proxmox_floor(provider: Any) -> Callable[[], Any]:
    session = provider.session
    nodes = [node["node"] for node in session.get("nodes")]
    return lambda: (session.get("cluster/resources"), [session.get("nodes/%s/network" % node) for node in nodes])


def kubevirt_floor(provider: Any) -> Callable[[], Any]:
    from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt import client as api

    cluster, namespace = provider.cluster, provider.namespace
    kinds = ((api.NETWORK, namespace), (api.STORAGE_CLASS, None), (api.PVC, namespace),
             (api.CLASSES["VirtualMachineClusterInstancetype"], None))
    return lambda: [cluster.list(kind, where) for kind, where in kinds]


def configs() -> dict[str, tuple[ProviderConfig, Callable[[Any], Callable[[], Any]]]]:
    env = os.environ
    return {
        "libvirt": (ProviderConfig("libvirt", uri=env.get("LIBVIRT_DEFAULT_URI", "qemu:///system")), libvirt_floor),
        "vsphere": (ProviderConfig("vsphere", uri=env.get("VMWARE_HOST"), username=env.get("VMWARE_USER"),
                                   password=env.get("VMWARE_PASSWORD"), validate_certs=False,
                                   options={"port": int(env.get("VMWARE_PORT") or 443)}), vsphere_floor),
        "proxmox": (ProviderConfig("proxmox", uri=env.get("PROXMOX_HOST"), username=env.get("PROXMOX_USER"),
                                   password=env.get("PROXMOX_PASSWORD"), validate_certs=False,
                                   options={"port": int(env.get("PROXMOX_PORT") or 8006)}), proxmox_floor),
        "kubevirt": (ProviderConfig("kubevirt", options={"kubeconfig": env.get("KUBECONFIG"),
                                                         "namespace": env.get("KUBEVIRT_NAMESPACE", "default")}),
                     kubevirt_floor),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--backends", default="libvirt,vsphere,proxmox,kubevirt")
    args = parser.parse_args()
    print("%-9s %12s %12s %7s  %s" % ("backend", "discover ms", "floor ms", "ratio", "found"))
    for name in args.backends.split(","):
        config, floor = configs()[name]
        provider: Provider = open_provider(config)
        try:
            found = provider.discover()
            ours = median_ms(provider.discover, args.rounds)
            bare = median_ms(floor(provider), args.rounds)
        except Exception as err:  # a bench reports a backend it cannot reach and goes on
            print("%-9s skipped: %s" % (name, err))
            continue
        finally:
            provider.close()
        print("%-9s %12.1f %12.1f %6.2fx  %d networks, %d storages, %d hosts, %d images, %d instance types" % (
            name, ours, bare, ours / bare, len(found.networks), len(found.storages), len(found.hosts),
            len(found.images), len(found.instance_types)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
