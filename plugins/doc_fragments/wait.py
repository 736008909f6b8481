# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Paired with argspec.wait_spec().
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Whether to wait for the provider's tasks to finish before returning.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds the whole operation may take, waits included.
    type: int
    default: 300
"""
