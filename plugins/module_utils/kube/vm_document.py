# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VirtualMachine spec from a manifest, in virtrigaud_vm's option names (pure: no I/O).

The spec's class, image, network attachments and placement policy are found among the other documents given with it, as
``kubectl apply`` would find them in the cluster; so one file serves Kubernetes and Ansible.  virtrigaud_vm
reads a VirtualMachine this way, and virtrigaud_vmset its template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..errors import SpecError
from ..placing import POLICY_RESOURCE
from .manifests import (
    OPTION,
    Found,
    by_kind,
    describe,
    entries,
    load,
    name_of,
    only,
    part,
    referenced,
    refuse_unused,
    refuse_unused_in_spec,
    validate,
)
from .virtrigaud_schema import SPEC_SCHEMAS

# The fields each kind's translation below carries out; every other field is refused unless at its default.
VM_FIELDS = ("providerRef", "classRef.name", "imageRef.name", "networks[].name", "networks[].networkRef.name",
             "networks[].ipAddress", "networks[].prefix", "networks[].gateway", "networks[].macAddress",
             "networks[].dns", "disks[].name", "disks[].sizeGiB", "disks[].type", "userData.cloudInit.inline",
             "metaData.cloudInit.inline", "placement.cluster", "placement.datastore", "placement.folder",
             "placement.host", "placement.resourcePool", "placementRef.name", "tags", "resources.cpu",
             "resources.memoryMiB")
CLASS_FIELDS = ("cpu", "memory", "firmware", "diskDefaults.size", "diskDefaults.type", "securityProfile.secureBoot")
IMAGE_FIELDS = ("source.libvirt.path", "source.vsphere.templateName", "source.proxmox.templateName",
                "source.proxmox.templateID")
NETWORK_FIELDS = ("network.libvirt.networkName", "network.libvirt.bridge.name", "network.libvirt.model",
                  "network.vsphere.portgroup", "network.proxmox.bridge", "network.proxmox.model")
# What placement.parse_resource reads, or refuses by name itself (hard.datastores ...); priority and weight, which
# rank several policies, are refused here: a VM names one.
# priority and weight rank policies against each other: a VM names one, so they change nothing and are accepted.
POLICY_FIELDS = ("hard", "soft", "affinity", "antiAffinity", "resourceConstraints", "securityConstraints",
                 "priority", "weight")
_MIB = 1024 * 1024


def _image(source: dict[str, Any]) -> Optional[str]:
    for backend, key in (("libvirt", "path"), ("vsphere", "templateName"), ("proxmox", "templateName"),
                         ("proxmox", "templateID")):
        value = part(source.get(backend), "source." + backend).get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _network(entry: dict[str, Any], attachment: Optional[dict[str, Any]]) -> dict[str, Any]:
    network = part((attachment or {}).get("network"), "a VMNetworkAttachment's network")
    libvirt, vsphere, proxmox = (part(network.get(key), "network." + key) for key in ("libvirt", "vsphere", "proxmox"))
    nic = {
        "name": entry.get("name"),
        "network": libvirt.get("networkName") or vsphere.get("portgroup"),
        "bridge": part(libvirt.get("bridge"), "network.libvirt.bridge").get("name") or proxmox.get("bridge"),
        "model": libvirt.get("model") or proxmox.get("model"),
        "ip_address": entry.get("ipAddress"),
        "prefix": entry.get("prefix"),
        "gateway": entry.get("gateway"),
        "mac_address": entry.get("macAddress"),
        "dns": [part.strip() for part in str(entry["dns"]).split(",") if part.strip()] if entry.get("dns") else None,
    }
    return {key: value for key, value in nic.items() if value not in (None, "")}


