# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stand-in's CDI importer: it fetches for real (from a server on loopback here), and fails as CDI's importer
does, with CDI's messages."""

from __future__ import annotations

import http.server
import struct
import threading

import pytest

from ansible_collections.virtrigaud.core.tests.kubevirt_standin import importer

GIB = 1024 ** 3


def qcow2(virtual_size):
    return importer.QCOW2_MAGIC + b"\0" * 20 + struct.pack(">Q", virtual_size) + b"\0" * 4096


class Files(http.server.BaseHTTPRequestHandler):
    files = {"/tiny.qcow2": qcow2(GIB)}

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()


def fetch(url, capacity):
    dv = {"metadata": {"name": "img", "namespace": "vms", "uid": "u"}, "spec": {"source": {"http": {"url": url}}}}
    importer.Importer(None, lambda *dummy: None)._fetch(dv, capacity)


def test_a_qcow2_that_fits_is_imported(server):
    fetch(server + "/tiny.qcow2", GIB)


@pytest.mark.parametrize("path, capacity, says", [
    ("/missing.qcow2", GIB, "Unable to connect to http data source: expected status code 200, got 404. "
                            "Status: 404 Not Found"),
    ("/tiny.qcow2", GIB // 2, "Virtual image size 1073741824 is larger than the reported available storage "
                              "536870912. A larger PVC is required."),
])
def test_failures_carry_cdis_messages(server, path, capacity, says):
    with pytest.raises(importer.ImportError_) as err:
        fetch(server + path, capacity)
    assert str(err.value) == says


def test_a_refused_connection_is_cdis_dial_error():
    with pytest.raises(importer.ImportError_) as err:
        fetch("http://127.0.0.1:1/tiny.qcow2", GIB)
    assert str(err.value) == ('Unable to connect to http data source: HTTP request errored: Get '
                              '"http://127.0.0.1:1/tiny.qcow2": dial tcp 127.0.0.1:1: connect: connection refused')


def test_only_well_formed_registry_urls_succeed():
    dv = {"metadata": {"name": "img", "namespace": "vms", "uid": "u"},
          "spec": {"source": {"registry": {"url": "docker://quay.io/containerdisks/fedora:40"}}}}
    importer.Importer(None, lambda *dummy: None)._fetch(dv, GIB)
    dv["spec"]["source"]["registry"]["url"] = "oci-archive:///x.tar"
    with pytest.raises(importer.ImportError_):
        importer.Importer(None, lambda *dummy: None)._fetch(dv, GIB)
