# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A MachineProvider's capabilities from what ``Provider.discover()`` found, merged under what the user set
(pure: no I/O).

Each discovered field lands where the CRD has room for it: networks in ``network.availableVPCs``, storage in
``capabilities.storageTypes`` and ``storage.storageClasses``, the largest host in ``compute``, instance types
in ``capabilities.machineClasses``, images in ``capabilities.operatingSystems``, and the feature flags in
``config`` under ``features.<name>``.  A field the user set, at that depth, is left as given.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from ..errors import SpecError
from ..providers.discovery import MIB_PER_GIB, Discovery, InstanceType
from ..spec import parse_memory_mib
from .vitistack_schema import API_VERSION

# The MachineProvider types the provider layer can discover.
DISCOVERABLE_TYPES = ("kubevirt", "libvirt", "proxmox", "vsphere")
FEATURE_PREFIX = "features."
# Distributions an image's name may tell, and their family.
_DISTRIBUTIONS = {
    "debian": "linux", "ubuntu": "linux", "centos": "linux", "rocky": "linux", "almalinux": "linux",
    "alma": "linux", "fedora": "linux", "rhel": "linux", "opensuse": "linux", "sles": "linux", "flatcar": "linux",
    "talos": "linux", "alpine": "linux", "windows": "windows", "freebsd": "freebsd",
}
_VERSION = re.compile(r"^v?(\d+(?:[.]\d+)*)")
# A distribution's name, alone or with its version attached (rocky9, debian.12).
_WORD = re.compile(r"^(%s)[.]?(\d[\w.]*)?$" % "|".join(sorted(_DISTRIBUTIONS, key=len, reverse=True)))


@dataclass(frozen=True)
class Merged:
    """The spec with discovered values where the user set none, and the fields (dotted, camelCase) that came
    from discovery."""

    spec: dict[str, Any]
    discovered: tuple[str, ...]


def check_discoverable(provider_type: Optional[str], option: str) -> str:
    if provider_type not in DISCOVERABLE_TYPES:
        raise SpecError("a MachineProvider of type %s cannot be read live; the provider layer reaches %s"
                        % (provider_type, ", ".join(DISCOVERABLE_TYPES)), option=option)
    return provider_type


def presets(given: Optional[Sequence[Mapping[str, Any]]]) -> tuple[InstanceType, ...]:
    """The user's size presets (name, cpu, memory) as instance types.

    Raises:
        SpecError: naming ``presets[N].<field>``.
    """
    found = []
    for index, preset in enumerate(given or ()):
        where = "presets[%d]" % index
        name = preset.get("name")
        if not name or not isinstance(name, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
            raise SpecError("'%s' is not a preset name: lower-case letters, digits, '-' and '.'" % (name,),
                            option=where + ".name")
        cpu = preset.get("cpu")
        if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu < 1:
            raise SpecError("%r is not a number of CPUs (1 or more)" % (cpu,), option=where + ".cpu")
        found.append(InstanceType(name, cpu, parse_memory_mib(preset.get("memory"), where + ".memory")))
    names = [kind.name for kind in found]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise SpecError("preset '%s' is given twice" % duplicate, option="presets")
    return tuple(found)


def discovered_spec(found: Discovery, provider_name: str, extra_types: Sequence[InstanceType] = ()
                    ) -> dict[str, dict[str, Any]]:
    """The spec's sections as discovery fills them (only the fields it found something for)."""
    capabilities: dict[str, Any] = {}
    network: dict[str, Any] = {}
    storage: dict[str, Any] = {}
    compute: dict[str, Any] = {}
    if found.networks:
        network["availableVPCs"] = [{"id": net.name, "name": net.name, "cidr": net.cidr} for net in found.networks]
        capabilities["networkFeatures"] = sorted(found.capabilities.supported_network_types)
    if found.default_network and any(net.name == found.default_network for net in found.networks):
        network["defaultVPC"] = found.default_network
    if found.storages:
        capabilities["storageTypes"] = [{"name": s.name, "class": s.kind} for s in found.storages]
        storage["storageClasses"] = [_storage_class(s.name, s.kind, s.default) for s in found.storages]
        largest = max(s.capacity_gib or 0 for s in found.storages)
        if largest >= 1:
            storage["maxStorageGB"] = largest
    default = found.default_storage()
    if default is not None:
        storage["defaultType"] = default.name
    host = found.largest_host()
    if host is not None and host.cpus >= 1:
        compute["maxCPUs"] = host.cpus
    if host is not None and host.memory_mib >= MIB_PER_GIB:
        compute["maxMemoryGB"] = host.memory_mib // MIB_PER_GIB
    kinds = {kind.name: kind for kind in tuple(found.instance_types) + tuple(extra_types)}
    if kinds:
        capabilities["machineClasses"] = [machine_class(kind, provider_name) for kind in kinds.values()]
    if found.images:
        capabilities["operatingSystems"] = operating_systems(found)
    config = {FEATURE_PREFIX + name: "true" if value else "false" for name, value in found.features().items()}
    sections = {"capabilities": capabilities, "network": network, "storage": storage, "compute": compute,
                "config": config}
    return {name: section for name, section in sections.items() if section}


def _storage_class(name: str, provisioner: str, default: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "provisioner": provisioner}
    if default:
        entry["default"] = True
    return entry


def machine_class(kind: InstanceType, provider_name: str) -> dict[str, Any]:
    """A size as the CRD's embedded MachineClass; its name is the displayName, as the schema keeps no field of an
    embedded metadata (the API server prunes them)."""
    memory = "%dGi" % (kind.memory_mib // MIB_PER_GIB) if kind.memory_mib % MIB_PER_GIB == 0 else \
        "%dMi" % kind.memory_mib
    return {"apiVersion": API_VERSION, "kind": "MachineClass",
            "spec": {"category": "general", "cpu": {"cores": kind.cpus}, "memory": {"quantity": memory},
                     "default": False, "enabled": True, "machineProviders": [provider_name],
                     "displayName": kind.name}}


def os_of(name: str) -> tuple[str, str, str]:
    """(family, distribution, version) as an image's name tells them; "unknown" for what it does not."""
    words = [word for word in re.split(r"[-_/:\s]+", name.lower()) if word]
    for index, word in enumerate(words):
        matched = _WORD.match(word)
        if matched is None:
            continue
        rest = matched.group(2) or (words[index + 1] if index + 1 < len(words) else "")
        version = _VERSION.match(rest)
        return _DISTRIBUTIONS[matched.group(1)], matched.group(1), version.group(1) if version else "unknown"
    return "unknown", "unknown", "unknown"


def operating_systems(found: Discovery) -> list[dict[str, Any]]:
    """One entry per image, its family, distribution and version as its name tells them."""
    entries = []
    for image in found.images:
        family, distribution, version = os_of(image.name)
        entries.append({"family": family, "distribution": distribution if distribution != "unknown" else image.name,
                        "versions": [version], "architectures": [found.architecture], "defaultImageID": image.id})
    return entries


def merge(spec: Mapping[str, Any], discovered: Mapping[str, Mapping[str, Any]]) -> Merged:
    """The spec with each discovered field added where the user set none; the user's values are kept."""
    result = copy.deepcopy(dict(spec))
    fields = []
    for section, values in discovered.items():
        given = dict(result.get(section) or {})
        for key, value in values.items():
            if key in given:
                continue
            given[key] = value
            fields.append("%s.%s" % (section, key))
        result[section] = given
    return Merged(result, tuple(sorted(fields)))
