# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure mapping between the VM spec and KubeVirt's objects (the VM, its DataVolumes and cloud-init Secret, and
back to what the collection reports), KubeVirt's admission rules, and API errors → the collection's.  No I/O.

A VM is a ``kubevirt.io/v1`` VirtualMachine named after the spec, in the connection's namespace; its id is
``namespace/name``.  Its root disk is a containerDisk or a DataVolume cloned from a PVC, its data disks are
blank DataVolumes, all named after their volume so describe reports the spec's names.  What KubeVirt has no
field for (the tags) lives in an annotation.  What a spec may hold is checked in checks.py; reconfiguration
and snapshots have their own modules.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Mapping, Optional, cast
from urllib.parse import urlsplit

from ... import errors
from ...spec import GIB, MIB, DiskSpec, NetworkSpec, VMSpec, parse_quantity
from ...spec import Placement as Where
from ..base import ConsoleAccess, ObservedDisk, ObservedNIC, ObservedVM, usable_ip
from .checks import Image, Placement, meta_hostname, preallocation

API = "kubevirt.io/v1"
MANAGED_BY = ("app.kubernetes.io/managed-by", "virtrigaud.core")
VM_LABEL = "virtrigaud.io/vm"
TAGS_ANNOTATION = "virtrigaud.io/tags"
TAG_LABEL = "tag.virtrigaud.io/"
CLOUD_INIT = "cloudinit"
POD_NETWORK = "pod"
HOTPLUG_FACTOR = 4
MAX_SOCKETS = 128
RUNNING, HALTED = "Always", "Halted"
ON_STATES = ("Running", "Paused", "Migrating")
FAILED_STATES = ("CrashLoopBackOff", "ErrorUnschedulable", "ErrImagePull", "ImagePullBackOff", "ErrorPvcNotFound",
                 "DataVolumeError")
_TAG_KEY = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_FORBIDDEN = re.compile(r'cannot (\w+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?')


# spec → objects

def secret_name(vm: str) -> str:
    return "%s-cloudinit" % vm


def volume_claim(vm: str, disk: str) -> str:
    return "%s-%s" % (vm, disk)


def quantity_gib(size: int) -> str:
    return "%dGi" % size


