# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTPS front of the fake PVE: /api2/json routing, authentication, PVE's envelope and status lines.

A second, plain-HTTP listener on loopback (the control port) is the fixture's
own: tests use it to inject faults.  It is not part of the PVE API.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import os
import secrets
import ssl
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from .api import ANCHOR_ROUTES, BEYOND_SUBSET_ROUTES, ROUTES, ParamError, Route, validate
from .handlers import HANDLERS
from .model import Cluster
from .tasks import PveError

TICKET_SECONDS = 7200
GRACE_SECONDS = 300
OPEN_ROUTES = {("POST", "/access/ticket")}


class Faults:
    """What the control port can break; every field is read by the API side."""

    def __init__(self) -> None:
        self.http_errors = 0
        self.http_status = 503
        self.http_message = "Service Unavailable"
        self.vanish: Optional[int] = None


class Auth:
    """Tickets and CSRF tokens signed with a per-run key, and API tokens."""

    def __init__(self, users: dict[str, str], tokens: dict[str, str]) -> None:
        self.users = users
        self.tokens = tokens
        self.key = secrets.token_bytes(32)

    def _sign(self, text: str) -> str:
        return base64.b64encode(hmac.new(self.key, text.encode(), hashlib.sha256).digest()).decode()

    def ticket(self, user: str) -> str:
        prefix = "PVE:%s:%08X" % (user, int(time.time()))
        return "%s::%s" % (prefix, self._sign(prefix))

    def csrf(self, user: str) -> str:
        stamp = "%08X" % int(time.time())
        return "%s:%s" % (stamp, self._sign(stamp + ":" + user))

    def ticket_user(self, ticket: str) -> Optional[str]:
        prefix, sep, signature = ticket.partition("::")
        parts = prefix.split(":")
        if not sep or len(parts) != 3 or parts[0] != "PVE" or not hmac.compare_digest(signature, self._sign(prefix)):
            return None
        age = time.time() - int(parts[2], 16)
        return parts[1] if -GRACE_SECONDS <= age <= TICKET_SECONDS + GRACE_SECONDS else None

    def csrf_valid(self, token: str, user: str) -> bool:
        stamp, dummy, signature = token.partition(":")
        return bool(signature) and hmac.compare_digest(signature, self._sign(stamp + ":" + user))

    def token_user(self, header: str) -> Optional[str]:
        """``PVEAPIToken=user@realm!tokenid=secret``, split at the last ``=``."""
        value = header[len("PVEAPIToken="):]
        ident, sep, secret = value.rpartition("=")
        expected = self.tokens.get(ident)
        if not sep or expected is None or not hmac.compare_digest(secret, expected):
            return None
        return ident


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: Optional[dict] = None, json_body: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.json_body = json_body


class PveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: with Nagle's algorithm on, a keep-alive client waits for the
    # delayed ACK (40 ms on Linux) on every request, which pveproxy does not make it do.
    disable_nagle_algorithm = True
    server_version = "pve-api-daemon/3.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """Quiet: the request log is the record."""

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        self._serve("GET")

    def do_POST(self) -> None:  # pylint: disable=invalid-name
        self._serve("POST")

    def do_PUT(self) -> None:  # pylint: disable=invalid-name
        self._serve("PUT")

    def do_DELETE(self) -> None:  # pylint: disable=invalid-name
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        try:
            data = self._dispatch(method)
            self._reply(200, "OK", {"data": data})
        except ApiError as err:
            body = None
            if err.json_body:
                body = {"data": None, "message": err.message + "\n"}
                if err.errors:
                    body["errors"] = err.errors
            self._reply(err.status, err.message, body)

    def _dispatch(self, method: str) -> Any:
        fake: FakePve = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not url.path.startswith("/api2/"):
            raise ApiError(501, "no such uri")
        fmt, dummy, path = url.path[len("/api2/"):].partition("/")
        path = "/" + path.rstrip("/")
        if fmt != "json":
            raise ApiError(501, "no such uri")
        route, path_params = _match(method, path,
                                    ROUTES + BEYOND_SUBSET_ROUTES + (ANCHOR_ROUTES if fake.anchor_routes else ()))
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if body:
            if method in ("GET", "DELETE"):
                raise ApiError(501, "Unexpected content for method '%s'" % method)
            params.update(_body_params(body, self.headers.get("Content-Type", "")))
        for key, value in path_params.items():
            if key in params and params[key] != value:
                raise ApiError(400, "duplicate parameter (already defined in URI) with conflicting values!")
            params[key] = value
        fake.log_request(method, route.path, params)
        user = self._authenticate(method, route, fake)
        if fake.faults.http_errors > 0 and route.handler != "login":
            fake.faults.http_errors -= 1
            raise ApiError(fake.faults.http_status, fake.faults.http_message)
        try:
            checked = validate(params, route.params)
        except ParamError as err:
            raise ApiError(400, "Parameter verification failed.", err.errors) from None
        if route.handler == "login":
            return self._login(checked, fake)
        node = checked.get("node")
        if node in fake.cluster.nodes and not fake.cluster.nodes[node].online:
            raise ApiError(595, "Connection refused", json_body=False)
        with fake.cluster.lock:
            try:
                answer = HANDLERS[route.handler](fake.cluster, checked, user)
                if fake.faults.vanish and route.handler in ("qemu_list", "cluster_resources") and any(
                        entry.get("vmid") == fake.faults.vanish for entry in answer):
                    fake.cluster.vms.pop(fake.faults.vanish, None)
                    fake.faults.vanish = None
                return answer
            except ParamError as err:
                raise ApiError(400, "Parameter verification failed.", err.errors) from None
            except PveError as err:
                raise ApiError(err.status, err.message.split("\n")[0]) from None

    def _authenticate(self, method: str, route: Route, fake: "FakePve") -> Optional[str]:
        header = self.headers.get("Authorization", "")
        if (method, route.path) in OPEN_ROUTES:
            if header.startswith("PVEAPIToken="):
                raise ApiError(403, "URI '%s' not available with API token, need proper ticket." % route.path)
            return None
        cookie = _cookie(self.headers.get("Cookie", ""), "PVEAuthCookie")
        if cookie is None and header.startswith("PVEAuthCookie="):
            cookie = unquote(header[len("PVEAuthCookie="):])
        if cookie is not None:
            user = fake.auth.ticket_user(cookie)
            if user is None:
                raise ApiError(401, "Authentication failed!", json_body=False)
            if method != "GET" and not fake.auth.csrf_valid(self.headers.get("CSRFPreventionToken", ""), user):
                raise ApiError(401, "Permission denied - invalid csrf token", json_body=False)
            return user
        if header.startswith("PVEAPIToken="):
            user = fake.auth.token_user(header)
            if user is None:
                raise ApiError(401, "Authentication failed!", json_body=False)
            return user
        raise ApiError(401, "No ticket", json_body=False)

    def _login(self, params: dict[str, Any], fake: "FakePve") -> Any:
        user = params["username"]
        if "@" not in user and params.get("realm"):
            user = "%s@%s" % (user, params["realm"])
        password = params["password"]
        known = fake.auth.users.get(user)
        renewed = fake.auth.ticket_user(password) == user
        if not renewed and (known is None or not hmac.compare_digest(password, known)):
            raise ApiError(401, "authentication failure")
        return {"username": user, "ticket": fake.auth.ticket(user), "CSRFPreventionToken": fake.auth.csrf(user),
                "cap": {"vms": {"VM.Allocate": 1, "VM.PowerMgmt": 1, "VM.Config.Disk": 1}},
                "clustername": "virtrigaud-fake"}

    def _reply(self, status: int, reason: str, body: Optional[dict]) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status, reason.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " "))
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Cache-Control", "max-age=0")
        self.send_header("Pragma", "no-cache")
        self.send_header("Expires", formatdate(usegmt=True))
        if len(payload) > 1024 and "gzip" in self.headers.get("Accept-Encoding", ""):
            payload = gzip.compress(payload)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _match(method: str, path: str, routes: tuple[Route, ...]) -> tuple[Route, dict[str, str]]:
    for route in routes:
        found = route.pattern.match(path)
        if found and route.method == method:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    raise ApiError(501, "Method '%s %s' not implemented" % (method, path))


def _body_params(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        data = json.loads(body.decode() or "{}")
        return {k: v if isinstance(v, bool) else str(v) for k, v in data.items()}
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def _cookie(header: str, name: str) -> Optional[str]:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return unquote(value)
    return None


class FakePve:
    """The API server, its cluster, and where requests are recorded."""

    def __init__(self, cluster: Cluster, auth: Auth, request_log: Optional[str] = None) -> None:
        self.cluster = cluster
        self.auth = auth
        self.faults = Faults()
        self.request_log = request_log
        self.anchor_routes = False
        self._log_lock = threading.Lock()

    def log_request(self, method: str, path: str, params: dict[str, Any]) -> None:
        if not self.request_log:
            return
        hidden = {k: ("<secret>" if k == "password" else v) for k, v in params.items()}
        line = json.dumps({"method": method, "path": path, "params": hidden}, sort_keys=True)
        with self._log_lock, open(self.request_log, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def serve(self, host: str, port: int, cert: str, key: str) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((host, port), PveHandler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.fake = self  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def write_pid(path: Optional[str]) -> None:
    if path:
        with open(path, "w", encoding="ascii") as handle:
            handle.write("%d\n" % os.getpid())
