# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What KubeVirt can take of a spec, checked before anything is read or written; references to its objects parsed.
No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

from ... import errors
from ...spec import NetworkSpec, VMSpec

MODELS = ("virtio", "e1000", "e1000e", "rtl8139")
CLASS_KINDS = {
    "instancetype": ("VirtualMachineClusterInstancetype", "VirtualMachineInstancetype"),
    "preference": ("VirtualMachineClusterPreference", "VirtualMachinePreference"),
}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class Image:
    """Where a root disk comes from: a containerDisk image, or a PVC to clone."""

    container: Optional[str] = None
    pvc: Optional[str] = None
    namespace: Optional[str] = None


@dataclass(frozen=True)
class Placement:
    """The connection's settings that shape a new VM."""

    namespace: str
    storage_class: Optional[str] = None
    instancetype: Optional[Mapping[str, str]] = None
    preference: Optional[Mapping[str, str]] = None


def check_name(name: str, option: str = "name") -> str:
    """KubeVirt names a VM's pod and guest after it: a DNS label."""
    if not _LABEL.match(name):
        raise errors.SpecError("'%s' is not a KubeVirt VM name: at most 63 lower-case letters, digits and '-', "
                               "starting and ending with a letter or digit" % name, option=option)
    return name


def parse_image(image: str, namespace: str) -> Image:
    """``docker://REF`` or a reference with a registry host is a containerDisk; ``[pvc:][NAMESPACE/]NAME`` a PVC."""
    if image.startswith("docker://"):
        return Image(container=image[len("docker://"):])
    first = image.split("/", 1)[0]
    if not image.startswith("pvc:") and "/" in image and ("." in first or ":" in first or first == "localhost"):
        return Image(container=image)
    name = image[len("pvc:"):] if image.startswith("pvc:") else image
    source_namespace, dummy, claim = name.rpartition("/")
    if not object_ref(name):
        raise errors.SpecError("'%s' is neither a containerDisk image (registry/name:tag or docker://...) nor a "
                               "PVC as [NAMESPACE/]NAME" % image, option="image")
    return Image(pvc=claim, namespace=source_namespace or namespace)


def object_ref(value: str) -> bool:
    """Whether ``value`` is ``[NAMESPACE/]NAME`` of a namespaced object, and no path trick."""
    namespace, dummy, name = value.rpartition("/")
    return bool(_SUBDOMAIN.match(name) and ".." not in name and (not namespace or _LABEL.match(namespace)))


def class_ref(value: Optional[str], what: str) -> Optional[dict[str, str]]:
    """``NAME`` is cluster-wide (KubeVirt's default kind); ``KIND/NAME`` names the kind, namespaced or not."""
    if not value:
        return None
    cluster, namespaced = CLASS_KINDS[what]
    kind, dummy, name = value.rpartition("/")
    kinds = {cluster.lower(): cluster, namespaced.lower(): namespaced}
    if kind and kind.lower() not in kinds:
        raise errors.SpecError("'%s' is not a kind of %s; use NAME, %s/NAME or %s/NAME"
                               % (kind, what, cluster.lower(), namespaced.lower()), option=what)
    return {"kind": kinds[kind.lower()] if kind else cluster, "name": name}


def check_nics(networks: tuple[NetworkSpec, ...]) -> None:
    """What KubeVirt cannot do with these NICs, named by option."""
    for index, network in enumerate(networks):
        where = "networks[%d]" % index
        if network.bridge:
            raise errors.SpecError("KubeVirt reaches host bridges through a NetworkAttachmentDefinition; name it in "
                                   "%s.network" % where, option=where + ".bridge")
        for key in ("ip_address", "gateway", "prefix", "dns"):
            if getattr(network, key):
                raise errors.SpecError("KubeVirt guests take static addresses from cloud-init: give them in "
                                       "cloud_init.network_config", option="%s.%s" % (where, key))
        if network.network and not object_ref(network.network):
            raise errors.SpecError("'%s' is not a NetworkAttachmentDefinition as [NAMESPACE/]NAME" % network.network,
                                   option=where + ".network")
        if network.model and network.model not in MODELS:
            raise errors.SpecError("KubeVirt has no '%s' NIC model; use one of %s" % (network.model, ", ".join(MODELS)),
                                   option=where + ".model")


def check_spec(spec: VMSpec, placement: Placement, image: Optional[Image]) -> None:
    """What KubeVirt cannot do with this spec, named by option, before anything is read or written."""
    check_name(spec.name)
    check_nics(spec.networks)
    for key in ("cluster", "folder", "resource_pool"):
        if getattr(spec.placement, key):
            raise errors.SpecError("KubeVirt places VMs by namespace and node; placement.%s has no meaning there"
                                   % key, option="placement." + key)
    for index, disk in enumerate(spec.disks):
        preallocation(disk.type, "disks[%d].type" % index)
    preallocation(spec.disk_type, "disk_defaults.type")
    for value, option in ((spec.cpu, "cpu"), (spec.memory_mib, "memory")):
        if placement.instancetype and value is not None:
            raise errors.SpecError("the instancetype '%s' sets the CPU and memory; do not set %s as well"
                                   % (placement.instancetype["name"], option), option=option)
    if image and image.container and spec.root_disk_gib:
        raise errors.SpecError("a containerDisk root disk is as large as its image; disk_defaults.size needs a PVC "
                               "image", option="disk_defaults.size")
    meta_hostname(spec.cloud_init.meta_data)


def check_storage_class(name: str, option: str) -> None:
    if not _SUBDOMAIN.match(name) or ".." in name:
        raise errors.SpecError("'%s' is not a StorageClass name" % name, option=option)


def preallocation(disk_type: str, option: str) -> bool:
    if disk_type in ("thin", "thick", "eagerzeroedthick"):
        return disk_type != "thin"
    raise errors.SpecError("KubeVirt disks are thin or thick (preallocated); the StorageClass decides the medium, "
                           "not '%s'" % disk_type, option=option)


def meta_hostname(meta_data: Optional[str]) -> Optional[str]:
    """KubeVirt writes the NoCloud meta-data itself; only its local-hostname can be chosen (as the hostname)."""
    if not meta_data:
        return None
    import yaml  # pylint: disable=import-outside-toplevel  # ships with ansible-core

    try:
        data = yaml.safe_load(meta_data)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        raise errors.SpecError("is not a YAML mapping", option="cloud_init.meta_data")
    others = sorted(set(data) - {"local-hostname"})
    if others:
        raise errors.SpecError("KubeVirt writes the meta-data itself and takes only local-hostname from it, not %s"
                               % ", ".join(others), option="cloud_init.meta_data")
    return check_name(str(data["local-hostname"]), "cloud_init.meta_data") if "local-hostname" in data else None