def _quantity(value: Any, field: str) -> Any:
    """A Kubernetes quantity as the options take it: a bare integer there counts bytes, here MiB."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value % _MIB:
            raise SpecError("%s: %d bytes is not a whole number of MiB" % (field, value), option=OPTION)
        return "%dMi" % (value // _MIB)
    return value


def _class_options(vm_class: dict[str, Any], name: str) -> dict[str, Any]:
    refuse_unused(vm_class, SPEC_SCHEMAS["VMClass"], CLASS_FIELDS, "VMClass '%s'" % name)
    security = part(vm_class.get("securityProfile"), "a VMClass's securityProfile")
    # Upstream's providers boot a class with secure boot and no firmware named from EFI.
    firmware = str(vm_class.get("firmware") or ("UEFI" if security.get("secureBoot") is True else "BIOS")).upper()
    options = {"cpu": vm_class.get("cpu"), "memory": _quantity(vm_class.get("memory"), "the VMClass's memory"),
               "firmware": "uefi" if firmware in ("UEFI", "EFI") else "bios"}
    if security.get("secureBoot") is not None:
        options["secure_boot"] = security["secureBoot"]
    defaults = part(vm_class.get("diskDefaults"), "a VMClass's diskDefaults")
    if defaults:
        options["disk_defaults"] = {"size": _quantity(defaults.get("size"), "the VMClass's diskDefaults.size"),
                                    "type": defaults.get("type")}
    return options


def vm_options(found: Found, vm: dict[str, Any], where: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The options of the VirtualMachine spec ``vm`` (``where`` names it in errors; ``extra`` are fields the
    caller carries out itself, such as powerState)."""
    refuse_unused(vm, SPEC_SCHEMAS["VirtualMachine"], VM_FIELDS + extra, where)
    options: dict[str, Any] = {}
    vm_class = referenced(found, "VMClass", vm.get("classRef"), where + " classRef")
    if vm_class:
        options.update(_class_options(vm_class, vm["classRef"].get("name")))
    image = referenced(found, "VMImage", vm.get("imageRef"), where + " imageRef")
    if image:
        refuse_unused(image, SPEC_SCHEMAS["VMImage"], IMAGE_FIELDS, "VMImage '%s'" % vm["imageRef"].get("name"))
        options["image"] = _image(part(image.get("source"), "a VMImage's source"))
    resources = part(vm.get("resources"), where + " resources")
    if resources.get("cpu") is not None:
        options["cpu"] = resources["cpu"]
    if resources.get("memoryMiB") is not None:
        options["memory"] = resources["memoryMiB"]
    networks = entries(vm.get("networks"), where + " networks")
    if networks:
        options["networks"] = [_network(entry, _attachment(found, entry, "%s networks[%d]" % (where, index)))
                               for index, entry in enumerate(networks)]
    disks = entries(vm.get("disks"), where + " disks")
    if disks:
        options["disks"] = [{"name": disk.get("name"), "size": "%sGi" % disk.get("sizeGiB"), "type": disk.get("type")}
                            for disk in disks]
    user, meta = (part(part(vm.get(key), key).get("cloudInit"), key + ".cloudInit").get("inline")
                  for key in ("userData", "metaData"))
    if user or meta:
        options["cloud_init"] = {"user_data": user, "meta_data": meta}
    placement = part(vm.get("placement"), where + " placement")
    if placement:
        options["placement"] = {"datastore": placement.get("datastore"), "cluster": placement.get("cluster"),
                                "host": placement.get("host"), "folder": placement.get("folder"),
                                "resource_pool": placement.get("resourcePool")}
    if vm.get("tags"):
        options["tags"] = list(vm["tags"])
    policy_ref = vm.get("placementRef")
    if policy_ref:
        # Found as the others are; placing.read_policy reads it as it would read the resource from the cluster.
        spec = referenced(found, "VMPlacementPolicy", policy_ref, where + " placementRef") or {}
        refuse_unused_in_spec(spec, "VMPlacementPolicy", POLICY_FIELDS,
                              "VMPlacementPolicy '%s'" % policy_ref.get("name"))
        options[POLICY_RESOURCE] = {"metadata": {"name": policy_ref.get("name")}, "spec": spec}
    return options


