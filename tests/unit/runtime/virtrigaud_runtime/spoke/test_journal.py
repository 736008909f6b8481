# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from virtrigaud_runtime.spoke.journal import Journal


def test_kept_until_done(tmp_path):
    journal = Journal(str(tmp_path))
    first = journal.add({"id": "op-1", "type": "create_vm"}, "push")
    second = journal.add({"id": "op-1", "type": "create_vm"}, "pull")
    assert first != second
    assert [(via, op["id"]) for dummy, op, via in journal.pending()] == [("push", "op-1"), ("pull", "op-1")]
    journal.done(first)
    journal.done(first)
    assert [key for key, dummy, dummy2 in journal.pending()] == [second]


def test_off_without_a_folder():
    journal = Journal(None)
    assert journal.add({"id": "x"}, "pull") == "" and journal.pending() == []
    journal.done("")
