# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vmset's options from a VMSet manifest (pure: no I/O).

The manifest is upstream's ``VMSet``.  Its template is a ``VirtualMachine`` spec, whose class, image and
network attachments are found among the other documents given with it, as ``kubectl apply`` would find
them in the cluster; so one file serves Kubernetes and Ansible.
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import SpecError

OPTION = "definition"


def _by_kind(documents: list[Any]) -> dict[str, dict[str, dict]]:
    found: dict[str, dict[str, dict]] = {}
    for index, document in enumerate(documents):
        if not isinstance(document, dict) or not document.get("kind"):
            raise SpecError("document %d is not a Kubernetes object" % index, option=OPTION)
        name = (document.get("metadata") or {}).get("name")
        found.setdefault(document["kind"], {})[name] = document.get("spec") or {}
    return found


def _referenced(found: dict[str, dict[str, dict]], kind: str, ref: Optional[dict], field: str) -> Optional[dict]:
    if not ref:
        return None
    spec = found.get(kind, {}).get(ref.get("name"))
    if spec is None:
        message = "the template's %s names %s '%s', which is not among the documents" % (field, kind, ref.get("name"))
        raise SpecError(message, option=OPTION)
    return spec


def _image(source: dict) -> Optional[str]:
    for backend, key in (("libvirt", "path"), ("vsphere", "templateName"), ("proxmox", "templateName"),
                         ("proxmox", "templateID")):
        value = (source.get(backend) or {}).get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _network(entry: dict, attachment: Optional[dict]) -> dict:
    network = (attachment or {}).get("network") or {}
    libvirt, vsphere, proxmox = (network.get(key) or {} for key in ("libvirt", "vsphere", "proxmox"))
    nic = {
        "name": entry.get("name"),
        "network": libvirt.get("networkName") or vsphere.get("portgroup"),
        "bridge": (libvirt.get("bridge") or {}).get("name") or proxmox.get("bridge"),
        "model": libvirt.get("model") or proxmox.get("model"),
        "ip_address": entry.get("ipAddress"),
        "prefix": entry.get("prefix"),
        "gateway": entry.get("gateway"),
        "mac_address": entry.get("macAddress"),
        "dns": [part.strip() for part in entry["dns"].split(",") if part.strip()] if entry.get("dns") else None,
    }
    return {key: value for key, value in nic.items() if value not in (None, "")}


def _template(found: dict[str, dict[str, dict]], vm: dict) -> dict:
    template: dict[str, Any] = {}
    vm_class = _referenced(found, "VMClass", vm.get("classRef"), "classRef")
    if vm_class:
        firmware = str(vm_class.get("firmware") or "BIOS").upper()
        template.update(cpu=vm_class.get("cpu"), memory=vm_class.get("memory"),
                        firmware="uefi" if firmware in ("UEFI", "EFI") else "bios")
        defaults = vm_class.get("diskDefaults")
        if defaults:
            template["disk_defaults"] = {"size": defaults.get("size"), "type": defaults.get("type")}
    image = _referenced(found, "VMImage", vm.get("imageRef"), "imageRef")
    if image:
        template["image"] = _image(image.get("source") or {})
    if vm.get("networks"):
        template["networks"] = [_network(entry, _referenced(found, "VMNetworkAttachment", entry.get("networkRef"),
                                                            "networks[%d].networkRef" % index))
                                for index, entry in enumerate(vm["networks"])]
    if vm.get("disks"):
        template["disks"] = [{"name": disk.get("name"), "size": "%sGi" % disk.get("sizeGiB"), "type": disk.get("type")}
                             for disk in vm["disks"]]
    user = ((vm.get("userData") or {}).get("cloudInit") or {}).get("inline")
    meta = ((vm.get("metaData") or {}).get("cloudInit") or {}).get("inline")
    if user or meta:
        template["cloud_init"] = {"user_data": user, "meta_data": meta}
    placement = vm.get("placement") or {}
    if placement:
        template["placement"] = {"datastore": placement.get("datastore"), "cluster": placement.get("cluster"),
                                 "host": placement.get("host"), "folder": placement.get("folder"),
                                 "resource_pool": placement.get("resourcePool")}
    if vm.get("tags"):
        template["tags"] = list(vm["tags"])
    return template


def set_options(definition: Any) -> dict[str, Any]:
    """The VMSet's name, replicas, ordinals, strategy, labels and template, in virtrigaud_vmset's option names."""
    documents = definition if isinstance(definition, list) else [definition]
    found = _by_kind(documents)
    sets = found.get("VMSet") or {}
    if len(sets) != 1:
        raise SpecError("give exactly one VMSet document (found %d)" % len(sets), option=OPTION)
    name, spec = next(iter(sets.items()))
    template = spec.get("template") or {}
    labels = dict((spec.get("selector") or {}).get("matchLabels") or {})
    labels.update((template.get("metadata") or {}).get("labels") or {})
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    return {
        "name": name,
        "replicas": spec.get("replicas", 1),
        "ordinals": {"start": (spec.get("ordinals") or {}).get("start", 0)},
        "labels": labels,
        "update_strategy": {"type": strategy.get("type") or "RollingUpdate",
                            "rolling_update": {"max_unavailable": rolling.get("maxUnavailable", "25%"),
                                               "max_surge": rolling.get("maxSurge", "25%"),
                                               "partition": rolling.get("partition", 0)}},
        "min_ready_seconds": spec.get("minReadySeconds", 0),
        "template": _template(found, template.get("spec") or {}),
    }
