# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's state (the document's five) and the results waiting for the hub.  Pure, thread-safe."""

from __future__ import annotations

import collections
import datetime
import threading
from typing import Any, Optional

from . import wire


class AgentState:
    """Connecting until the hub first answers; then Healthy, or Degraded while the backend fails; Unhealthy while
    the hub refuses the agent (a 4xx); Disconnected while the hub cannot be reached after it was."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = "Connecting"
        self.last_hub_contact: Optional[datetime.datetime] = None
        self.hub_error = ""
        self.backend_ok = False
        self.backend_message = "not checked yet"

    def _settle(self, hub_answers: bool) -> None:
        if hub_answers:
            self.state = "Healthy" if self.backend_ok else "Degraded"

    def hub_ok(self, when: datetime.datetime) -> None:
        with self._lock:
            self.last_hub_contact, self.hub_error = when, ""
            self._settle(True)

    def hub_refused(self, message: str) -> None:
        with self._lock:
            self.state, self.hub_error = "Unhealthy", message

    def hub_unreachable(self, message: str) -> None:
        with self._lock:
            self.hub_error = message
            self.state = "Connecting" if self.last_hub_contact is None else "Disconnected"

    def backend(self, ok: bool, message: str) -> None:
        with self._lock:
            self.backend_ok, self.backend_message = ok, message
            self._settle(self.state in ("Healthy", "Degraded"))

    @property
    def ready(self) -> bool:
        """Ready only while the hub and the backend both answer."""
        with self._lock:
            return self.state == "Healthy"

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"state": self.state, "status": wire.WIRE_STATUS[self.state],
                    "last_hub_contact": wire.rfc3339(self.last_hub_contact), "hub_error": self.hub_error,
                    "backend_ok": self.backend_ok, "backend_message": self.backend_message}


class Outbox:
    """Results (with their journal keys) in the order they were made, kept until the hub takes them; beyond
    ``bound`` the oldest goes."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._items: collections.deque[dict[str, Any]] = collections.deque()
        self._lock = threading.Lock()

    def add(self, result: dict[str, Any]) -> Optional[dict[str, Any]]:
        """Keep ``result``; return the one given up to stay within the bound, if any."""
        with self._lock:
            self._items.append(result)
            return self._items.popleft() if len(self._items) > self.bound else None

    def head(self) -> Optional[dict[str, Any]]:
        with self._lock:
            return self._items[0] if self._items else None

    def done(self, result: dict[str, Any]) -> None:
        """The hub took (or finally refused) ``result``: drop it, by identity, since operation ids collide."""
        with self._lock:
            if self._items and self._items[0] is result:
                self._items.popleft()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
