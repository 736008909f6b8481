# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin's work outside Ansible's inventory API: check sources, fetch them in parallel, shape hosts.

Fetching goes through the provider layer's bulk listings (``inventory``, the
summary, or ``list_vms`` with ``details``), one call per source, all sources at
once, and each VM becomes the document ``ObservedVM.to_dict`` makes, as in module
results.  What is fetched is plain data, so the plugin can
cache it and rebuild groups from it without touching a backend.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import os
from typing import Any, Callable, Mapping, Optional

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import connection_spec, kube_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.coercion import container_for_string
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    AuthenticationError,
    MissingDependency,
    SpecError,
    VirtrigaudError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.connection import Connection, resolve
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import PROVIDER_TYPES, open_provider

PREFIX = "virtrigaud_"
KUBERNETES = "kubernetes"
SOURCE_TYPES = tuple(PROVIDER_TYPES) + (KUBERNETES,)


class SourceError(Exception):
    """A source cannot be read; ``fatal`` when its settings are wrong rather than its backend down."""

    def __init__(self, source: str, message: str, fatal: bool) -> None:
        super().__init__("source '%s': %s" % (source, message))
        self.fatal = fatal


def source_spec() -> dict[str, Any]:
    spec = dict(connection_spec(), **kube_spec())
    spec.pop("provider_type")
    spec["name"] = {"type": "str"}
    spec["type"] = {"type": "str", "required": True, "choices": list(SOURCE_TYPES)}
    spec["details"] = {"type": "bool", "default": False}
    spec["namespaces"] = {"type": "list", "elements": "str", "default": []}
    spec["label_selector"] = {"type": "str"}
    return spec


def check_sources(sources: Any) -> list[dict[str, Any]]:
    """Each source's settings, with environment fallbacks applied; a bad one raises naming the key."""
    if not isinstance(sources, list) or not sources:
        raise SpecError("give at least one source, such as {type: libvirt, uri: 'qemu:///system'}", option="sources")
    checked = []
    for index, source in enumerate(sources):
        where = "sources[%d]" % index
        if not isinstance(source, Mapping):
            raise SpecError("expected a dictionary, got %s" % type(source).__name__, option=where)
        result = ArgumentSpecValidator(source_spec()).validate(dict(source))
        if result.error_messages:
            raise SpecError("; ".join(result.error_messages), option=where)
        container = container_for_string(source_spec(), source)
        if container is not None:
            raise SpecError(container.msg, option="%s.%s" % (where, container.option))
        params = result.validated_parameters
        _check_namespaces(params["namespaces"], where)
        params["name"] = params.get("name") or "%s-%d" % (params["type"], index)
        checked.append(params)
    names = [s["name"] for s in checked]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise SpecError("two sources are named '%s'; names must be unique" % duplicate, option="sources[].name")
    return checked


def _check_namespaces(namespaces: list[str], where: str) -> None:
    if not namespaces:
        return
    # Imported here, as the Kubernetes client is: importing it costs more than listing thousands of VMs.
    from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider import check_name

    for position, namespace in enumerate(namespaces):
        check_name(namespace, "%s.namespaces[%d]" % (where, position))


def fetch(sources: list[dict[str, Any]], raw_data: bool = False) -> list[dict[str, Any]]:
    """Every source's VMs as plain data, all sources at once; a failed source carries its ``error``."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(sources))) as pool:
        return list(pool.map(lambda source: _fetch_one(source, raw_data), sources))


def _fetch_one(source: dict[str, Any], raw_data: bool) -> dict[str, Any]:
    found: dict[str, Any] = {"source": source["name"], "type": source["type"], "vms": [], "warnings": []}
    try:
        found["vms"] = (_fetch_resources if source["type"] == KUBERNETES else _fetch_provider)(source, raw_data, found)
    except (SpecError, AuthenticationError, MissingDependency) as err:
        found.update(error=err.message, fatal=True)
    except VirtrigaudError as err:
        found.update(error=err.message, fatal=False)
    return found


def source_connection(source: Mapping[str, Any]) -> Connection:
    """The source's connection, read as its type reads it: its own keys and environment variables only.

    A kubevirt source lists ``namespaces`` (its ``namespace`` when that is all it gives, else every
    namespace), with its ``label_selector``.
    """
    extra = None
    if source["type"] == "kubevirt":
        namespaces = source.get("namespaces") or ([source["namespace"]] if source.get("namespace") else [])
        extra = {"namespaces": list(namespaces), "label_selector": source.get("label_selector")}
    return resolve(source["type"], source, os.environ, extra)


def _fetch_provider(source: dict[str, Any], raw_data: bool, found: dict[str, Any]) -> list[dict[str, Any]]:
    connection = source_connection(source)
    found["warnings"] += connection.foreign_warnings()
    provider = open_provider(connection.config)
    records = []
    try:
        for vm in provider.list_vms() if source["details"] else provider.inventory():
            record = vm.to_dict()
            if raw_data:
                record["raw"] = dict(vm.raw)
            records.append(record)
        found["warnings"] += provider.warnings
    finally:
        provider.close()
    return records


def _fetch_resources(source: dict[str, Any], raw_data: bool, found: dict[str, Any]) -> list[dict[str, Any]]:
    """VirtualMachine resources, with their power state and addresses from the status VirtRigaud's manager writes."""
    from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Kube, KubeConfig

    kube = Kube(KubeConfig.from_params(source))
    try:
        items = [item for namespace in source["namespaces"] or [None]
                 for item in kube.list("VirtualMachine", namespace, source.get("label_selector"))]
    finally:
        kube.close()
    return [_resource_record(item, raw_data) for item in items]


