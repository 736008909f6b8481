# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ``VirtualMachine`` resource, and the inline VMClass, VMImage, VMNetworkAttachment and cloud-init Secret
it needs, from the same VM spec virtrigaud_vm applies directly (pure: no I/O)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..errors import SpecError
from ..spec import VMSpec
from .provider import check_name
from .resources import VIRTRIGAUD_API

OWNER_LABEL = "virtrigaud.core/vm"
MANAGED_BY = {"app.kubernetes.io/managed-by": "virtrigaud.core"}
# The kinds written for a VM besides the VM itself; stale ones carrying OWNER_LABEL are removed.
INLINE_KINDS = ("VMClass", "VMImage", "VMNetworkAttachment", "Secret")


@dataclass(frozen=True)
class References:
    provider: str
    provider_namespace: Optional[str]
    provider_type: Optional[str]
    class_name: Optional[str] = None
    image_name: Optional[str] = None


def _metadata(name: str, namespace: str, vm: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY, **{OWNER_LABEL: vm})}


def _object(kind: str, name: str, namespace: str, vm: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": VIRTRIGAUD_API, "kind": kind, "metadata": _metadata(name, namespace, vm), "spec": spec}


def vm_class(spec: VMSpec, namespace: str) -> dict[str, Any]:
    if spec.cpu is None or spec.memory_mib is None:
        raise SpecError("a VirtualMachine needs a class: give cpu and memory, or class_ref", option="cpu")
    body: dict[str, Any] = {"cpu": spec.cpu, "memory": "%dMi" % spec.memory_mib,
                            "firmware": (spec.firmware or "bios").upper()}
    if spec.secure_boot is not None:
        body["securityProfile"] = {"secureBoot": spec.secure_boot}
    if spec.root_disk_gib is not None:
        body["diskDefaults"] = {"type": spec.disk_type, "size": "%dGi" % spec.root_disk_gib}
    return _object("VMClass", spec.name, namespace, spec.name, body)


def vm_image(spec: VMSpec, namespace: str, provider_type: Optional[str]) -> dict[str, Any]:
    image = spec.image or ""
    if provider_type == "vsphere":
        source: dict[str, Any] = {"vsphere": {"templateName": image}}
    elif provider_type == "proxmox":
        source = {"proxmox": {"templateID": int(image)} if image.isdigit() else {"templateName": image}}
    else:
        source = {"libvirt": {"path": image, "format": "qcow2"}}
    return _object("VMImage", spec.name, namespace, spec.name, {"source": source})


def network_attachment(spec: VMSpec, index: int, namespace: str,
                       provider_type: Optional[str]) -> Optional[dict[str, Any]]:
    nic = spec.networks[index]
    if not (nic.network or nic.bridge):
        return None
    if provider_type == "vsphere":
        network: dict[str, Any] = {"vsphere": {"portgroup": nic.network or nic.bridge}}
    elif provider_type == "proxmox":
        network = {"proxmox": dict({"bridge": nic.bridge or nic.network},
                                   **({"model": nic.model} if nic.model else {}))}
    else:
        libvirt: dict[str, Any] = {"networkName": nic.network} if nic.network else {"bridge": {"name": nic.bridge}}
        if nic.model:
            libvirt["model"] = nic.model
        network = {"libvirt": libvirt}
    name = check_name("%s-%s" % (spec.name, nic.name), "networks[%d].name" % index, 253)
    return _object("VMNetworkAttachment", name, namespace, spec.name, {"network": dict(network, type="bridged")})


def cloud_init_secret(spec: VMSpec, namespace: str) -> Optional[dict[str, Any]]:
    if not spec.cloud_init.user_data:
        return None
    data = {"userdata": base64.b64encode(spec.cloud_init.user_data.encode("utf-8")).decode("ascii")}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _metadata("%s-cloud-init" % spec.name, namespace, spec.name), "data": data}


def _nic(spec: VMSpec, index: int, attachment: Optional[dict[str, Any]]) -> dict[str, Any]:
    nic = spec.networks[index]
    entry: dict[str, Any] = {"name": check_name(nic.name, "networks[%d].name" % index)}
    if attachment:
        entry["networkRef"] = {"name": attachment["metadata"]["name"]}
    for key, value in (("ipAddress", nic.ip_address), ("prefix", nic.prefix), ("gateway", nic.gateway),
                       ("macAddress", nic.mac_address), ("dns", ",".join(nic.dns))):
        if value:
            entry[key] = value
    return entry


