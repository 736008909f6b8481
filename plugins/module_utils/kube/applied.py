# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifests applied as written (``apply_to: kubernetes``) for a kind whose work VirtRigaud's manager does."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from .client import Kube, comparable
from .converge import Request, converge


class KubeRun(Protocol):
    check_mode: bool
    diff_mode: bool

    @property
    def kube(self) -> Kube: ...


def apply_documents(m: KubeRun, documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Server-side apply of ``documents`` in order (a dry run in check mode); the last one is the result's."""
    outcome = converge(m.kube, Request(apply=documents), m.check_mode)
    last = documents[-1]
    result: dict[str, Any] = {
        "changed": outcome.changed,
        "changes": [{"action": "apply", "target": "%s/%s" % (change.kind, change.name)}
                    for change in outcome.changes if change.changed],
        "objects": outcome.objects(),
        "resource": comparable(outcome.current(last["kind"], last["metadata"]["name"])),
    }
    if m.diff_mode:
        result["diff"] = outcome.diff()
    return result
