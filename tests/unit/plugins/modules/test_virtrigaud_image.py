# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_image run in-process on the mock provider, from a local file (no network)."""

from __future__ import annotations

import hashlib

from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_image, virtrigaud_vm

from .utils import run

QCOW2 = b"QFI\xfb" + b"\0" * 508


def test_image_from_a_file_check_real_check_real_then_absent(connection, capsys, tmp_path):
    source = tmp_path / "disk.qcow2"
    source.write_bytes(QCOW2)
    args = dict(connection, name="base.qcow2", path=str(source),
                checksum="sha256:" + hashlib.sha256(QCOW2).hexdigest(), download_dir=str(tmp_path / "dl"))
    predicted = run(virtrigaud_image, capsys, args, check_mode=True)
    done = run(virtrigaud_image, capsys, args)
    assert predicted["changed"] and done["changed"] and predicted["changes"] == done["changes"]
    assert done["image"]["format"] == "qcow2" and done["transfer"]["size_bytes"] == len(QCOW2)
    assert source.exists()
    assert not run(virtrigaud_image, capsys, args, check_mode=True)["changed"]
    assert not run(virtrigaud_image, capsys, args)["changed"]
    gone = dict(args, state="absent")
    assert run(virtrigaud_image, capsys, gone)["changed"]
    assert not run(virtrigaud_image, capsys, gone)["changed"]


def test_a_bad_checksum_fails_naming_the_option_and_keeps_nothing(connection, capsys, tmp_path):
    source = tmp_path / "disk.qcow2"
    source.write_bytes(QCOW2)
    args = dict(connection, name="base.qcow2", path=str(source), checksum="md5:" + "0" * 32)
    failed = run(virtrigaud_image, capsys, args)
    assert failed["failed"] and failed["error_code"] == "failed_precondition"
    assert failed["details"]["option"] == "checksum"
    assert run(virtrigaud_image, capsys, dict(args, state="absent"))["changed"] is False


def test_a_missing_template_is_not_made_from_nothing(connection, capsys):
    failed = run(virtrigaud_image, capsys, dict(connection, name="t", template="missing-template"))
    assert failed["failed"] and failed["details"]["option"] == "template"
    held = run(virtrigaud_image, capsys, dict(connection, name="t", template="ubuntu"))
    assert not held["changed"] and held["image"]["id"] == "ubuntu"


def test_a_vm_prepares_its_missing_image_first_in_check_and_real_runs(connection, capsys, tmp_path):
    source = tmp_path / "disk.qcow2"
    source.write_bytes(QCOW2)
    args = dict(connection, name="web", cpu=1, memory="1Gi", image="fresh.qcow2", image_on_missing="prepare",
                image_source={"path": str(source), "checksum": "sha1:" + hashlib.sha1(QCOW2).hexdigest()},
                state="stopped")
    predicted = run(virtrigaud_vm, capsys, args, check_mode=True)
    done = run(virtrigaud_vm, capsys, args)
    assert predicted["changes"] == done["changes"] and done["changes"][0]["action"] == "image_prepare"
    assert not run(virtrigaud_vm, capsys, args)["changed"]
    image = run(virtrigaud_image, capsys, dict(connection, name="fresh.qcow2", state="absent"), check_mode=True)
    assert image["changed"]


def test_image_source_without_prepare_is_refused_by_name(connection, capsys):
    failed = run(virtrigaud_vm, capsys, dict(connection, name="web", image="x", image_source={"url": "http://h/x"}))
    assert failed["failed"] and failed["details"]["option"] == "image_source"
    failed = run(virtrigaud_vm, capsys, dict(connection, name="web", image="x", image_on_missing="prepare",
                                             image_source={"url": "ftp://h/x"}))
    assert failed["failed"] and failed["details"]["option"] == "image_source.url"
