# -*- coding: utf-8 -*-
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Programs started by a host that is no Ansible module: the controller's worker and the provider runtime."""

from __future__ import annotations

import subprocess


def run_program(argv: list[str]) -> tuple[int, str, str]:
    """Run ``argv`` to its end, as AnsibleModule.run_command does on a managed node: (rc, stdout, stderr)."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr
