# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hub's four routes over HTTPS (or HTTP), with the spoke headers, the bearer token and a circuit breaker."""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Optional
from urllib.parse import quote

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import UnavailableError
from ansible_collections.virtrigaud.core.plugins.module_utils.resilience import CircuitBreaker

from .. import VERSION
from .settings import SettingsError, SpokeSettings

REQUEST_SECONDS = 15.0
Observer = Callable[[str, str, float], None]


class HubError(Exception):
    """A call to the hub failed; ``retryable`` for 429, 5xx, network errors and an open circuit breaker."""

    def __init__(self, route: str, status: int, message: str) -> None:
        super().__init__("%s: %s" % (route, message))
        self.route = route
        self.status = status
        self.retryable = status == 0 or status == 429 or status >= 500


def tls_context(settings: SpokeSettings) -> ssl.SSLContext:
    """Raises SettingsError naming the variable whose file cannot be used."""
    try:
        context = ssl.create_default_context(cafile=settings.ca_path)
    except (ssl.SSLError, OSError) as err:
        raise SettingsError("OVIM_HUB_CA_PATH=%s is no PEM CA bundle: %s" % (settings.ca_path, err)) from None
    if settings.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.client_cert:
        try:
            context.load_cert_chain(settings.client_cert, settings.client_key)
        except (ssl.SSLError, OSError) as err:
            raise SettingsError("OVIM_HUB_CLIENT_CERT=%s with OVIM_HUB_CLIENT_KEY cannot be used: %s"
                                % (settings.client_cert, err)) from None
    return context


class HubClient:
    def __init__(self, settings: SpokeSettings, observe: Optional[Observer] = None) -> None:
        self.settings = settings
        self.base = settings.hub_endpoint
        self.breaker = CircuitBreaker(self.base, threshold=3, cool_down=10.0)
        self.observe = observe or (lambda route, outcome, seconds: None)
        self._tls = tls_context(settings) if self.base.startswith("https:") else None
        self._headers = {"X-Agent-ID": settings.agent_id, "X-Cluster-ID": settings.cluster_id,
                         "X-Zone-ID": settings.zone_id, "X-Agent-Version": VERSION, "Accept": "application/json",
                         "User-Agent": "virtrigaud-ovim-spoke/%s" % VERSION}
        if settings.hub_token:
            self._headers["Authorization"] = "Bearer " + settings.hub_token

    def _call(self, route: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        try:
            self.breaker.check()
        except UnavailableError as err:
            raise HubError(route, 0, err.msg) from None
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = dict(self._headers, **({"Content-Type": "application/json"} if data is not None else {}))
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_SECONDS, context=self._tls) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read()
        except (urllib.error.URLError, OSError, socket.timeout) as err:
            self._record(route, "network", started, False)
            reason = getattr(err, "reason", err)
            raise HubError(route, 0, "cannot reach the hub at %s: %s" % (self.base, reason)) from None
        ok = 200 <= status < 300
        self._record(route, str(status), started, ok or not (status == 429 or status >= 500))
        if not ok:
            raise HubError(route, status, "the hub answered %d: %s" % (status, _message(text)))
        return status, json.loads(text) if text.strip() else None

    def _record(self, route: str, outcome: str, started: float, reached: bool) -> None:
        self.breaker.record(reached)
        self.observe(route, outcome, time.monotonic() - started)

    def health(self) -> Any:
        return self._call("health", "GET", "/health")[1]

    def report(self, report: dict[str, Any]) -> Any:
        return self._call("status", "POST", "/api/v1/spoke/status", report)[1]

    def operations(self) -> list[Any]:
        """The queued operations (the hub empties its queue), or [] on 204."""
        status, body = self._call("operations", "GET",
                                  "/api/v1/spoke/operations?agent_id=%s" % quote(self.settings.agent_id))
        if status == 204 or body is None:
            return []
        if not isinstance(body, list):
            raise HubError("operations", status, "the hub answered %s instead of a list" % type(body).__name__)
        return body

    def post_result(self, result: dict[str, Any]) -> None:
        self._call("result", "POST", "/api/v1/spoke/operations/%s/result" % quote(result["operation_id"], safe=""),
                   result)


def _message(text: bytes) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text[:200].decode("utf-8", "replace").strip()
    if isinstance(document, dict):
        return str(document.get("error") or document.get("message") or document)[:200]
    return str(document)[:200]
