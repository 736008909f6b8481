# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One file served over plain HTTP for as long as a migration's target fetches it.

A target that pulls its disks from a URL (a Proxmox VE node's ``download-url``)
needs the converted disk on a server it can reach.  :class:`ServedFile` binds the
address the user gives, serves the one file under a random path (GET and HEAD,
nothing else, no listing), and stops when the ``with`` block ends.  The path is
unguessable but the bytes travel in clear: bind an address of a network the
target reaches and nobody else does.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import quote

from .errors import PreconditionError

CHUNK = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """Quiet: a module's output is its result."""

    def do_HEAD(self) -> None:  # pylint: disable=invalid-name
        self._answer(send_body=False)

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        if self.path != self.server.url_path:
            self.send_error(404)
            return
        size = os.path.getsize(self.server.file_path)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if send_body:
            with open(self.server.file_path, "rb") as handle:
                shutil.copyfileobj(handle, self.wfile, CHUNK)
            self.server.served += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    url_path = ""
    file_path = ""
    served = 0


class _Server6(_Server):
    address_family = socket.AF_INET6


class ServedFile:
    """``path`` served at :attr:`url` on ``address`` (port 0: any free one) inside a ``with`` block."""

    def __init__(self, path: str, address: str, port: int = 0) -> None:
        self.path = path
        self.address = address
        self.port = port
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        if self._server is None:
            return ""
        host = self.address if ":" not in self.address else "[%s]" % self.address
        return "http://%s:%d%s" % (host, self._server.server_address[1], self._server.url_path)

    @property
    def downloads(self) -> int:
        """How many complete GETs the server answered."""
        return self._server.served if self._server is not None else 0

    def __enter__(self) -> "ServedFile":
        server_class = _Server6 if ":" in self.address else _Server
        try:
            server = server_class((self.address, self.port), _Handler)
        except OSError as err:
            raise PreconditionError("cannot serve the disk on %s port %d: %s"
                                    % (self.address, self.port, err.strerror or err),
                                    option="staging.serve_address") from None
        server.url_path = "/%s/%s" % (secrets.token_urlsafe(18), quote(os.path.basename(self.path)))
        server.file_path = self.path
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="virtrigaud-disk-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
