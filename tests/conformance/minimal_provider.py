# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deliberately minimal provider.v1 server: correct, but without snapshots, clones, image import or online
reconfiguration, and it says so in GetCapabilities.  It serves only the RPCs it implements, so the others
answer UNIMPLEMENTED as any gRPC server does.

A mutation makes it wrong on purpose, to prove the suite fails what a provider gets wrong:
  new-id-on-create     a repeated Create of one name makes a second VM
  not-found-on-delete  a Delete of a missing VM answers NOT_FOUND
  claims-snapshots     reports supports_snapshots=true but serves no snapshot RPC

    python -m conformance.minimal_provider [--port N] [--mutation NAME]
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from concurrent import futures
from typing import Any, Callable

import grpc

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.wire import wire

MUTATIONS = ("new-id-on-create", "not-found-on-delete", "claims-snapshots")
TASK_SECONDS = 0.05


class Minimal:
    """VMs in a dict; Create, Power and Delete return a TaskRef that is done TASK_SECONDS later.

    The RPC methods carry the contract's names and signature.
    """

    # pylint: disable=invalid-name,unused-argument

    def __init__(self, mutation: str = "") -> None:
        self.mutation = mutation
        self.vms: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, float] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def task(self) -> dict[str, str]:
        task_id = "task-%d" % next(self.ids)
        self.tasks[task_id] = time.monotonic() + TASK_SECONDS
        return {"id": task_id}

    def vm(self, vm_id: str, context: Any) -> dict[str, Any]:
        if vm_id not in self.vms:
            context.abort(grpc.StatusCode.NOT_FOUND, "VM %r not found" % vm_id)
        return self.vms[vm_id]

    def Validate(self, request: Any, context: Any) -> dict[str, Any]:
        return {"ok": True, "message": "minimal provider ready"}

    def GetCapabilities(self, request: Any, context: Any) -> dict[str, Any]:
        return {"supports_snapshots": self.mutation == "claims-snapshots", "supported_disk_types": ["raw"]}

    def Create(self, request: Any, context: Any) -> dict[str, Any]:
        try:
            vm_class = json.loads(request.class_json or "{}")
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "class_json is not JSON")
        if not request.name or not isinstance(vm_class, dict):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a name and a class object are required")
        with self.lock:
            existing = [vm_id for vm_id, vm in self.vms.items() if vm["name"] == request.name]
            if existing and self.mutation != "new-id-on-create":
                return {"id": existing[0]}
            vm_id = "vm-%d" % next(self.ids)
            self.vms[vm_id] = {"name": request.name, "power": "Off", "cpu": vm_class.get("CPU") or 1,
                               "memory": vm_class.get("MemoryMiB") or 512}
            return {"id": vm_id, "task": self.task()}

    def Delete(self, request: Any, context: Any) -> dict[str, Any]:
        with self.lock:
            if request.id not in self.vms and self.mutation == "not-found-on-delete":
                context.abort(grpc.StatusCode.NOT_FOUND, "VM %r not found" % request.id)
            self.vms.pop(request.id, None)
            return {"task": self.task()}

    def Power(self, request: Any, context: Any) -> dict[str, Any]:
        vm = self.vm(request.id, context)
        if request.op not in (1, 2, 3, 4):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown power op %d" % request.op)
        vm["power"] = "On" if request.op in (1, 3) else "Off"
        return {"task": self.task()}

    def Reconfigure(self, request: Any, context: Any) -> dict[str, Any]:
        vm = self.vm(request.id, context)
        try:
            wanted = (json.loads(request.desired_json or "{}") or {}).get("Class") or {}
        except (ValueError, AttributeError):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "desired_json is not a JSON object")
        if vm["power"] == "On":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "this provider reconfigures stopped VMs only")
        vm["cpu"] = wanted.get("CPU") or vm["cpu"]
        vm["memory"] = wanted.get("MemoryMiB") or vm["memory"]
        return {}

    def Describe(self, request: Any, context: Any) -> dict[str, Any]:
        vm = self.vms.get(request.id)
        if vm is None:
            return {"exists": False}
        return {"exists": True, "power_state": vm["power"], "provider_raw_json": "{}"}

    def TaskStatus(self, request: Any, context: Any) -> dict[str, Any]:
        if request.task.id not in self.tasks:
            context.abort(grpc.StatusCode.NOT_FOUND, "task %r not found" % request.task.id)
        return {"done": time.monotonic() >= self.tasks[request.task.id]}

    def ListVMs(self, request: Any, context: Any) -> dict[str, Any]:
        return {"vms": [{"id": vm_id, "name": vm["name"], "power_state": vm["power"], "cpu": vm["cpu"],
                         "memory_mib": vm["memory"]} for vm_id, vm in list(self.vms.items())]}


SERVED = ("Validate", "GetCapabilities", "Create", "Delete", "Power", "Reconfigure", "Describe", "TaskStatus",
          "ListVMs")


def _handler(method: Callable[[Any, Any], dict[str, Any]], name: str) -> Any:
    request_type, response_type = wire().methods[name]
    return grpc.unary_unary_rpc_method_handler(lambda request, context: response_type(**method(request, context)),
                                               request_deserializer=request_type.FromString,
                                               response_serializer=response_type.SerializeToString)


def serve(port: int = 0, mutation: str = "") -> tuple[grpc.Server, int]:
    """A started plaintext server on 127.0.0.1 and its port."""
    provider = Minimal(mutation)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "provider.v1.Provider", {name: _handler(getattr(provider, name), name) for name in SERVED}),))
    bound = server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    return server, bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mutation", choices=MUTATIONS, default="")
    args = parser.parse_args()
    server, port = serve(args.port, args.mutation)
    print("minimal provider on 127.0.0.1:%d%s" % (port, " (%s)" % args.mutation if args.mutation else ""),
          flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
