# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operations taken but not yet answered, one file each, so that an agent killed mid-operation runs them again
after its restart (every operation is idempotent) and posts their results.  Off without a folder."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Optional


class Journal:
    def __init__(self, folder: Optional[str]) -> None:
        self.folder = folder

    def add(self, document: Any, via: str) -> str:
        """Keep the operation as it came; returns its key ('' when the journal is off)."""
        if not self.folder:
            return ""
        key = "%s.json" % uuid.uuid4().hex
        partial = os.path.join(self.folder, "." + key)
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump({"operation": document, "via": via}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, os.path.join(self.folder, key))
        return key

    def done(self, key: str) -> None:
        if self.folder and key:
            try:
                os.remove(os.path.join(self.folder, key))
            except FileNotFoundError:
                pass

    def pending(self) -> list[tuple[str, Any, str]]:
        """(key, operation, via) of every operation an earlier run took and did not answer, oldest first."""
        if not self.folder:
            return []
        entries = []
        for name in os.listdir(self.folder):
            path = os.path.join(self.folder, name)
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    entry = json.load(handle)
            except (OSError, ValueError):
                os.remove(path)
                continue
            entries.append((os.path.getmtime(path), name, entry.get("operation"), entry.get("via") or "pull"))
        return [(name, operation, via) for dummy, name, operation, via in sorted(entries, key=lambda e: e[:2])]