def vm_objects(spec: VMSpec, namespace: str, refs: References,
               power_state: Optional[str] = None) -> list[dict[str, Any]]:
    """The objects to apply, the VirtualMachine last (its references exist by then).

    ``power_state`` is the resource's powerState when it has more values than the spec's (OffGraceful).
    """
    check_name(spec.name, "name", 253)
    check_name(namespace, "namespace")
    objects = []
    if refs.class_name:
        class_name = refs.class_name
    else:
        objects.append(vm_class(spec, namespace))
        class_name = spec.name
    image_name = refs.image_name
    if spec.image and not image_name:
        objects.append(vm_image(spec, namespace, refs.provider_type))
        image_name = spec.name
    attachments = [network_attachment(spec, index, namespace, refs.provider_type)
                   for index in range(len(spec.networks))]
    objects += [attachment for attachment in attachments if attachment]
    secret = cloud_init_secret(spec, namespace)
    if secret:
        objects.append(secret)
    provider_ref: dict[str, Any] = {"name": refs.provider}
    if refs.provider_namespace and refs.provider_namespace != namespace:
        provider_ref["namespace"] = refs.provider_namespace
    body: dict[str, Any] = {"providerRef": provider_ref, "classRef": {"name": class_name}}
    if image_name:
        body["imageRef"] = {"name": image_name}
    if spec.networks:
        body["networks"] = [_nic(spec, index, attachment) for index, attachment in enumerate(attachments)]
    if spec.disks:
        body["disks"] = [{"name": check_name(disk.name, "disks[%d].name" % index), "sizeGiB": disk.size_gib,
                          "type": disk.type} for index, disk in enumerate(spec.disks)]
    if secret:
        body["userData"] = {"cloudInit": {"secretRef": {"name": secret["metadata"]["name"]}}}
    if spec.cloud_init.meta_data:
        body["metaData"] = {"cloudInit": {"inline": spec.cloud_init.meta_data}}
    placement = {key: value for key, value in (
        ("datastore", spec.placement.datastore), ("cluster", spec.placement.cluster), ("host", spec.placement.host),
        ("folder", spec.placement.folder), ("resourcePool", spec.placement.resource_pool)) if value}
    if placement:
        body["placement"] = placement
    if power_state or spec.power_state:
        body["powerState"] = power_state or spec.power_state
    if spec.tags is not None:
        body["tags"] = list(spec.tags)
    return objects + [_object("VirtualMachine", spec.name, namespace, spec.name, body)]


# Lifecycle options that VirtRigaud's manager has no field or request for, with their defaults (the value
# that asks for nothing it cannot do) and why.
_MANAGER_CANNOT = (
    ("id", None, "the manager finds VMs by resource, not by hypervisor id"),
    ("clone_from", None, "cloning is a VMClone resource, not a VirtualMachine field"),
    ("linked_clone", False, "cloning is a VMClone resource, not a VirtualMachine field"),
    ("allow_power_cycling", False, "the manager decides how a change is applied and has no such switch"),
    ("allow_migration", False, "moving a VM is a VMMigration resource, not a VirtualMachine field"),
    ("delete_disks", True, "the manager always deletes a VM with its disks"),
    ("shutdown_timeout", 120, "the manager always allows a graceful shutdown 60 seconds"),
    ("placement_policy", None, "the manager reads no placement policy (it ignores placementRef)"),
    ("placement_policy_ref", None, "the manager reads no placement policy (it ignores placementRef)"),
)
# Spec fields the manager drops on the way to the provider (upstream's FACTS §1.4).
_DROPPED_PLACEMENT = (("host", "placement.host"), ("resource_pool", "placement.resource_pool"))


def check_resource_options(params: Mapping[str, Any], spec: Optional[VMSpec], mode: str = "provider_ref") -> None:
    """Refuse, by name, every option a VirtualMachine resource cannot carry out through VirtRigaud's manager;
    ``mode`` names what made the task a resource task, for the message.

    Raises:
        SpecError: naming the first such option and why.
    """
    if params.get("state") == "restarted":
        raise SpecError("not available with %s (the manager has no restart request)" % mode, option="state")
    for option, harmless, why in _MANAGER_CANNOT:
        if params.get(option) not in (None, harmless):
            raise SpecError("not available with %s: %s" % (mode, why), option=option)
    if params.get("shutdown_mode") == "graceful_then_hard":
        raise SpecError("not available with %s: the manager stops a VM either gracefully (OffGraceful) "
                        "or hard (Off), never one then the other" % mode, option="shutdown_mode")
    if spec is None:
        return
    for attribute, option in _DROPPED_PLACEMENT:
        if getattr(spec.placement, attribute):
            raise SpecError("not available with provider_ref: the manager does not pass it to the provider",
                            option=option)
    for index, nic in enumerate(spec.networks):
        if nic.mac_address:
            raise SpecError("not available with provider_ref: the manager does not pass MAC addresses to the "
                            "provider", option="networks[%d].mac_address" % index)
    if spec.cloud_init.network_config:
        raise SpecError("not available with provider_ref: a VirtualMachine has no network config field",
                        option="cloud_init.network_config")


def resource_power_state(state: str, shutdown_mode: str) -> Optional[str]:
    """The VirtualMachine's powerState for a module state: a graceful stop is upstream's OffGraceful."""
    if state == "stopped":
        return "OffGraceful" if shutdown_mode == "graceful" else "Off"
    return "On" if state in ("started", "restarted") else None


def observed(vm: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """What the VirtualMachine's status says about the VM, in the shape virtrigaud_vm returns; None before any."""
    status = (vm or {}).get("status") or {}
    if vm is None or not status.get("id"):
        return None
    current = status.get("currentResources") or {}
    return {"id": status["id"], "name": vm["metadata"]["name"], "power_state": status.get("powerState"),
            "ip_addresses": list(status.get("ips") or []), "cpu": current.get("cpu"),
            "memory_mib": current.get("memoryMiB"), "console_url": status.get("consoleURL"),
            "phase": status.get("phase")}
