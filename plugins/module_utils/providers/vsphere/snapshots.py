# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a vSphere VM's snapshot tree: the listing and the lookup of one snapshot by id or name."""

from __future__ import annotations

from typing import Any, Iterable, Optional

from ..base import Snapshot


def tree(nodes: Iterable[Any], parent: Optional[str] = None) -> Iterable[tuple[Any, Optional[str]]]:
    for node in nodes or ():
        yield node, parent
        yield from tree(node.childSnapshotList, node.name)


def find(vm: Any, snapshot_id: str) -> Any:
    info = getattr(vm, "snapshot", None)
    for node, _parent in tree(info.rootSnapshotList if info else ()):
        if node.snapshot._moId == snapshot_id or node.name == snapshot_id:  # pylint: disable=protected-access
            return node.snapshot
    return None


def listing(vm: Any) -> list[Snapshot]:
    """The VM's snapshots, oldest first."""
    info = getattr(vm, "snapshot", None)
    current = info.currentSnapshot._moId if info and info.currentSnapshot else None  # pylint: disable=protected-access
    snapshots = [
        Snapshot(
            id=node.snapshot._moId, name=node.name, description=node.description or "",  # pylint: disable=protected-access
            created=node.createTime.isoformat() if node.createTime else None,
            has_memory=node.state == "poweredOn", parent=parent,
            current=node.snapshot._moId == current,  # pylint: disable=protected-access
        )
        for node, parent in tree(info.rootSnapshotList if info else ())
    ]
    return sorted(snapshots, key=lambda s: s.created or "")