def _attachment(found: Found, entry: dict[str, Any], where: str) -> Optional[dict[str, Any]]:
    attachment = referenced(found, "VMNetworkAttachment", entry.get("networkRef"), where + " networkRef")
    if attachment is not None:
        refuse_unused(attachment, SPEC_SCHEMAS["VMNetworkAttachment"], NETWORK_FIELDS,
                      "VMNetworkAttachment '%s'" % entry["networkRef"].get("name"))
    return attachment


VM_KINDS = ("VirtualMachine", "VMClass", "VMImage", "VMNetworkAttachment", "VMPlacementPolicy", "Provider")
# powerState → (virtrigaud_vm's state, shutdown_mode); a VM without one is created running, as upstream's.
POWER_STATES = {"On": ("started", None), "Off": ("stopped", "hard"), "OffGraceful": ("stopped", "graceful")}


@dataclass(frozen=True)
class VMManifest:
    """A VirtualMachine and the documents it refers to: ``documents`` in the order to apply them, the VM last."""

    documents: tuple[dict[str, Any], ...]
    name: str
    namespace: str
    spec: dict[str, Any]
    options: dict[str, Any]
    # The Provider that providerRef names, when given beside the VM: the backend a direct run goes to.
    provider: Optional[dict[str, Any]] = None

    @property
    def power_state(self) -> Optional[str]:
        state: Optional[str] = self.spec.get("powerState")
        return state


def read_vm(definition: Any, state: str, on_backend: bool) -> VMManifest:
    """The VirtualMachine of ``definition``, checked; a document it does not refer to is refused.

    ``state`` is the task's: present or absent, since the VirtualMachine's powerState says whether it runs.
    ``on_backend``: the manifest goes to a backend, not to the API server, so it is read into options (which
    refuses what the module does not carry out); for the API server it is applied as written.
    """
    if state not in ("present", "absent"):
        raise SpecError("with a definition, state is present or absent; the VirtualMachine's spec.powerState says "
                        "whether it runs", option="state")
    documents = load(definition)
    validate(documents, VM_KINDS)
    vm = only(documents, "VirtualMachine")
    name, spec = name_of(vm), part(vm.get("spec"), "spec")
    where = "VirtualMachine '%s'" % name
    options = vm_options(by_kind(documents), spec, where, extra=("powerState",)) if on_backend else {}
    wanted = {("VMClass", part(spec.get("classRef"), "classRef").get("name")),
              ("VMImage", part(spec.get("imageRef"), "imageRef").get("name")),
              ("VMPlacementPolicy", part(spec.get("placementRef"), "placementRef").get("name")),
              ("Provider", part(spec.get("providerRef"), "providerRef").get("name"))}
    wanted |= {("VMNetworkAttachment", part(entry.get("networkRef"), "networkRef").get("name"))
               for entry in entries(spec.get("networks"), "networks")}
    others = [document for document in documents if document is not vm]
    for document in others:
        if (document["kind"], name_of(document)) not in wanted:
            raise SpecError("%s: %s does not refer to it; leave it out" % (describe(document), where), option=OPTION)
    namespace = str(part(vm.get("metadata"), "metadata").get("namespace") or "default")
    provider = next((document for document in others if document["kind"] == "Provider"), None)
    if provider is not None and not on_backend:
        raise SpecError("%s: apply it with virtrigaud_provider, which writes its credentials Secret too; leave it "
                        "out of the VirtualMachine's documents" % describe(provider), option=OPTION)
    return VMManifest(tuple(others) + (vm,), name, namespace, spec, dict(options, name=name), provider)


def direct_params(params: dict[str, Any], manifest: VMManifest) -> dict[str, Any]:
    """virtrigaud_vm's options for ``manifest`` applied on a backend: its spec, and its powerState as a state."""
    state, shutdown_mode = params["state"], params["shutdown_mode"]
    if state == "present" and manifest.power_state:
        state, mode = POWER_STATES[manifest.power_state]
        shutdown_mode = mode or shutdown_mode
    provider_type = manifest.provider["spec"]["type"] if manifest.provider else params["provider_type"]
    return dict(params, **manifest.options, state=state, shutdown_mode=shutdown_mode, provider_type=provider_type)
