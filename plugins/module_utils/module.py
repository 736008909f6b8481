# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one bridge between Ansible and the provider layer.

Modules hand a ``run`` function to :meth:`VirtrigaudModule.execute`; errors from
below are converted here, once, into a failure with a stable ``error_code``.
:class:`VirtrigaudRun` is the same run without AnsibleModule, for the action
plugin that runs a module's logic in the controller's worker.
"""

from __future__ import annotations

import copy
import os
import traceback
from typing import Any, Callable, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from .coercion import container_for_string
from .errors import MissingDependency, NotFoundError, SpecError, VirtrigaudError
from .kube.client import Kube, KubeConfig
from .providers.base import ObservedVM, Provider, ProviderConfig
from .providers.connection import KUBERNETES, Connection, resolve
from .providers.registry import open_provider
from .resilience import Deadline
from .spec import Placement


class VirtrigaudRun:
    """One run of a module's logic, whoever hosts it: validated params, modes, a lazily opened provider."""

    def __init__(
        self, params: dict[str, Any], check_mode: bool, diff_mode: bool, warn: Callable[[str], None]
    ) -> None:
        self.params = params
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.warn = warn
        self._provider: Optional[Provider] = None
        self._kube: Optional[Kube] = None
        self._provider_used = False
        self._connection: Optional[Connection] = None
        self.secret_values: set[str] = set()
        # How this host starts a program (argv in, (rc, stdout, stderr) out); None where it cannot.
        self.run_command: Optional[Callable[[list[str]], tuple[int, str, str]]] = None

    def connection(self) -> Connection:
        """The provider type's own connection settings; options of other backends are named in a warning."""
        if self._connection is None:
            p = self.params
            extra = {"wait_timeout": p["wait_timeout"]} if p.get("wait_timeout") else {}
            self._connection = resolve(p["provider_type"], p, os.environ, extra)
            self.secret_values.update(self._connection.secrets)
            # A placement policy by name is read from Kubernetes with these options, whatever the backend.
            kube_options = [s.option for s in KUBERNETES if s.option] if p.get("placement_policy_ref") else []
            for warning in self._connection.foreign_warnings(kube_options):
                self.warn(warning)
        return self._connection

    def use_connection(self, connection: Connection) -> None:
        """Serve this run from a connection resolved elsewhere (a MachineProvider's Secret), not from the options."""
        self._connection = connection
        self.secret_values.update(connection.secrets)

    def provider_config(self) -> ProviderConfig:
        return self.connection().config

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            config = self.provider_config()
            self._provider_used = True
            self._provider = open_provider(config)
        return self._provider

    @property
    def kube(self) -> Kube:
        """The Kubernetes API connection from the kube_spec options, opened on first use."""
        if self._kube is None:
            config = KubeConfig.from_params(self.params)
            if config.api_key:
                self.secret_values.add(config.api_key)
            self._kube = Kube(config)
        return self._kube

    def deadline(self) -> Deadline:
        return Deadline(float(self.params.get("wait_timeout") or 300))

    def locate(self, name: Optional[str], vm_id: Optional[str], id_option: str = "id",
               moved_to: Optional[Placement] = None, host_option: str = "placement.host") -> Optional[ObservedVM]:
        """The VM by id when given (it must then exist), else by name; ``id_option`` names the id in errors.  A VM
        that the task's connection does not have is looked for at ``moved_to`` too, when that is another connection
        of the same backend (where an earlier move took it, see :meth:`follow`)."""
        found = _find(self.provider, name, vm_id)
        if found is None and moved_to is not None:
            found = self.follow(moved_to, name, vm_id, host_option)
        if found is None and vm_id:
            raise NotFoundError("no VM has id '%s'" % vm_id, option=id_option)
        return found

    def follow(self, moved_to: Placement, name: Optional[str], vm_id: Optional[str],
               host_option: str = "placement.host") -> Optional[ObservedVM]:
        """The VM on the connection that ``moved_to`` names (``Provider.elsewhere``), if it is there: the rest of the
        run is then served from that connection.  A failure there names ``host_option``."""
        current = self.provider
        other = current.elsewhere(moved_to)
        if other is None:
            return None
        try:
            found = _find(other, name, vm_id)
        except VirtrigaudError as err:
            other.close()
            err.option = err.option or host_option
            raise
        if found is None:
            other.close()
            return None
        other.warnings.extend(current.warnings)
        current.close()
        self._provider = other
        return found

    def outcome(self, run: Callable[["VirtrigaudRun"], dict[str, Any]]) -> dict[str, Any]:
        """The module's result, or a failure with a stable ``error_code``; the provider is closed either way."""
        try:
            _check_durations(self.params)
            result = run(self)
            for warning in self._provider.warnings if self._provider is not None else ():
                self.warn(warning)
            return result
        except MissingDependency as err:
            return {"failed": True, "msg": missing_required_lib(err.package, reason=err.reason),
                    "error_code": err.error_code, "exception": _format(err.import_error)}
        except VirtrigaudError as err:
            label = self.provider_config().label if self._provider_used else None
            return dict(err.add_context(provider=label).to_dict(), failed=True)
        finally:
            if self._provider is not None:
                self._provider.close()
            if self._kube is not None:
                self._kube.close()


def _find(provider: Provider, name: Optional[str], vm_id: Optional[str]) -> Optional[ObservedVM]:
    if vm_id:
        return provider.describe(vm_id)
    return provider.find(name) if name else None


class _KeepingModule(AnsibleModule):
    """AnsibleModule that keeps the options as given, before its checks turn a list into its text."""

    def _load_params(self) -> None:
        super()._load_params()  # type: ignore[no-untyped-call]  # AnsibleModule carries no annotations
        self.given = copy.deepcopy(self.params)


class VirtrigaudModule(VirtrigaudRun):
    """The run hosted by AnsibleModule, as a module on the managed node."""

    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        # AnsibleModule carries no annotations, hence the ignore.
        self.ansible = _KeepingModule(argument_spec=argument_spec, **kwargs)  # type: ignore[no-untyped-call]
        container = container_for_string(argument_spec, self.ansible.given)
        if container is not None:
            self.ansible.fail_json(**container.to_dict())
        super().__init__(self.ansible.params, bool(self.ansible.check_mode), bool(self.ansible._diff),
                         self.ansible.warn)
        self.run_command = self._run_command

    def _run_command(self, argv: list[str]) -> tuple[int, str, str]:
        rc, out, err = self.ansible.run_command(argv)  # type: ignore[no-untyped-call]
        return int(rc), str(out), str(err)

    def execute(self, run: Callable[[VirtrigaudRun], dict[str, Any]]) -> None:
        """Run the module body and exit with its result, or fail with a structured error."""
        result = self.outcome(run)
        self.ansible.no_log_values.update(self.secret_values)
        if result.pop("failed", False):
            if result.get("exception") is None:
                result.pop("exception", None)
            self.ansible.fail_json(**result)
        self.ansible.exit_json(**result)


def _check_durations(params: dict[str, Any]) -> None:
    """A wait of 0 or less seconds, or a negative shutdown timeout, cannot do what it says."""
    for option, least in (("wait_timeout", 1), ("shutdown_timeout", 0)):
        value = params.get(option)
        if value is not None and value < least:
            raise SpecError("%d is not a number of seconds of %d or more" % (value, least), option=option)


def _format(error: Optional[BaseException]) -> Optional[str]:
    if error is None:
        return None
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