def _resource_record(item: Mapping[str, Any], raw_data: bool) -> dict[str, Any]:
    metadata, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
    current = status.get("currentResources") or {}
    record = {
        "id": status.get("id") or "%s/%s" % (metadata["namespace"], metadata["name"]),
        "name": metadata["name"],
        "power_state": status.get("powerState") or "Unknown",
        "cpu": current.get("cpu"),
        "memory_mib": current.get("memoryMiB"),
        "nics": [{"name": nic["name"], "network": (nic.get("networkRef") or {}).get("name"), "ip_addresses": []}
                 for nic in spec.get("networks") or []],
        "ip_addresses": list(status.get("ips") or []),
        "tags": list(spec.get("tags") or []),
        "console_url": status.get("consoleURL"),
        "kubernetes": {"namespace": metadata["namespace"], "provider": (spec.get("providerRef") or {}).get("name"),
                       "phase": status.get("phase"), "labels": dict(metadata.get("labels") or {})},
    }
    if raw_data:
        record["raw"] = {"spec": dict(spec), "status": dict(status)}
    return record


BASIC_FIELDS = ("id", "name", "power_state", "ip_addresses", "tags")
"""What every host gets: enough to connect to it and to group it."""
FULL_FIELDS = ("cpu", "memory_mib", "firmware", "disks", "nics", "console_url")
"""What ``host_variables: full`` adds: hardware and console, costly at thousands of hosts."""
_LISTS = frozenset(("ip_addresses", "tags", "disks", "nics"))


def host_vars(record: Mapping[str, Any], source: str, source_type: str,
              preference: Optional[Mapping[str, Any]] = None, full: bool = False) -> dict[str, Any]:
    """The host variables of one VM, all under the ``virtrigaud_`` prefix, plus ``ansible_host``.

    Only the basic fields unless ``full``; the source-specific ``kubernetes``, ``details`` and ``raw``
    documents come whenever the record has them.
    """
    variables: dict[str, Any] = {PREFIX + "provider": source, PREFIX + "provider_type": source_type}
    for field in BASIC_FIELDS + (FULL_FIELDS if full else ()):
        value = record.get(field)
        variables[PREFIX + field] = (value or []) if field in _LISTS else value
    for extra in ("raw", KUBERNETES, "details"):
        if extra in record:
            variables[PREFIX + extra] = record[extra]
    address = ansible_host(record.get("nics") or [], preference or {}) or ansible_host(
        [{"name": "", "ip_addresses": record.get("ip_addresses") or []}], preference or {})
    if address:
        variables["ansible_host"] = address
    return variables


def ansible_host(nics: list[Mapping[str, Any]], preference: Mapping[str, Any]) -> Optional[str]:
    """By NIC network in the order given, then by CIDR in the order given, then the first IPv4 address."""
    candidates: list[tuple[Any, str]] = [(nic.get("network") or nic.get("bridge") or nic.get("name"), ip)
                                         for nic in nics for ip in nic.get("ip_addresses") or () if _usable(ip)]
    for network in preference.get("networks") or ():
        match = next((ip for net, ip in candidates if net == network), None)
        if match:
            return match
    for cidr in preference.get("cidrs") or ():
        block = ipaddress.ip_network(cidr, strict=False)
        match = next((ip for dummy, ip in candidates if ipaddress.ip_address(ip) in block), None)
        if match:
            return match
    return next((ip for dummy, ip in candidates if ipaddress.ip_address(ip).version == 4), None)


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)


def default_groups(variables: Mapping[str, Any]) -> list[str]:
    groups = ["virtrigaud", "virtrigaud_provider_" + variables[PREFIX + "provider"],
              "virtrigaud_power_" + str(variables[PREFIX + "power_state"]).lower()]
    groups += ["virtrigaud_tag_" + tag for tag in variables[PREFIX + "tags"]]
    return groups


def check_choices(hostnames: Any, preference: Mapping[str, Any], full: bool = True) -> None:
    """Host-name choices and address preferences that can work, before any source is asked.

    Raises:
        SpecError: naming ``hostnames[i]`` or ``ip_preference.cidrs[i]``.
    """
    record = {"id": "", "name": "", "power_state": ""}
    # ansible_host is set only for a VM with an address, so the empty record above lacks it.
    known = set(host_vars(record, "", "", full=full)) | {"ansible_host"}
    everything = set(host_vars(record, "", "", full=True)) | {"ansible_host"}
    for index, choice in enumerate(hostnames or ()):
        where = "hostnames[%d]" % index
        if not isinstance(choice, str):
            raise SpecError("expected a host variable name or a template, got %s" % type(choice).__name__, option=where)
        if "{{" in choice or "{%" in choice or {choice, PREFIX + choice} & known:
            continue
        if {choice, PREFIX + choice} & everything:
            raise SpecError("'%s' is a host variable only with host_variables: full" % choice, option=where)
        raise SpecError("'%s' is neither a host variable (such as name or id) nor a template" % choice, option=where)
    for index, cidr in enumerate(preference.get("cidrs") or ()):
        try:
            ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            raise SpecError("'%s' is not an address block such as 10.20.0.0/16" % cidr,
                            option="ip_preference.cidrs[%d]" % index) from None


def hostname(variables: Mapping[str, Any], choices: list[str], render: Callable[[str, Mapping[str, Any]], Any]
             ) -> Optional[str]:
    """The first non-empty of ``choices``: a host variable name (with or without the prefix) or a template."""
    for choice in choices:
        if "{{" in choice or "{%" in choice:
            value = render(choice, variables)
        else:
            value = variables.get(choice, variables.get(PREFIX + choice))
        if value not in (None, ""):
            return str(value)
    return None
