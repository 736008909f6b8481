# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vm with ``provider_ref``: the VirtualMachine resource and its inline objects (built in :mod:`.vm`),
converged through the Kubernetes API instead of a VM on a hypervisor."""

from __future__ import annotations

from typing import Any, Optional, Protocol

from ..errors import SpecError
from ..spec import parse_vm, parse_vm_name
from . import vm as resources
from .client import Kube, comparable, condition
from .converge import Outcome, Request, Wait, converge, gone, merged_diff
from .vm_document import VMManifest


class KubeRun(Protocol):
    """What a run of the module offers this path (module.VirtrigaudRun is one)."""

    params: dict[str, Any]
    check_mode: bool
    diff_mode: bool

    @property
    def kube(self) -> Kube: ...


def ready(obj: Optional[dict[str, Any]]) -> bool:
    return (condition(obj, "Ready") or {}).get("status") == "True"


def addressed(obj: Optional[dict[str, Any]]) -> bool:
    return ready(obj) and bool(((obj or {}).get("status") or {}).get("ips"))


def _owned(m: KubeRun, name: str, namespace: str) -> list[tuple[str, str, Optional[str]]]:
    """The inline objects an earlier run wrote for this VM, found by their owner label."""
    selector = "%s=%s" % (resources.OWNER_LABEL, name)
    return [(kind, obj["metadata"]["name"], namespace) for kind in resources.INLINE_KINDS
            for obj in m.kube.list(kind, namespace, selector)]


def _deleted(name: str, namespace: str) -> Wait:
    return Wait("VirtualMachine", name, namespace, gone, "VirtualMachine %s/%s to be deleted" % (namespace, name))


def _settled(name: str, namespace: str, with_ip: bool) -> Wait:
    return Wait("VirtualMachine", name, namespace, addressed if with_ip else ready, "VirtualMachine %s/%s to become "
                "Ready%s" % (namespace, name, " with an IP address" if with_ip else ""))


def _removal(m: KubeRun, name: str, namespace: str) -> Request:
    return Request(delete=[("VirtualMachine", name, namespace)] + _owned(m, name, namespace),
                   waits=[_deleted(name, namespace)] if m.params["wait"] else (), wait_timeout=_timeout(m))


def _application(m: KubeRun, name: str, namespace: str, power_state: Optional[str]) -> Request:
    p = m.params
    ref = p["provider_ref"]
    provider_namespace = ref.get("namespace") or namespace
    spec = parse_vm(dict(p, name=name), power_state)
    resources.check_resource_options(p, spec)
    provider = m.kube.get("Provider", ref["name"], provider_namespace)
    refs = resources.References(ref["name"], provider_namespace, (provider or {}).get("spec", {}).get("type"),
                                p["class_ref"], p["image_ref"])
    wanted = resources.vm_objects(spec, namespace, refs, resources.resource_power_state(p["state"], p["shutdown_mode"]))
    if provider is None and not m.check_mode:
        raise SpecError("no Provider '%s' in namespace '%s'" % (ref["name"], provider_namespace), option="provider_ref")
    kept = {(obj["kind"], obj["metadata"]["name"]) for obj in wanted}
    wait = _settled(name, namespace, p["wait_for_ip_address"] and p["state"] in ("present", "started"))
    return Request(apply=wanted, prune=[ref for ref in _owned(m, name, namespace) if ref[:2] not in kept],
                   waits=[wait] if p["wait"] else (), wait_timeout=_timeout(m))


def _timeout(m: KubeRun) -> float:
    return float(m.params.get("wait_timeout") or 300)


def run_resource(m: KubeRun, power_state: Optional[str]) -> dict[str, Any]:
    """Converge the VirtualMachine resource (and its inline objects); ``power_state`` is the spec's for the state."""
    p = m.params
    name = parse_vm_name(p["name"])
    resources.check_resource_options(p, None)
    namespace = p["namespace"] or "default"
    removing = p["state"] == "absent"
    request = _removal(m, name, namespace) if removing else _application(m, name, namespace, power_state)
    outcome = converge(m.kube, request, m.check_mode)
    result = _result(outcome, None if removing else outcome.current("VirtualMachine", name))
    result["resources"] = [{"kind": entry["kind"], "name": entry["name"], "changed": entry["changed"]}
                           for entry in outcome.objects()]
    if m.diff_mode:
        result["diff"] = merged_diff(_deprecated_diff(outcome, name), outcome.diff())
    return result


def _result(outcome: Outcome, stored: Optional[dict[str, Any]]) -> dict[str, Any]:
    """What a run returns: the changes, each object, and the VirtualMachine as stored (None when removed)."""
    return {
        "changed": outcome.changed,
        "changes": [{"action": "apply" if change.after else "delete", "target": "%s/%s" % (change.kind, change.name)}
                    for change in outcome.changes if change.changed],
        "objects": outcome.objects(),
        "resource": comparable(stored),
        "vm": resources.observed(stored),
        "power_cycled_for_update": False,
    }


def _deprecated_diff(outcome: Outcome, name: str) -> dict[str, dict[str, Any]]:
    """The diff's former shape, the VirtualMachine's own fields, kept beside the Kind/name keys for a release."""
    change = outcome.change("VirtualMachine", name)
    return {"before": comparable(change.before) or {}, "after": comparable(change.after) or {}}


def run_documents(m: KubeRun, manifest: VMManifest) -> dict[str, Any]:
    """Apply a VirtualMachine manifest's documents as written (or delete them, state=absent), then wait as asked."""
    p = m.params
    resources.check_resource_options(p, None, "apply_to: kubernetes")
    name, namespace = manifest.name, manifest.namespace
    removing = p["state"] == "absent"
    if removing:
        request = Request(delete=[(document["kind"], document["metadata"]["name"], namespace)
                                  for document in reversed(manifest.documents)],
                          waits=[_deleted(name, namespace)] if p["wait"] else (), wait_timeout=_timeout(m))
    else:
        ref = manifest.spec["providerRef"]
        provider_namespace = ref.get("namespace") or namespace
        if m.kube.get("Provider", ref["name"], provider_namespace) is None and not m.check_mode:
            raise SpecError("the VirtualMachine's providerRef names no Provider '%s' in namespace '%s'"
                            % (ref["name"], provider_namespace), option="definition")
        documents = [dict(document, metadata=dict(document["metadata"], namespace=namespace))
                     for document in manifest.documents]
        request = Request(apply=documents, waits=[_settled(name, namespace, p["wait_for_ip_address"])]
                          if p["wait"] else (), wait_timeout=_timeout(m))
    outcome = converge(m.kube, request, m.check_mode)
    result = _result(outcome, None if removing else outcome.current("VirtualMachine", name))
    if m.diff_mode:
        result["diff"] = outcome.diff()
    return result
