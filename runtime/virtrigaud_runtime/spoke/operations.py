# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each operation type run through the provider layer; every VM operation is idempotent."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import (
    ObservedVM,
    PowerOp,
    Provider,
    TaskRef,
    TaskStatus,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import Deadline, poll
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm_name

from . import vms, wire
from .backend import EVERY_NAMESPACE, Backend
from .vdc import VdcManager

Answer = dict[str, Any]


class OperationFailed(Exception):
    """The operation cannot be done as asked; the message goes to the hub as the result's error."""


class Operations:
    """``run(op)`` → (ok, result body, error).  ``hooks`` give the agent's own answers (health, metrics, config)."""

    def __init__(self, backend: Backend, vdcs: VdcManager, catalogue: Callable[[], Mapping[str, str]],
                 hooks: Mapping[str, Callable[..., Any]], log: logging.Logger, timeout: float) -> None:
        self.backend = backend
        self.vdcs = vdcs
        self.catalogue = catalogue
        self.hooks = hooks
        self.log = log
        self.timeout = timeout
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.handlers: dict[str, Callable[[Mapping[str, Any], Deadline], Answer]] = {
            "create_vm": self.create_vm, "delete_vm": self.delete_vm, "start_vm": self.start_vm,
            "stop_vm": self.stop_vm, "get_vm_status": self.get_vm_status, "list_vms": self.list_vms,
            "get_health": lambda payload, deadline: self.hooks["health"](),
            "get_metrics": lambda payload, deadline: self.hooks["metrics"](),
            "config_update": lambda payload, deadline: self.hooks["config"](payload),
            "sync_templates": self.sync_templates,
            "create_vdc": lambda payload, deadline: self.vdcs.create(payload),
            "delete_vdc": lambda payload, deadline: self.vdcs.delete(payload),
        }

    def run(self, op: wire.Operation) -> tuple[bool, Optional[Answer], Optional[str]]:
        handler = self.handlers.get(op.type)
        if handler is None:
            return False, None, "unknown operation type %r; this spoke runs: %s (or the document's names: %s)" % (
                op.given_type, ", ".join(sorted(self.handlers)), ", ".join(sorted(wire.ALIASES)))
        deadline = Deadline(op.timeout_seconds or self.timeout)
        try:
            return True, handler(op.payload, deadline), None
        except OperationFailed as err:
            return False, None, str(err)
        except errors.VirtrigaudError as err:
            if isinstance(err, errors.UnavailableError):
                self.backend.forget()
            return False, None, vms.in_payload_terms(err).message
        except Exception as err:  # pylint: disable=broad-exception-caught  # the agent must answer every operation
            self.log.exception("operation %s (%s) failed with a bug", op.id, op.type)
            self.backend.forget()
            return False, None, "internal error in the spoke: %s" % type(err).__name__

    def _vm_lock(self, key: str) -> threading.Lock:
        """Operations on one VM run one at a time (colliding ids may bring the same create twice at once)."""
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _target(self, payload: Mapping[str, Any]) -> tuple[str, str, Provider]:
        name = parse_vm_name(payload.get("name"))
        namespace = self.backend.namespace(payload.get("namespace"))
        return name, namespace, self.backend.provider(namespace)

    def _wait(self, provider: Provider, task: TaskRef, deadline: Deadline, what: str) -> None:
        if not task.id:
            return

        def finished() -> Optional[TaskStatus]:
            status = provider.task_status(task)
            return status if status.done else None

        status = poll(finished, deadline, what, interval=0.2, max_interval=2.0)
        if status.error:
            raise errors.ProviderError("%s failed: %s" % (what, status.error))

    def _view(self, provider: Provider, vm_id: str, namespace: str) -> Answer:
        observed = provider.describe(vm_id)
        if observed is None:
            raise errors.NotFoundError("VM %s disappeared" % vm_id)
        return vms.vm_status(observed, namespace, wire.rfc3339(wire.now()) or "")

    def _found(self, provider: Provider, name: str, namespace: str) -> ObservedVM:
        found = provider.find(name)
        if found is None:
            where = " in namespace %s" % namespace if self.backend.namespaced else ""
            raise OperationFailed("VM %s not found%s" % (name, where))
        return found

    def create_vm(self, payload: Mapping[str, Any], deadline: Deadline) -> Answer:
        spec = vms.create_spec(payload, self.catalogue())
        name, namespace, provider = self._target(payload)
        with self._vm_lock(namespace + "/" + name):
            existing = provider.find(name)
            if existing is None:
                provider.check_spec(spec)
                vm_id, task = provider.create(spec)
                self._wait(provider, task, deadline, "create of %s" % name)
            else:
                vm_id = existing.id
            if (provider.describe(vm_id) or existing or ObservedVM(vm_id, name, "Off")).power_state != "On":
                self._wait(provider, provider.power(vm_id, PowerOp.ON), deadline, "start of %s" % name)
            return {"vm": self._view(provider, vm_id, namespace), "created": existing is None}

    def delete_vm(self, payload: Mapping[str, Any], deadline: Deadline) -> Answer:
        name, namespace, provider = self._target(payload)
        with self._vm_lock(namespace + "/" + name):
            found = provider.find(name)
            if found is None:
                return {"name": name, "namespace": namespace, "deleted": False, "message": "the VM was already absent"}
            if found.power_state == "On":
                self._wait(provider, provider.power(found.id, PowerOp.OFF), deadline, "stop of %s" % name)
            self._wait(provider, provider.delete(found.id), deadline, "delete of %s" % name)
            return {"name": name, "namespace": namespace, "deleted": True}

    def _power(self, payload: Mapping[str, Any], deadline: Deadline, wanted: str, op: PowerOp) -> Answer:
        name, namespace, provider = self._target(payload)
        with self._vm_lock(namespace + "/" + name):
            found = self._found(provider, name, namespace)
            changed = found.power_state != wanted
            if changed:
                self._wait(provider, provider.power(found.id, op), deadline, "%s of %s" % (op.name.lower(), name))
            return {"vm": self._view(provider, found.id, namespace), "changed": changed}

    def start_vm(self, payload: Mapping[str, Any], deadline: Deadline) -> Answer:
        return self._power(payload, deadline, "On", PowerOp.ON)

    def stop_vm(self, payload: Mapping[str, Any], deadline: Deadline) -> Answer:
        return self._power(payload, deadline, "Off", PowerOp.OFF)

    def get_vm_status(self, payload: Mapping[str, Any], deadline: Deadline) -> Answer:
        name, namespace, provider = self._target(payload)
        found = self._found(provider, name, namespace)
        return {"vm": vms.vm_status(found, namespace, wire.rfc3339(wire.now()) or "")}

    def list_vms(self, payload: Mapping[str, Any], deadline: Deadline) -> Answer:
        given = payload.get("namespace")
        namespace = self.backend.namespace(given) if given else EVERY_NAMESPACE
        when = wire.rfc3339(wire.now()) or ""
        shown = self.backend.default_namespace if namespace == EVERY_NAMESPACE else namespace
        listed = [vms.vm_status(vm, shown, when) for vm in self.backend.provider(namespace).list_vms()]
        return {"vms": listed, "count": len(listed)}

    def sync_templates(self, payload: Mapping[str, Any], deadline: Deadline) -> Answer:
        catalogue = self.hooks["reload_templates"]()
        return {"templates": sorted(catalogue), "count": len(catalogue), "synced_at": wire.rfc3339(wire.now())}
