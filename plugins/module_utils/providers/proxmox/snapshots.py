# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PVE VM's snapshots, from the entries of its ``snapshot`` listing: parents before children, oldest first."""

from __future__ import annotations

import datetime
from typing import Any, Optional

from ..base import Snapshot


def listing(snapshot_entries: list[dict[str, Any]]) -> list[Snapshot]:
    """The snapshots; PVE's ``current`` entry is no snapshot but names the current one as its parent."""
    entries = {e["name"]: e for e in snapshot_entries}
    current = entries.pop("current", {}).get("parent")
    ordered: list[Snapshot] = []
    pending = dict(entries)
    while pending:
        ready = [e for e in pending.values() if not e.get("parent") or e["parent"] not in pending]
        for entry in sorted(ready, key=lambda e: (e.get("snaptime", 0), e["name"])):
            pending.pop(entry["name"])
            ordered.append(Snapshot(
                id=entry["name"], name=entry["name"], description=entry.get("description") or "",
                created=_timestamp(entry.get("snaptime")), has_memory=bool(entry.get("vmstate")),
                parent=entry.get("parent"), current=entry["name"] == current))
    return ordered


def _timestamp(seconds: Any) -> Optional[str]:
    if not seconds:
        return None
    return datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc).isoformat()
