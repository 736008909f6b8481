# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-memory Kubernetes API for unit tests: the real :class:`Kube` sequence (converge, remove) over a dict,
recording every call it receives."""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Kube
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline


class FakeKube(Kube):
    """Stores objects by (kind, namespace, name); a dry run stores nothing. ``on_wait`` may turn an object into
    what a controller would make of it by the time a wait reads it."""

    def __init__(self, *objects: dict[str, Any], on_wait: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None):
        self.store: dict[tuple[str, Optional[str], str], dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.on_wait = on_wait
        for obj in objects:
            self.store[self._key(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))] = obj

    @staticmethod
    def _key(kind: str, name: str, namespace: Optional[str]) -> tuple[str, Optional[str], str]:
        return kind, namespace, name

    def get(self, kind: str, name: str, namespace: Optional[str] = None) -> Optional[dict[str, Any]]:
        self.calls.append(("get", kind, name, namespace))
        found = self.store.get(self._key(kind, name, namespace))
        return copy.deepcopy(found)

    def list(self, kind: str, namespace: Optional[str] = None,
             label_selector: Optional[str] = None) -> list[dict[str, Any]]:
        self.calls.append(("list", kind, namespace, label_selector))
        label, value = (label_selector or "=").split("=", 1)
        return [copy.deepcopy(obj) for (stored_kind, stored_namespace, dummy), obj in sorted(self.store.items())
                if stored_kind == kind and stored_namespace == namespace
                and (not label or obj["metadata"].get("labels", {}).get(label) == value)]

    def apply(self, obj: dict[str, Any], dry_run: bool = False, subresource: str = "") -> dict[str, Any]:
        metadata = obj["metadata"]
        self.calls.append(("apply", obj["kind"], metadata["name"], dry_run, subresource))
        key = self._key(obj["kind"], metadata["name"], metadata.get("namespace"))
        stored = copy.deepcopy(self.store.get(key) or {})
        if subresource == "status":
            stored["status"] = copy.deepcopy(obj["status"])
        else:
            stored = (dict(copy.deepcopy(obj), status=stored.get("status")) if stored.get("status")
                      else copy.deepcopy(obj))
            stored["metadata"] = dict(stored["metadata"], resourceVersion=str(len(self.calls)))
        if not dry_run:
            self.store[key] = stored
        return copy.deepcopy(stored)

    def delete(self, kind: str, name: str, namespace: Optional[str] = None, dry_run: bool = False) -> bool:
        self.calls.append(("delete", kind, name, namespace, dry_run))
        key = self._key(kind, name, namespace)
        if key not in self.store:
            return False
        if not dry_run:
            del self.store[key]
        return True

    def wait_for(self, kind: str, name: str, namespace: Optional[str],
                 ready: Callable[[Optional[dict[str, Any]]], bool],
                 deadline: Deadline, what: str) -> Optional[dict[str, Any]]:
        self.calls.append(("wait_for", kind, name, namespace, id(deadline), what))
        key = self._key(kind, name, namespace)
        if self.on_wait is not None and key in self.store:
            self.store[key] = self.on_wait(self.store[key])
        current = copy.deepcopy(self.store.get(key))
        assert ready(current), "a wait that would time out: %s" % what
        return current

    def writes(self) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] in ("apply", "delete")]

    def close(self) -> None:
        pass


def run_module(module: Any, kube: FakeKube, args: dict[str, Any], check_mode: bool = False,
               diff_mode: bool = False) -> dict[str, Any]:
    """A module's ``run`` on ``kube``, with its options validated and defaulted as AnsibleModule would."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudRun

    validated = ArgumentSpecValidator(module.argument_spec(), **module.OPTION_RULES).validate(args)
    assert not validated.error_messages, validated.error_messages
    warnings: list[str] = []
    run = VirtrigaudRun(validated.validated_parameters, check_mode, diff_mode, warnings.append)
    run._kube = kube
    result = run.outcome(module.run)
    result["warnings"] = warnings
    return result
