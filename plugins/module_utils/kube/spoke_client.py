# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A converge client for objects whose namespace the same run creates."""

from __future__ import annotations

from typing import Any, Iterable, Optional

from ..resilience import Deadline
from .client import Change, Kube
from .converge import Ready, Ref


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
