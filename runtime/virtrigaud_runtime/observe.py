# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Structured logs: JSON lines (or text) that carry the correlation id of the call they belong to."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from typing import Any, Mapping

CORRELATION = contextvars.ContextVar("correlation_id", default="")
CORRELATION_KEYS = ("x-correlation-id", "x-request-id", "correlation-id")


def new_correlation_id() -> str:
    """16 hex digits for a call that came without an id (8 random bytes: a uuid4 object costs twice as much)."""
    return os.urandom(8).hex()


def correlation_of(metadata: Mapping[str, str]) -> str:
    """The caller's id from the request metadata, or '' when it sent none."""
    return next((metadata[key] for key in CORRELATION_KEYS if metadata.get(key)), "")


class CorrelationFilter(logging.Filter):
    """Stamps every record with the id of the call being served, so each line of a call can be joined."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = CORRELATION.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                 "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        correlation = getattr(record, "correlation_id", "")
        if correlation:
            entry["correlation_id"] = correlation
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logger(level: str, fmt: str) -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter() if fmt != "text" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"))
    log = logging.getLogger("virtrigaud.runtime")
    log.handlers[:] = [handler]
    log.setLevel(getattr(logging, level.upper(), logging.INFO))
    log.propagate = False
    return log


def fields(**values: Any) -> dict[str, Any]:
    return {"fields": values}
