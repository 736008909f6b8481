# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vm_snapshot run in-process on the mock provider, as Ansible would run it."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import (
    PreconditionError,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.mock import (
    MockProvider,
)
from ansible_collections.virtrigaud.core.plugins.modules import (
    virtrigaud_vm,
    virtrigaud_vm_snapshot,
)

from .utils import VM, run


def test_snapshot_module_present_reverted_absent(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    args = dict(connection, vm_name="web", name="base", include_memory=True)
    assert run(virtrigaud_vm_snapshot, capsys, args, check_mode=True)["changed"]
    taken = run(virtrigaud_vm_snapshot, capsys, args)
    assert taken["changed"] and taken["snapshot"]["has_memory"]
    assert not run(virtrigaud_vm_snapshot, capsys, args)["changed"]
    assert run(virtrigaud_vm_snapshot, capsys, dict(args, state="reverted"))["changed"]
    assert run(virtrigaud_vm_snapshot, capsys, dict(args, state="absent"))["changed"]
    assert not run(virtrigaud_vm_snapshot, capsys, dict(args, state="absent"))["changed"]


def test_a_snapshot_the_backend_could_not_revert_is_refused_before_anything_changes(connection, capsys, monkeypatch):
    run(virtrigaud_vm, capsys, dict(connection, **VM))

    def refuse(provider, vm_id, include_memory=False):
        raise PreconditionError("QEMU could not load this memory state again", option="include_memory")

    monkeypatch.setattr(MockProvider, "check_snapshot", refuse)
    args = dict(connection, vm_name="web", name="base", include_memory=True)
    for check_mode in (True, False):
        refused = run(virtrigaud_vm_snapshot, capsys, args, check_mode=check_mode)
        assert refused["failed"] and refused["error_code"] == "failed_precondition"
        assert "include_memory" in refused["msg"]
    monkeypatch.undo()
    assert not run(virtrigaud_vm_snapshot, capsys, dict(args, state="absent"))["changed"]
