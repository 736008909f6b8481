# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test bed's image server: the files of one folder over plain HTTP, with byte ranges.

Paths:
  /NAME           the file, whole or from a ``Range: bytes=N-`` on (206)
  /slow/NAME      the same, paced to ``--slow-rate`` bytes a second, or to N with ``?rate=N``
  /cut/NAME       from the start: the first half of the file, then the connection closes (an interrupted
                  download); from a byte range on: the rest, as /NAME does
  /SUMS           ``sha256  NAME`` lines of every file, for the tests to read
The corrupted copy is a file of the folder like any other: the harness writes it.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import re
import socketserver
import time
from typing import Optional
from urllib.parse import parse_qs, urlsplit

CHUNK = 64 * 1024


class ImageHandler(http.server.BaseHTTPRequestHandler):
    root = "."
    slow_rate = 256 * 1024
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        print("%s %s" % (self.address_string(), format % args), flush=True)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(body=False)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        mode, name = self._split(self.path)
        if name == "SUMS":
            self._send_bytes(self._sums(), body)
            return
        path = os.path.join(self.root, name)
        if not name or "/" in name or not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start = self._range_start(size)
        if start is None:
            self.send_error(416)
            return
        cut = mode == "cut" and start == 0
        end = size // 2 if cut else size
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(size - start))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self._copy(path, start, end, self._rate() if mode == "slow" else 0)
        if cut:
            self.close_connection = True

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        parts = path.split("?", 1)[0].lstrip("/").split("/", 1)
        if len(parts) == 2 and parts[0] in ("slow", "cut"):
            return parts[0], parts[1]
        return "", "/".join(parts)

    def _rate(self) -> int:
        """The pace of /slow/: ``?rate=N`` bytes a second, so a test waits no longer than it needs."""
        asked = parse_qs(urlsplit(self.path).query).get("rate") or [""]
        return int(asked[0]) if asked[0].isdigit() and int(asked[0]) > 0 else self.slow_rate

    def _range_start(self, size: int) -> Optional[int]:
        header = self.headers.get("Range")
        if not header:
            return 0
        match = re.fullmatch(r"bytes=(\d+)-", header.strip())
        if match is None or int(match.group(1)) >= size:
            return None
        return int(match.group(1))

    def _copy(self, path: str, start: int, end: int, rate: int) -> None:
        """The bytes from ``start`` to ``end``, ``rate`` bytes a second at most (0: as fast as they go)."""
        with open(path, "rb") as handle:
            handle.seek(start)
            left = end - start
            while left > 0:
                data = handle.read(min(CHUNK, left))
                if not data:
                    break
                self.wfile.write(data)
                left -= len(data)
                if rate:
                    time.sleep(len(data) / rate)

    def _sums(self) -> bytes:
        lines = []
        for name in sorted(os.listdir(self.root)):
            lines.append("%s  %s\n" % (_sha256(os.path.join(self.root, name)), name))
        return "".join(lines).encode("ascii")

    def _send_bytes(self, data: bytes, body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# Where digests are kept by file name, size and mtime (--digest-dir): the folder holds a 1 GiB raw image, which
# every leg's server would otherwise hash again.
DIGEST_DIR: Optional[str] = None


def _sha256(path: str) -> str:
    status = os.stat(path)
    kept = os.path.join(DIGEST_DIR, "%s.%d.%d.sha256" % (os.path.basename(path), status.st_size,
                                                         status.st_mtime_ns)) if DIGEST_DIR else None
    if kept and os.path.exists(kept):
        with open(kept, encoding="ascii") as handle:
            return handle.read().strip()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for data in iter(lambda: handle.read(CHUNK), b""):
            digest.update(data)
    if kept:
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        with open(kept, "w", encoding="ascii") as handle:
            handle.write(digest.hexdigest())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--slow-rate", type=int, default=256 * 1024, help="bytes a second under /slow/")
    parser.add_argument("--pid-file")
    parser.add_argument("--digest-dir", help="where to keep the files' digests between runs")
    args = parser.parse_args()
    global DIGEST_DIR  # pylint: disable=global-statement  # set once, before the server starts
    DIGEST_DIR = args.digest_dir
    ImageHandler.root = args.root
    ImageHandler.slow_rate = args.slow_rate
    server = Server(("127.0.0.1", args.port), ImageHandler)
    if args.pid_file:
        with open(args.pid_file, "w", encoding="ascii") as handle:
            handle.write("%d\n" % os.getpid())
    print("serving %s on http://127.0.0.1:%d" % (args.root, args.port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
