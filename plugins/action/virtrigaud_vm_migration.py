# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vm_migration in Ansible's worker when the connection is local (see plugin_utils.worker)."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.plugin_utils.worker import WorkerAction


class ActionModule(WorkerAction):
    module_name = "virtrigaud_vm_migration"
