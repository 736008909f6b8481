# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs a module in-process as Ansible would, and checks its output never carries the connection's secret."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

CANARY = "vr-canary-unit-7f3e"


def run(module, capsys, args, check_mode=False, diff=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    out = capsys.readouterr().out
    assert CANARY not in out
    return json.loads(out)


VM = {"name": "web", "cpu": 2, "memory": "1Gi", "disks": [{"name": "data", "size": "5Gi"}],
      "networks": [{"name": "lan", "network": "default"}], "state": "started", "tags": ["unit"]}
