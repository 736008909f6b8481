# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's logic inside Ansible's worker when the task runs on the controller anyway.

A VM module talks to a hypervisor API, so it usually runs with the local
connection.  Then there is nothing to gain from packing the module, starting
a new Python and importing Ansible again for every host: this plugin validates
the options exactly as AnsibleModule would and calls the module's own ``run``
(each module exposes ``argument_spec()``, ``OPTION_RULES`` and ``run``).
Anything else (another connection, become, a task environment, a library only
the target interpreter has) goes the usual way, through the module.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import AnsibleValidationError, NoLogError
from ansible.plugins.action import ActionBase

from ansible_collections.virtrigaud.core.plugins.module_utils.coercion import container_for_string
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.plugin_utils.programs import run_program


class WorkerAction(ActionBase):
    """Base of the action plugins named after the collection's modules; ``module_name`` says which."""

    module_name = ""
    _supports_async = True

    def run(self, tmp: Optional[str] = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if not self._in_worker():
            return self._through_module(result, task_vars)
        module = importlib.import_module("ansible_collections.virtrigaud.core.plugins.modules." + self.module_name)

        validated = ArgumentSpecValidator(module.argument_spec(), **module.OPTION_RULES).validate(self._task.args)
        if validated.error_messages:
            result.update(failed=True, msg=_clearest(validated.errors.errors) or validated.errors.msg)
            return result
        container = container_for_string(module.argument_spec(), self._task.args)
        if container is not None:
            result.update(container.to_dict(), failed=True)
            return result
        warnings: list[str] = []
        run = VirtrigaudRun(validated.validated_parameters, bool(self._task.check_mode), bool(self._task.diff),
                            warnings.append)
        run.run_command = run_program
        outcome = run.outcome(module.run)
        if outcome.get("error_code") == "missing_dependency":
            # The target interpreter may have the library the controller's Python lacks.
            return self._through_module(result, task_vars)
        if outcome.get("exception") is None:
            outcome.pop("exception", None)
        result.update(remove_values(outcome, validated._no_log_values | run.secret_values))
        if warnings:
            result["warnings"] = warnings
        return result

    def _through_module(self, result: dict[str, Any], task_vars: Optional[dict[str, Any]]) -> dict[str, Any]:
        """The usual way: pack the module and run it on the target, in the background for async tasks."""
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            # ActionBase's method carries no annotations, hence the ignore.
            tmpdir = self._connection._shell.tmpdir  # pylint: disable=protected-access
            self._remove_tmp_path(tmpdir)  # type: ignore[no-untyped-call]
        return result

    def _in_worker(self) -> bool:
        """True when the module would run on this machine as this user with this environment."""
        return (
            self._connection.transport == "local"
            and not self._play_context.become
            and not any(self._task.environment or ())
            and not self._task.async_val
        )


def _clearest(errors: list[AnsibleValidationError]) -> Optional[str]:
    """The first error that names its option: a list of dicts given a string fails the no_log scan first,
    with a message that names nothing."""
    return next((error.msg for error in errors if not isinstance(error, NoLogError)), None)
