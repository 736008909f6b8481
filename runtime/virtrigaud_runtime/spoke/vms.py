# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVIM's VM payloads onto the collection's VM spec, and observed VMs onto OVIM's VM status.  Pure."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError, VirtrigaudError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ObservedVM
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import VMSpec, parse_vm

# The spec's option names as the payload spells them, so that an error names what the hub sent.
PAYLOAD_NAMES = (("disk_defaults.size", "storage"), ("networks[0].network", "network_name"),
                 ("networks[0]", "network_name"), ("image", "template_name"), ("tags", "labels"))
NIC_NAME = "nic0"


def payload_option(option: Optional[str]) -> Optional[str]:
    for spec_name, payload_name in PAYLOAD_NAMES:
        if option and option.startswith(spec_name):
            return payload_name + option[len(spec_name):]
    return option


def in_payload_terms(err: VirtrigaudError) -> VirtrigaudError:
    err.option = payload_option(err.option)
    return err


def _labels(payload: Mapping[str, Any]) -> Optional[list[str]]:
    labels = payload.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, Mapping):
        raise SpecError("expected an object of label names and values", option="labels")
    return ["%s=%s" % (key, value) if value not in (None, "") else str(key) for key, value in labels.items()]


def image_of(template: Any, catalogue: Mapping[str, str]) -> Optional[str]:
    if template in (None, ""):
        return None
    if not isinstance(template, str) or template not in catalogue:
        known = ", ".join(sorted(catalogue)) or "none: set OVIM_TEMPLATE_CATALOGUE"
        raise SpecError("template %r is not in the spoke's catalogue (known: %s)" % (template, known),
                        option="template_name")
    return catalogue[template]


def create_spec(payload: Mapping[str, Any], catalogue: Mapping[str, str]) -> VMSpec:
    """The VM spec of a create_vm payload.

    Raises:
        SpecError: naming the payload's field.
    """
    if payload.get("annotations"):
        raise SpecError("this spoke keeps no annotations on a VM; send labels instead", option="annotations")
    params: dict[str, Any] = {"name": payload.get("name"), "cpu": payload.get("cpu"), "memory": payload.get("memory"),
                              "image": image_of(payload.get("template_name"), catalogue), "tags": _labels(payload)}
    if payload.get("storage") not in (None, ""):
        params["disk_defaults"] = {"size": payload["storage"]}
    if payload.get("network_name"):
        params["networks"] = [{"name": NIC_NAME, "network": payload["network_name"]}]
    try:
        return parse_vm(params)
    except VirtrigaudError as err:
        raise in_payload_terms(err) from None


def labels_of(tags: tuple[str, ...]) -> dict[str, str]:
    return dict(tag.partition("=")[::2] for tag in tags)


def vm_status(vm: ObservedVM, namespace: str, when: str) -> dict[str, Any]:
    """A VM as the hub's status report and results carry it."""
    running = vm.power_state == "On"
    details = vm.details or {}
    disks_gib = sum(disk.size_gib for disk in vm.disks)
    return {
        "id": vm.id,
        "name": vm.name,
        "namespace": details.get("namespace") or namespace,
        "status": "running" if running else "stopped",
        "phase": details.get("printable_status") or ("Running" if running else "Stopped"),
        "node_name": details.get("node") or "",
        "ip_address": next(iter(vm.ip_addresses), ""),
        # Strings, as the hub's VMStatus declares them (a number there fails the whole report with 400).
        "cpu": str(vm.cpu) if vm.cpu else "",
        "memory": "%dMi" % vm.memory_mib if vm.memory_mib else "",
        "storage": "%dGi" % disks_gib if disks_gib else "",
        "labels": labels_of(vm.tags),
        "created_at": None,
        "updated_at": when,
    }
