# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tiny guest image through vSphere and back, on the vSphere leg's vcsim: imported from the image server as a
disk (qcow2 in, a flat vmdk held), exported from the template the import made, and its raw bytes compared with the
image's own raw bytes (the image server's tiny.raw).  vcsim's datastore file API keeps real bytes, so this proves
that what ImportDisk wrote is what ExportDisk reads, with the checksums both report.  An import that fails after
its upload (vcsim refusing the template, or the read-back failing) leaves no file and no template behind, and
removing an imported disk removes both.

Needs the VMWARE_* settings of ``vcsim.sh env`` and IMAGESERVER_URL; skipped without them."""

from __future__ import annotations

import os
import subprocess
import urllib.request
import uuid

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.disks import parse_export, parse_import
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    PreconditionError,
    ProviderError,
    VirtrigaudError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.image_transfer import Transfer
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import client
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.vsphere import disks as vdisks

vim = pytest.importorskip("pyVmomi").vim
pytestmark = pytest.mark.skipif(not (os.environ.get("VMWARE_HOST") and os.environ.get("IMAGESERVER_URL")),
                                reason="needs vcsim (VMWARE_*) and the image server (IMAGESERVER_URL)")


def run(argv: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(name="provider")
def fixture_provider():
    config = ProviderConfig("vsphere", os.environ["VMWARE_HOST"], os.environ["VMWARE_USER"],
                            os.environ["VMWARE_PASSWORD"], validate_certs=False,
                            options={"port": int(os.environ["VMWARE_PORT"]), "datastore": "LocalDS_0"})
    provider = open_provider(config)
    yield provider
    provider.close()


def sums() -> dict[str, str]:
    with urllib.request.urlopen(os.environ["IMAGESERVER_URL"] + "/SUMS", timeout=30) as response:
        lines = response.read().decode().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines)}


def test_an_imported_disk_exports_the_same_raw_bytes(provider, tmp_path):
    name = "vr-roundtrip-%s" % uuid.uuid4().hex[:8]
    transfer = Transfer(lambda line: None, work_dir=str(tmp_path / "work"), run_command=run)
    expected = sums()
    imported = provider.import_disk(parse_import({
        "source_url": os.environ["IMAGESERVER_URL"] + "/tiny.qcow2", "target_name": name, "format": "qcow2",
        "expected_checksum": expected["tiny.qcow2"]}), transfer)
    assert imported.format == "vmdk" and imported.checksum == expected["tiny.raw"]
    vm_id = template_id(provider, name)
    info = provider.disk_info(vm_id)
    assert info.path == imported.path and info.virtual_size_bytes == imported.size_bytes
    exported = provider.export_disk(parse_export({"vm_id": vm_id, "destination_url": str(tmp_path / "back.raw"),
                                                  "format": "raw"}), transfer)
    assert exported.checksum == expected["tiny.raw"] == imported.checksum
    assert os.path.getsize(tmp_path / "back.raw") == imported.size_bytes
    provider.delete_disk(imported)
    assert_gone(provider, name)
    provider.delete_disk(imported)


def assert_gone(provider, name: str) -> None:
    """Neither the imported disk's files nor a VM or template of its name are left."""
    where = vdisks.import_location("LocalDS_0", name)
    files = provider._disk_files(provider.content.rootFolder.childEntity[0])
    assert files.read_text(where) is None and files.read_text(where.sibling(name + "-flat.vmdk")) is None
    assert not [props for obj, props in client.collect(provider.content, vim.VirtualMachine, ("name",))
                if props.get("name") == name]


def template_id(provider, name: str) -> str:
    """The MoRef id of the template the import made (VM listings leave templates out)."""
    listed = client.collect(provider.content, vim.VirtualMachine, ("name", "config.template"))
    found = [obj._moId for obj, props in listed if props.get("name") == name and props.get("config.template")]
    assert len(found) == 1, found
    return found[0]


def test_a_running_vm_is_refused_by_name(provider, tmp_path):
    running = next(vm for vm in provider.list_vms() if vm.power_state == "On")
    with pytest.raises(PreconditionError, match="VM '%s' is poweredOn; stop it" % running.name):
        provider.export_disk(parse_export({"vm_id": running.id, "destination_url": str(tmp_path / "x.raw")}),
                             Transfer(lambda line: None, work_dir=str(tmp_path / "work"), run_command=run))


MAKE_TEMPLATE = vdisks.template_config


def refuse_template(name: str, disk, size_bytes: int):
    """A template vcsim refuses (CreateVM_Task answers InvalidVmConfig: no file path), after the disk is written."""
    config = MAKE_TEMPLATE(name, disk, size_bytes)
    config.files = vim.vm.FileInfo(vmPathName="")
    return config


def fail_read_back(*args):
    raise ProviderError("the read-back was cut short")


@pytest.mark.parametrize("step, fault", [("template_config", refuse_template), ("_read_back", fail_read_back)])
def test_a_failed_import_leaves_no_file_and_no_template(provider, tmp_path, monkeypatch, step, fault):
    name = "vr-failed-%s" % uuid.uuid4().hex[:8]
    source = tmp_path / "disk.raw"
    source.write_bytes(os.urandom(1 << 20))
    monkeypatch.setattr(vdisks, step, fault)
    with pytest.raises(VirtrigaudError) as caught:
        provider.import_disk(parse_import({"source_url": str(source), "target_name": name, "format": "raw"}),
                             Transfer(lambda line: None, work_dir=str(tmp_path / "work"), run_command=run))
    assert "left behind" not in caught.value.msg, caught.value.msg
    assert_gone(provider, name)
