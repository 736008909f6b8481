# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A converge client for objects whose namespace the same run creates."""

from __future__ import annotations

import copy
from typing import Any, Iterable, Optional

from ..resilience import Deadline
from .client import Change, Kube
from .converge import Client, Ready, Ref
from .runtime import CHECKSUM_ANNOTATION, credentials_checksum


class UnwrittenNamespace:
    """The API server cannot dry-run a write into a namespace that does not exist yet: in check mode, while
    ``namespace`` is absent, each object in it is predicted as created, as sent; everything else goes through."""

    def __init__(self, client: Kube, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def _namespace_missing(self, dry_run: bool) -> bool:
        return dry_run and self.client.get("Namespace", self.namespace) is None

    def converge(self, objects: Iterable[dict[str, Any]], dry_run: bool = False) -> list[Change]:
        wanted = list(objects)
        if not self._namespace_missing(dry_run):
            return self.client.converge(wanted, dry_run=dry_run)
        inside = [obj for obj in wanted if obj["metadata"].get("namespace") == self.namespace]
        written = iter(self.client.converge([obj for obj in wanted if obj not in inside], dry_run=True))
        return [Change(obj["kind"], obj["metadata"]["name"], self.namespace, None, obj) if obj in inside
                else next(written) for obj in wanted]

    def remove(self, objects: Iterable[Ref], dry_run: bool = False) -> list[Change]:
        wanted = list(objects)
        if not self._namespace_missing(dry_run):
            return self.client.remove(wanted, dry_run=dry_run)
        inside = [ref for ref in wanted if ref[2] == self.namespace]
        removed = iter(self.client.remove([ref for ref in wanted if ref not in inside], dry_run=True))
        return [Change(ref[0], ref[1], ref[2], None, None) if ref in inside else next(removed) for ref in wanted]

    def wait_for(self, kind: str, name: str, namespace: Optional[str], ready: Ready, deadline: Deadline,
                 what: str) -> Optional[dict[str, Any]]:
        return self.client.wait_for(kind, name, namespace, ready, deadline, what)


class SecretChecksum:
    """Writes the objects up to the agent's Secret, then stamps the pod template with a checksum of that Secret as
    stored (keyed with its uid, as the provider runtime's pods are), then writes the rest: a new token or CA rolls
    the agent's pod, and a run that changes nothing leaves the checksum as it was."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def converge(self, objects: Iterable[dict[str, Any]], dry_run: bool = False) -> list[Change]:
        wanted = list(objects)
        cut = next((index + 1 for index, obj in enumerate(wanted) if obj["kind"] == "Secret"), 0)
        written = self.client.converge(wanted[:cut], dry_run=dry_run) if cut else []
        stored = next((change.after for change in written if change.kind == "Secret"), None)
        rest = [with_checksum(obj, credentials_checksum(stored)) if stored is not None else obj
                for obj in wanted[cut:]]
        return written + self.client.converge(rest, dry_run=dry_run)

    def remove(self, objects: Iterable[Ref], dry_run: bool = False) -> list[Change]:
        return self.client.remove(objects, dry_run=dry_run)

    def wait_for(self, kind: str, name: str, namespace: Optional[str], ready: Ready, deadline: Deadline,
                 what: str) -> Optional[dict[str, Any]]:
        return self.client.wait_for(kind, name, namespace, ready, deadline, what)


def with_checksum(obj: dict[str, Any], checksum: str) -> dict[str, Any]:
    """A Deployment with ``checksum`` on its pod template; any other object as it is."""
    if obj["kind"] != "Deployment":
        return obj
    stamped = copy.deepcopy(obj)
    template = stamped["spec"]["template"]["metadata"]
    template["annotations"] = dict(template.get("annotations") or {}, **{CHECKSUM_ANNOTATION: checksum})
    return stamped
