# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one bridge between AnsibleModule and the provider layer.

Modules hand a ``run`` function to :meth:`VirtrigaudModule.execute`; errors from
below are converted here, once, into ``fail_json`` with a stable ``error_code``.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from .errors import MissingDependency, NotFoundError, VirtrigaudError
from .providers.base import ObservedVM, Provider, ProviderConfig
from .providers.registry import open_provider
from .resilience import Deadline


class VirtrigaudModule:
    """AnsibleModule plus a lazily opened provider and one failure shape."""

    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        self.ansible = AnsibleModule(argument_spec=argument_spec, **kwargs)
        self.params: dict[str, Any] = self.ansible.params
        self._provider: Optional[Provider] = None

    @property
    def check_mode(self) -> bool:
        return bool(self.ansible.check_mode)

    @property
    def diff_mode(self) -> bool:
        return bool(self.ansible._diff)

    def provider_config(self) -> ProviderConfig:
        p = self.params
        options = {"domain_type": p.get("libvirt_domain_type") or "auto"}
        if p.get("default_datastore"):
            options["storage_pool"] = p["default_datastore"]
        if p.get("port"):
            options["port"] = p["port"]
        return ProviderConfig(
            type=p["provider_type"],
            uri=p.get("uri") or p.get("hostname"),
            username=p.get("username"),
            password=p.get("password"),
            validate_certs=p.get("validate_certs", True),
            options=options,
        )

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            self._provider = open_provider(self.provider_config())
        return self._provider

    def deadline(self) -> Deadline:
        return Deadline(float(self.params.get("wait_timeout") or 300))

    def locate(self, name: Optional[str], vm_id: Optional[str]) -> Optional[ObservedVM]:
        """The VM by id when given (it must then exist), else by name."""
        if vm_id:
            found = self.provider.describe(vm_id)
            if found is None:
                raise NotFoundError("no VM has id '%s'" % vm_id, option="id")
            return found
        return self.provider.find(name) if name else None

    def warn(self, msg: str) -> None:
        self.ansible.warn(msg)

    def execute(self, run: Callable[["VirtrigaudModule"], dict[str, Any]]) -> None:
        """Run the module body and exit with its result, or fail with a structured error."""
        try:
            result = run(self)
        except MissingDependency as err:
            self.ansible.fail_json(
                msg=missing_required_lib(err.package, reason=err.reason),
                error_code=err.error_code,
                exception=_format(err.import_error),
            )
        except VirtrigaudError as err:
            label = self.provider_config().label if self.params.get("provider_type") else None
            self.ansible.fail_json(**err.add_context(provider=label).to_dict())
        finally:
            if self._provider is not None:
                self._provider.close()
        self.ansible.exit_json(**result)


def _format(error: Optional[BaseException]) -> Optional[str]:
    if error is None:
        return None
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
