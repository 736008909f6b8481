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


def _part(value: Any, where: str) -> dict[str, Any]:
    """A part of a manifest that must be a mapping when it is there."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError("%s is a %s, not a mapping" % (where, type(value).__name__), option=OPTION)
    return value


def _entries(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of mappings, such as a template's networks or disks."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError("%s is a %s, not a list" % (where, type(value).__name__), option=OPTION)
    return [_part(entry, "%s[%d]" % (where, index)) for index, entry in enumerate(value)]


def _by_kind(documents: list[Any]) -> dict[str, dict[Optional[str], dict[str, Any]]]:
    found: dict[str, dict[Optional[str], dict[str, Any]]] = {}
    for index, document in enumerate(documents):
        if not isinstance(document, dict) or not document.get("kind"):
            raise SpecError("document %d is not a Kubernetes object" % index, option=OPTION)
        name = _part(document.get("metadata"), "the metadata of document %d" % index).get("name")
        found.setdefault(document["kind"], {})[name] = _part(document.get("spec"), "the spec of document %d" % index)
    return found


def _referenced(found: dict[str, dict[Optional[str], dict[str, Any]]], kind: str, ref: Optional[dict[str, Any]],
                field: str) -> Optional[dict[str, Any]]:
    if not ref:
        return None
    spec = found.get(kind, {}).get(_part(ref, "the template's " + field).get("name"))
    if spec is None:
        message = "the template's %s names %s '%s', which is not among the documents" % (field, kind, ref.get("name"))
        raise SpecError(message, option=OPTION)
    return spec


def _image(source: dict[str, Any]) -> Optional[str]:
    for backend, key in (("libvirt", "path"), ("vsphere", "templateName"), ("proxmox", "templateName"),
                         ("proxmox", "templateID")):
        value = _part(source.get(backend), "source." + backend).get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _network(entry: dict[str, Any], attachment: Optional[dict[str, Any]]) -> dict[str, Any]:
    network = _part((attachment or {}).get("network"), "a VMNetworkAttachment's network")
    libvirt, vsphere, proxmox = (_part(network.get(key), "network." + key) for key in ("libvirt", "vsphere", "proxmox"))
    nic = {
        "name": entry.get("name"),
        "network": libvirt.get("networkName") or vsphere.get("portgroup"),
        "bridge": _part(libvirt.get("bridge"), "network.libvirt.bridge").get("name") or proxmox.get("bridge"),
        "model": libvirt.get("model") or proxmox.get("model"),
        "ip_address": entry.get("ipAddress"),
        "prefix": entry.get("prefix"),
        "gateway": entry.get("gateway"),
        "mac_address": entry.get("macAddress"),
        "dns": [part.strip() for part in str(entry["dns"]).split(",") if part.strip()] if entry.get("dns") else None,
    }
    return {key: value for key, value in nic.items() if value not in (None, "")}


def _template(found: dict[str, dict[Optional[str], dict[str, Any]]], vm: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = {}
    vm_class = _referenced(found, "VMClass", vm.get("classRef"), "classRef")
    if vm_class:
        security = _part(vm_class.get("securityProfile"), "a VMClass's securityProfile")
        # Upstream's providers boot a class with secure boot and no firmware named from EFI.
        firmware = str(vm_class.get("firmware") or ("UEFI" if security.get("secureBoot") is True else "BIOS")).upper()
        template.update(cpu=vm_class.get("cpu"), memory=vm_class.get("memory"),
                        firmware="uefi" if firmware in ("UEFI", "EFI") else "bios")
        if security.get("secureBoot") is not None:
            template["secure_boot"] = security["secureBoot"]
        defaults = _part(vm_class.get("diskDefaults"), "a VMClass's diskDefaults")
        if defaults:
            template["disk_defaults"] = {"size": defaults.get("size"), "type": defaults.get("type")}
    image = _referenced(found, "VMImage", vm.get("imageRef"), "imageRef")
    if image:
        template["image"] = _image(_part(image.get("source"), "a VMImage's source"))
    networks = _entries(vm.get("networks"), "spec.template.spec.networks")
    if networks:
        template["networks"] = [_network(entry, _referenced(found, "VMNetworkAttachment", entry.get("networkRef"),
                                                            "networks[%d].networkRef" % index))
                                for index, entry in enumerate(networks)]
    disks = _entries(vm.get("disks"), "spec.template.spec.disks")
    if disks:
        template["disks"] = [{"name": disk.get("name"), "size": "%sGi" % disk.get("sizeGiB"), "type": disk.get("type")}
                             for disk in disks]
    user, meta = (_part(_part(vm.get(key), "spec.template.spec." + key).get("cloudInit"), key + ".cloudInit")
                  .get("inline") for key in ("userData", "metaData"))
    if user or meta:
        template["cloud_init"] = {"user_data": user, "meta_data": meta}
    placement = _part(vm.get("placement"), "spec.template.spec.placement")
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
    if spec.get("template") is None:
        raise SpecError("the VMSet '%s' has no spec.template (upstream's schema requires one)" % name, option=OPTION)
    template = _part(spec["template"], "spec.template")
    labels = dict(_part(_part(spec.get("selector"), "spec.selector").get("matchLabels"), "spec.selector.matchLabels"))
    labels.update(_part(_part(template.get("metadata"), "spec.template.metadata").get("labels"),
                        "spec.template.metadata.labels"))
    strategy = _part(spec.get("updateStrategy"), "spec.updateStrategy")
    rolling = _part(strategy.get("rollingUpdate"), "spec.updateStrategy.rollingUpdate")
    return {
        "name": name,
        "replicas": spec.get("replicas", 1),
        "ordinals": {"start": _part(spec.get("ordinals"), "spec.ordinals").get("start", 0)},
        "labels": labels,
        "update_strategy": {"type": strategy.get("type") or "RollingUpdate",
                            "rolling_update": {"max_unavailable": rolling.get("maxUnavailable", "25%"),
                                               "max_surge": rolling.get("maxSurge", "25%"),
                                               "partition": rolling.get("partition", 0)}},
        "min_ready_seconds": spec.get("minReadySeconds", 0),
        "template": _template(found, _part(template.get("spec"), "spec.template.spec")),
    }
