# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one sequence every Kubernetes module runs: apply the wanted objects, remove the unwanted ones, wait
(never in check mode), then report each object and the diff in one shape.

The service gets everything it needs as arguments (the client, a :class:`Request`, check mode); it reads no
module options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, Sequence

from ..resilience import Deadline
from .client import Change, comparable

# (kind, name, namespace) of one object; namespace is None for cluster-scoped kinds.
Ref = tuple[str, str, Optional[str]]
# Objects as the API server returns them, by kind and name.
Settled = dict[tuple[str, str], Optional[dict[str, Any]]]
Ready = Callable[[Optional[dict[str, Any]]], bool]
# What a module adds to an object's entry in ``objects``, from its change and the object as last read.
Detail = Callable[[Change, Optional[dict[str, Any]]], Mapping[str, Any]]
# How an object appears in the diff: (before, after) from its change.
View = Callable[[Change], tuple[Any, Any]]


class Client(Protocol):
    """The part of :class:`.client.Kube` the service uses (tests pass a fake that records calls)."""

    def converge(self, objects: Iterable[dict[str, Any]], dry_run: bool = False) -> list[Change]: ...

    def remove(self, objects: Iterable[Ref], dry_run: bool = False) -> list[Change]: ...

    def wait_for(self, kind: str, name: str, namespace: Optional[str], ready: Ready, deadline: Deadline,
                 what: str) -> Optional[dict[str, Any]]: ...


def gone(obj: Optional[dict[str, Any]]) -> bool:
    return obj is None


@dataclass(frozen=True)
class Wait:
    """Wait until ``ready`` accepts the object; ``what`` names the wait in a timeout's message."""

    kind: str
    name: str
    namespace: Optional[str]
    ready: Ready
    what: str


@dataclass(frozen=True)
class Request:
    """What one run wants.

    ``apply`` objects are written in order; ``delete`` objects are removed and always reported; ``prune``
    objects are removed and reported only when they existed (leftovers of an earlier run); ``waits`` run
    after all writes, against one deadline of ``wait_timeout`` seconds.
    """

    apply: Sequence[dict[str, Any]] = ()
    delete: Sequence[Ref] = ()
    prune: Sequence[Ref] = ()
    waits: Sequence[Wait] = ()
    wait_timeout: float = 300.0


@dataclass(frozen=True)
class Outcome:
    """Each object's change, in the order written, and the objects as the waits last read them."""

    changes: tuple[Change, ...]
    settled: Mapping[tuple[str, str], Optional[dict[str, Any]]]

    @property
    def changed(self) -> bool:
        return any(change.changed for change in self.changes)

    def change(self, kind: str, name: str) -> Change:
        return next(change for change in self.changes if (change.kind, change.name) == (kind, name))

    def current(self, kind: str, name: str) -> Optional[dict[str, Any]]:
        """The object after the run: as the wait last read it, else as written (None when removed)."""
        if (kind, name) in self.settled:
            return self.settled[(kind, name)]
        return self.change(kind, name).after

    def objects(self, detail: Optional[Detail] = None) -> list[dict[str, Any]]:
        """The result's ``objects``: one entry per object, in the order written."""
        entries = []
        for change in self.changes:
            entry: dict[str, Any] = {"kind": change.kind, "name": change.name, "namespace": change.namespace,
                                     "changed": change.changed}
            if detail is not None:
                entry.update(detail(change, self.current(change.kind, change.name)))
            entries.append(entry)
        return entries

    def diff(self, view: Optional[View] = None) -> dict[str, dict[str, Any]]:
        """``{before, after}`` keyed ``Kind/name``, for the objects that changed."""
        shown = view or default_view
        diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
        for change in self.changes:
            if change.changed:
                key = "%s/%s" % (change.kind, change.name)
                diff["before"][key], diff["after"][key] = shown(change)
        return diff


def secret_view(change: Change) -> tuple[Optional[list[str]], Optional[dict[str, str]]]:
    """A Secret without its content: its keys before, and whether each key's value changed after."""
    before = (change.before or {}).get("data") or {}
    after = (change.after or {}).get("data") or {}
    return (sorted(before) if change.before else None,
            {key: "changed" if before.get(key) != value else "unchanged" for key, value in sorted(after.items())}
            if change.after else None)


def default_view(change: Change) -> tuple[Any, Any]:
    """Secrets by their keys only; every other object without the fields the server maintains."""
    if change.kind == "Secret":
        return secret_view(change)
    return comparable(change.before), comparable(change.after)


def merged_diff(*diffs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """One ``{before, after}`` from several, the later ones winning on a shared key."""
    return {side: {key: value for diff in diffs for key, value in diff[side].items()} for side in ("before", "after")}


def converge(client: Client, request: Request, check_mode: bool,
             checkpoint: Optional[Callable[[Sequence[Change]], None]] = None) -> Outcome:
    """Run ``request``: writes as server dry runs in check mode, and then no waits.

    ``checkpoint`` sees the changes once everything is written and before any wait; it may raise to stop there.
    """
    changes = client.converge(request.apply, dry_run=check_mode)
    changes += client.remove(request.delete, dry_run=check_mode)
    changes += [change for change in client.remove(request.prune, dry_run=check_mode) if change.before is not None]
    if checkpoint is not None:
        checkpoint(changes)
    settled = {} if check_mode else _wait(client, request, changes)
    return Outcome(tuple(changes), settled)


def _wait(client: Client, request: Request, changes: Sequence[Change]) -> Settled:
    # An object that neither existed nor was written has nothing to wait for.
    absent = {(change.kind, change.name) for change in changes if change.before is None and change.after is None}
    settled: Settled = {}
    deadline: Optional[Deadline] = None
    for wait in request.waits:
        if (wait.kind, wait.name) in absent:
            continue
        if deadline is None:
            deadline = Deadline(request.wait_timeout)
        settled[(wait.kind, wait.name)] = client.wait_for(wait.kind, wait.name, wait.namespace, wait.ready,
                                                          deadline, wait.what)
    return settled
