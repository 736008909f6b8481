# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vm_info run in-process on the mock provider, as Ansible would run it."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.modules import (
    virtrigaud_vm,
    virtrigaud_vm_info,
)

from .utils import VM, run


def test_info_by_name_and_all(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    one = run(virtrigaud_vm_info, capsys, dict(connection, name="web"))
    assert [v["name"] for v in one["vms"]] == ["web"]
    assert run(virtrigaud_vm_info, capsys, dict(connection, name="nope"))["vms"] == []
