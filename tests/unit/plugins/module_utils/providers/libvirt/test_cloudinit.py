# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt backend's NoCloud seed: its files and its ISO."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt import cloudinit as seed
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.libvirt import translate as dx
from ansible_collections.virtrigaud.core.plugins.module_utils.spec import parse_vm

NIC = dx.NicPlan("lan", "52:54:00:00:00:01", network="default")


def test_seed_files_add_an_instance_id_and_keep_user_text():
    spec = parse_vm({"name": "web",
                     "cloud_init": {"user_data": "#!/bin/sh\necho hi\n", "meta_data": "local-hostname: w"}})
    files = seed.seed_files(spec, "iid-1", (NIC,))
    assert files["meta-data"] == "instance-id: iid-1\nlocal-hostname: w\n"
    assert files["user-data"] == "#!/bin/sh\necho hi\n"
    assert "network-config" not in files


def test_static_addresses_become_network_config_matched_by_mac():
    spec = parse_vm({"name": "web", "networks": [
        {"name": "lan", "network": "default", "ip_address": "192.0.2.10", "prefix": 24, "gateway": "192.0.2.1"}]})
    assert seed.needs_seed(spec)
    files = seed.seed_files(spec, "iid-1", (NIC,))
    assert files["meta-data"].startswith("instance-id: iid-1\nlocal-hostname: web")
    assert '"macaddress": "52:54:00:00:00:01"' in files["network-config"]
    assert '"192.0.2.10/24"' in files["network-config"]


def test_seed_iso_is_labelled_cidata():
    pytest.importorskip("pycdlib")
    image = seed.seed_iso({"meta-data": "instance-id: x\n", "user-data": ""})
    assert image[32768 + 40:32768 + 46] == b"cidata"
