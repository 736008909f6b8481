# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ImagePrepare as upstream's manager calls it: a VMImageSpec (camelCase JSON) and the VMImage's name, answered
with no task (done) and the prepared image's id and path; the bytes come from the test bed's image server."""

from __future__ import annotations

import hashlib
import json
import pathlib
import subprocess
import sys
import time
import urllib.request

import grpc
import pytest

from test_runtime import PKI, Runtime, call, free_port

TESTS = pathlib.Path(__file__).resolve().parents[1]
IMAGE = b"QFI\xfb" + bytes(range(256)) * 512
pytestmark = pytest.mark.skipif(not (PKI / "client.crt").exists(), reason="run scripts/testbed/runtime.sh certs")


@pytest.fixture(name="server", scope="module")
def server_fixture(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    (root / "disk.qcow2").write_bytes(IMAGE)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "imageserver", "--root", str(root), "--port", str(port)],
                               cwd=TESTS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    for dummy in range(100):
        try:
            urllib.request.urlopen(url + "/SUMS", timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(name="channel", scope="module")
def channel_fixture(tmp_path_factory):
    runtime = Runtime(tmp_path_factory.mktemp("image-runtime"), extra_env={"TMPDIR": str(
        tmp_path_factory.mktemp("image-downloads"))}).start()
    yield runtime.channel()
    runtime.kill()


def vmimage(url: str, checksum: str) -> str:
    return json.dumps({"source": {"libvirt": {"url": url, "format": "qcow2", "checksum": checksum,
                                              "checksumType": "sha256"}}, "prepare": {"onMissing": "Import"}})


def test_the_manager_sees_image_import_and_gets_a_prepared_image_with_no_task(channel, server):
    assert call(channel, "GetCapabilities").supports_image_import
    spec = vmimage(server + "/cut/disk.qcow2", hashlib.sha256(IMAGE).hexdigest())
    answers = [call(channel, "ImagePrepare", image_json=spec, target_name="debian") for dummy in range(2)]
    for answer in answers:
        assert not answer.task.id
        assert (answer.prepared_image_id, answer.prepared_image_path) == ("debian", "mock://images/debian")


def test_a_bad_checksum_fails_as_a_precondition_and_prepares_nothing(channel, server):
    spec = vmimage(server + "/disk.qcow2", "0" * 64)
    with pytest.raises(grpc.RpcError) as failed:
        call(channel, "ImagePrepare", image_json=spec, target_name="broken")
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(failed.value.trailing_metadata())["virtrigaud-option"] == "checksum"
    good = vmimage(server + "/disk.qcow2", hashlib.sha256(IMAGE).hexdigest())
    assert call(channel, "ImagePrepare", image_json=good, target_name="broken").prepared_image_id == "broken"


def test_a_template_source_is_looked_up_not_imported(channel):
    spec = json.dumps({"source": {"proxmox": {"templateID": 9000}}})
    assert call(channel, "ImagePrepare", image_json=spec, target_name="tpl").prepared_image_id == "9000"
    missing = json.dumps({"source": {"vsphere": {"templateName": "missing-template"}}})
    with pytest.raises(grpc.RpcError) as failed:
        call(channel, "ImagePrepare", image_json=missing, target_name="tpl")
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