def quantity_mib(mib: int) -> str:
    return "%dGi" % (mib // 1024) if mib % 1024 == 0 else "%dMi" % mib


def tag_metadata(tags: Optional[tuple[str, ...]]) -> tuple[dict[str, str], dict[str, Optional[str]]]:
    """Labels (those tags that can be label keys, for selectors) and the annotation that holds them all."""
    wanted = tuple(sorted(tags or ()))
    labels = {TAG_LABEL + tag: "true" for tag in wanted if _TAG_KEY.match(tag)}
    return labels, {TAGS_ANNOTATION: json.dumps(list(wanted)) if wanted else None}


def _data_volume(vm: str, disk: str, size_gib: int, storage_class: Optional[str], source: dict[str, Any],
                 preallocate: bool) -> dict[str, Any]:
    storage: dict[str, Any] = {"resources": {"requests": {"storage": quantity_gib(size_gib)}}}
    if storage_class:
        storage["storageClassName"] = storage_class
    spec: dict[str, Any] = {"source": source, "storage": storage}
    if preallocate:
        spec["preallocation"] = True
    return {"metadata": {"name": volume_claim(vm, disk), "labels": {VM_LABEL: vm, "virtrigaud.io/disk": disk}},
            "spec": spec}


def interface_pair(network: NetworkSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    interface: dict[str, Any] = {"name": network.name, "model": network.model or "virtio"}
    if network.mac_address:
        interface["macAddress"] = network.mac_address
    if (network.network or POD_NETWORK) == POD_NETWORK:
        return dict(interface, masquerade={}), {"name": network.name, "pod": {}}
    return dict(interface, bridge={}), {"name": network.name, "multus": {"networkName": network.network}}


def _domain(spec: VMSpec, placement: Placement) -> dict[str, Any]:
    domain: dict[str, Any] = {"devices": {}}
    if not placement.instancetype:
        cpu, memory = spec.cpu or 1, spec.memory_mib or 512
        domain["cpu"] = {"sockets": cpu, "cores": 1, "threads": 1, "maxSockets": min(HOTPLUG_FACTOR * cpu, MAX_SOCKETS)}
        domain["memory"] = {"guest": quantity_mib(memory), "maxGuest": quantity_mib(HOTPLUG_FACTOR * memory)}
    if spec.firmware == "uefi":
        # KubeVirt turns secure boot on when secureBoot is left out, and refuses it without the SMM feature.
        domain["firmware"] = {"bootloader": {"efi": {"secureBoot": bool(spec.secure_boot)}}}
        if spec.secure_boot:
            domain["features"] = {"smm": {"enabled": True}}
    elif spec.firmware:
        domain["firmware"] = {"bootloader": {"bios": {}}}
    return domain


def secure_boot_of(domain: Mapping[str, Any]) -> bool:
    """Whether KubeVirt boots the VM with secure boot: an EFI bootloader's ``secureBoot`` defaults to true."""
    efi = ((domain.get("firmware") or {}).get("bootloader") or {}).get("efi")
    return efi is not None and (efi or {}).get("secureBoot", True) is not False


def _smm_enabled(domain: Mapping[str, Any]) -> bool:
    smm = (domain.get("features") or {}).get("smm")
    return smm is not None and (smm or {}).get("enabled", True) is not False


def _volumes(spec: VMSpec, placement: Placement, image: Optional[Image], root_gib: Optional[int]
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The volumes, and the DataVolume templates behind them."""
    name = spec.name
    if image and image.container:
        volumes, templates = [{"name": "root", "containerDisk": {"image": image.container}}], []
    else:
        source = {"pvc": {"namespace": image.namespace, "name": image.pvc}} if image else {"blank": {}}
        templates = [_data_volume(name, "root", root_gib or 10, placement.storage_class, source,
                                  preallocation(spec.disk_type, "disk_defaults.type"))]
        volumes = [{"name": "root", "dataVolume": {"name": volume_claim(name, "root")}}]
    for disk in spec.disks:
        templates.append(data_disk(name, disk, placement.storage_class))
        volumes.append({"name": disk.name, "dataVolume": {"name": volume_claim(name, disk.name)}})
    no_cloud = {key: {"name": secret_name(name)} for key, text in (
        ("secretRef", spec.cloud_init.user_data), ("networkDataSecretRef", spec.cloud_init.network_config)) if text}
    if no_cloud:
        volumes.append({"name": CLOUD_INIT, "cloudInitNoCloud": no_cloud})
    return volumes, templates


def vm_manifest(spec: VMSpec, placement: Placement, image: Optional[Image], root_gib: Optional[int]) -> dict[str, Any]:
    """The VirtualMachine for a spec, stopped (``runStrategy: Halted``): the executor starts it."""
    name = spec.name
    domain = _domain(spec, placement)
    volumes, templates = _volumes(spec, placement, image, root_gib)
    pairs = [interface_pair(network) for network in spec.networks]
    domain["devices"] = {"disks": [{"name": volume["name"], "disk": {"bus": "virtio"}} for volume in volumes],
                         "interfaces": [interface for interface, dummy in pairs]}
    template: dict[str, Any] = {"domain": domain, "networks": [network for dummy, network in pairs], "volumes": volumes}
    hostname = meta_hostname(spec.cloud_init.meta_data)
    if hostname:
        template["hostname"] = hostname
    if spec.placement.host:
        template["nodeSelector"] = {"kubernetes.io/hostname": spec.placement.host}
    vm_spec: dict[str, Any] = {"runStrategy": HALTED, "template": {
        "metadata": {"labels": {VM_LABEL: name, "kubevirt.io/domain": name}}, "spec": template}}
    if templates:
        vm_spec["dataVolumeTemplates"] = templates
    classes = (("instancetype", placement.instancetype), ("preference", placement.preference))
    vm_spec.update({key: dict(ref) for key, ref in classes if ref})
    labels, annotations = tag_metadata(spec.tags)
    metadata = {"name": name, "namespace": placement.namespace,
                "labels": dict(labels, **{MANAGED_BY[0]: MANAGED_BY[1], VM_LABEL: name})}
    if annotations[TAGS_ANNOTATION]:
        metadata["annotations"] = annotations
    return {"apiVersion": API, "kind": "VirtualMachine", "metadata": metadata, "spec": vm_spec}


def data_disk(vm: str, disk: DiskSpec, storage_class: Optional[str]) -> dict[str, Any]:
    return _data_volume(vm, disk.name, disk.size_gib, storage_class, {"blank": {}}, preallocation(disk.type, "disks"))


def cloud_init_secret(spec: VMSpec, namespace: str, owner: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The Secret holding user-data and network-data, owned by the VM so that it goes with it."""
    data = {"userdata": spec.cloud_init.user_data, "networkdata": spec.cloud_init.network_config}
    encoded = {key: base64.b64encode(value.encode("utf-8")).decode("ascii") for key, value in data.items() if value}
    if not encoded:
        return None
    metadata = owner["metadata"]
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": encoded,
            "metadata": {"name": secret_name(spec.name), "namespace": namespace,
                         "labels": {MANAGED_BY[0]: MANAGED_BY[1], VM_LABEL: spec.name},
                         "ownerReferences": [{"apiVersion": API, "kind": "VirtualMachine", "name": metadata["name"],
                                              "uid": metadata["uid"], "blockOwnerDeletion": False}]}}


# KubeVirt's admission rules, for servers without its webhooks

def admission_errors(vm: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) for each rule of KubeVirt's VM webhook this object breaks."""
    spec = vm.get("spec") or {}
    found = []
    if spec.get("running") is not None and spec.get("runStrategy"):
        found.append(("spec.running", "running and runStrategy are mutually exclusive; KubeVirt refuses both"))
    template = (spec.get("template") or {}).get("spec") or {}
    networks = {n.get("name"): n for n in template.get("networks") or []}
    interfaces = ((template.get("domain") or {}).get("devices") or {}).get("interfaces") or []
    for index, interface in enumerate(interfaces):
        where = "spec.template.spec.domain.devices.interfaces[%d]" % index
        network = networks.get(interface.get("name"))
        if network is None:
            found.append((where + ".name", "interface '%s' has no network of that name" % interface.get("name")))
        elif "masquerade" in interface and "pod" not in network:
            found.append((where + ".masquerade", "masquerade binding is only allowed on the pod network, not on "
                                                 "multus network '%s'" % interface.get("name")))
    domain = template.get("domain") or {}
    if secure_boot_of(domain) and not _smm_enabled(domain):
        found.append(("spec.template.spec.domain.features.smm", "EFI secure boot needs the SMM feature enabled"))
    return found


def check_admission(vm: Mapping[str, Any]) -> None:
    """Refuse, naming the field, what KubeVirt's webhooks would refuse: a server without them accepts it."""
    problems = admission_errors(vm)
    if problems:
        field, reason = problems[0]
        raise errors.SpecError("KubeVirt refuses VirtualMachine %s: %s" % (vm["metadata"]["name"], reason),
                               option=field)


# objects → observed

def claim_of(vm: Mapping[str, Any], volume: Mapping[str, Any]) -> Optional[str]:
    if "dataVolume" in volume:
        return cast(str, volume["dataVolume"]["name"])
    return cast(Optional[str], (volume.get("persistentVolumeClaim") or {}).get("claimName"))


def template_of(vm: Mapping[str, Any], claim: Optional[str]) -> Optional[dict[str, Any]]:
    return next((t for t in vm["spec"].get("dataVolumeTemplates") or [] if t["metadata"]["name"] == claim), None)


def gib(quantity: Any) -> int:
    """A storage quantity in whole GiB, rounded up."""
    return -(-parse_quantity(quantity, "size") // GIB) if quantity not in (None, "") else 0


def mib(quantity: Any) -> Optional[int]:
    return parse_quantity(quantity, "memory") // MIB if quantity not in (None, "") else None


def power_state(vm: Mapping[str, Any]) -> str:
    """On when KubeVirt shows the VM running (printableStatus or the Ready condition), else Off."""
    status = vm.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return "On" if status.get("printableStatus") in ON_STATES or ready else "Off"


def _nics(template: Mapping[str, Any], vmi: Optional[Mapping[str, Any]]) -> tuple[ObservedNIC, ...]:
    networks = {n.get("name"): n for n in template.get("networks") or []}
    reported = {i.get("name"): i for i in ((vmi or {}).get("status") or {}).get("interfaces") or []}
    found = []
    for interface in ((template.get("domain") or {}).get("devices") or {}).get("interfaces") or []:
        name = interface.get("name")
        network = networks.get(name) or {}
        attached = POD_NETWORK if "pod" in network else (network.get("multus") or {}).get("networkName")
        status = reported.get(name) or {}
        addresses = status.get("ipAddresses") or ([status["ipAddress"]] if status.get("ipAddress") else [])
        found.append(ObservedNIC(
            name=name, mac_address=(interface.get("macAddress") or status.get("mac") or "").lower() or None,
            network=attached, bridge=None, model=interface.get("model") or "virtio",
            ip_addresses=tuple(a for a in addresses if ":" not in a and usable_ip(a)),
            # KubeVirt keeps no static address for a NIC: one asked for is a change, which it refuses.
            static_ip=""))
    return tuple(found)


def _disks(vm: Mapping[str, Any], template: Mapping[str, Any], claims: Mapping[str, int]) -> tuple[ObservedDisk, ...]:
    volumes = {v.get("name"): v for v in template.get("volumes") or []}
    found = []
    for disk in ((template.get("domain") or {}).get("devices") or {}).get("disks") or []:
        volume = volumes.get(disk.get("name")) or {}
        if "cloudInitNoCloud" in volume or "cloudInitConfigDrive" in volume or "cdrom" in disk:
            continue
        claim = claim_of(vm, volume)
        dv_template = template_of(vm, claim)
        storage = (dv_template or {}).get("spec", {}).get("storage") or (dv_template or {}).get("spec", {}).get("pvc")
        if claim is not None and claim in claims:
            size = claims[claim]
        else:
            size = gib(((storage or {}).get("resources") or {}).get("requests", {}).get("storage"))
        image = (volume.get("containerDisk") or {}).get("image")
        found.append(ObservedDisk(name=disk["name"], size_gib=size, format="containerDisk" if image else "pvc",
                                  path=image or claim,
                                  device=next(iter(k for k in ("disk", "lun") if k in disk), None)))
    return tuple(found)


def vnc_url(api_base: str, namespace: str, name: str) -> str:
    """virt-api's VNC subresource of a running VM's instance: a WebSocket the caller's own credentials open."""
    return "%s/apis/subresources.kubevirt.io/v1/namespaces/%s/virtualmachineinstances/%s/vnc" % (
        api_base.rstrip("/"), namespace, name)


def vnc_access(api_base: str, namespace: str, name: str) -> ConsoleAccess:
    """The VNC subresource as console access: no secret of its own, the caller's Kubernetes credentials open it."""
    url = vnc_url(api_base, namespace, name)
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    return ConsoleAccess(type="vnc", url=url, host=parts.hostname or "", port=parts.port or (443 if secure else 80),
                         websocket_url=("wss" if secure else "ws") + url[len(parts.scheme):])


def observed(vm: Mapping[str, Any], vmi: Optional[Mapping[str, Any]] = None,
             classes: Optional[Mapping[str, Mapping[str, Any]]] = None,
             claims: Optional[Mapping[str, int]] = None, api_base: str = "") -> ObservedVM:
    """The VM as the collection reports it; ``classes`` are its instancetype's and preference's specs, ``claims``
    the sizes of PVCs that are not the VM's own DataVolume templates; ``api_base`` is the API server's address."""
    metadata, spec, status = vm["metadata"], vm.get("spec") or {}, vm.get("status") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    domain = template.get("domain") or {}
    cpu, memory = domain.get("cpu") or {}, domain.get("memory") or {}
    per_socket = int(cpu.get("cores") or 1) * int(cpu.get("threads") or 1)
    sockets = int(cpu["sockets"]) if cpu.get("sockets") else None
    memory_mib = mib(memory.get("guest") or ((domain.get("resources") or {}).get("requests") or {}).get("memory"))
    instancetype = ((classes or {}).get("instancetype") or {})
    if instancetype:
        sockets, per_socket = int((instancetype.get("cpu") or {}).get("guest") or 1), 1
        memory_mib = mib((instancetype.get("memory") or {}).get("guest"))
    vmi_status = (vmi or {}).get("status") or {}
    agent = any(c.get("type") == "AgentConnected" and c.get("status") == "True"
                for c in vmi_status.get("conditions") or [])
    details = {"namespace": metadata.get("namespace"), "printable_status": status.get("printableStatus") or "Stopped",
               "run_strategy": spec.get("runStrategy") or ("Always" if spec.get("running") else HALTED),
               "node": vmi_status.get("nodeName"), "guest_agent": agent,
               "instancetype": (spec.get("instancetype") or {}).get("name"),
               "preference": (spec.get("preference") or {}).get("name")}
    return ObservedVM(
        id="%s/%s" % (metadata.get("namespace"), metadata["name"]),
        name=metadata["name"],
        power_state=power_state(vm),
        cpu=sockets * per_socket if sockets else (1 if not instancetype else None),
        memory_mib=memory_mib,
        firmware="uefi" if "efi" in ((domain.get("firmware") or {}).get("bootloader") or {}) else "bios",
        secure_boot=secure_boot_of(domain),
        max_cpu=int(cpu["maxSockets"]) * per_socket if cpu.get("maxSockets") and not instancetype else None,
        max_memory_mib=mib(memory.get("maxGuest")) if not instancetype else None,
        disks=_disks(vm, template, claims or {}),
        nics=_nics(template, vmi),
        tags=tags_of(metadata),
        console_url=vnc_url(api_base, metadata.get("namespace"), metadata["name"]) if vmi and api_base else None,
        placement=_where(spec, template),
        details={key: value for key, value in details.items() if value not in (None, "")},
        raw={"uid": metadata.get("uid"), "resourceVersion": metadata.get("resourceVersion"),
             "printableStatus": status.get("printableStatus")},
    )


def _where(spec: Mapping[str, Any], template: Mapping[str, Any]) -> Where:
    """The StorageClass of the root disk (of the first disk without one) and the node the VM is pinned to."""
    templates = spec.get("dataVolumeTemplates") or []
    root = next((t for t in templates if t["metadata"]["name"].endswith("-root")), templates[0] if templates else {})
    storage = (root.get("spec") or {}).get("storage") or (root.get("spec") or {}).get("pvc") or {}
    return Where(datastore=storage.get("storageClassName"),
                 host=(template.get("nodeSelector") or {}).get("kubernetes.io/hostname"))


def tags_of(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    text = (metadata.get("annotations") or {}).get(TAGS_ANNOTATION)
    try:
        return tuple(sorted(json.loads(text))) if text else ()
    except (TypeError, ValueError):
        return ()


# errors

def translate_error(status: int, body: bytes, what: str) -> errors.VirtrigaudError:
    """A failed Kubernetes API answer (its Status object) as the collection's error, naming what was asked."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (ValueError, AttributeError):
        document = {}
    document = document if isinstance(document, dict) else {}
    message = str(document.get("message") or body[:300].decode("utf-8", "replace") or "HTTP %d" % status)
    causes = (document.get("details") or {}).get("causes") or []
    details: dict[str, Any] = {"http_status": status, "reason": document.get("reason")}
    text = "%s: %s" % (what, message)
    if status == 401:
        return errors.AuthenticationError("the API server did not accept the credentials (%s)" % text,
                                          option="api_key", details=details)
    if status == 403:
        match = _FORBIDDEN.search(message)
        if match:
            verb, resource, group, namespace = match.groups()
            details.update(verb=verb, resource=resource, group=group, namespace=namespace)
            where = " in namespace %s" % namespace if namespace else " cluster-wide"
            text = "%s: the credentials may not %s %s%s%s; grant it in a Role (see the KubeVirt guide)" % (
                what, verb, resource, "." + group if group else "", where)
        return errors.PermissionDeniedError(text, details=details)
    if status in (404, 409):
        kind = {404: errors.NotFoundError, 409: errors.ConflictError}[status]
        return (errors.AlreadyExistsError if document.get("reason") == "AlreadyExists" else kind)(text, details=details)
    if status in (400, 422):
        field = next((c.get("field") for c in causes if c.get("field")), None)
        details["causes"] = causes
        return errors.SpecError("the Kubernetes API server rejected %s" % text, option=field, details=details)
    if status == 429 or status >= 500:
        return errors.UnavailableError(text, details=details)
    return errors.ProviderError(text, details=details)
