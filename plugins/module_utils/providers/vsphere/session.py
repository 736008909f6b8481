# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One pyVmomi session per provider, and vSphere faults → the collection's errors."""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any, Optional
from urllib.parse import urlsplit

from ... import errors
from ...resilience import Deadline
from ..base import ProviderConfig

try:
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim

    PYVMOMI_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the host
    vim = None  # type: ignore[assignment]  # unused without pyVmomi
    PYVMOMI_ERROR = err

DEFAULT_PORT = 443


def endpoint(config: ProviderConfig) -> tuple[str, int]:
    """(host, port) from ``uri``: a host name, or a URL such as https://vc.example:8443/sdk."""
    uri = config.uri or ""
    if not uri:
        raise errors.SpecError("a vCenter or ESXi host name is required", option="hostname")
    if "://" in uri:
        parts = urlsplit(uri)
        return parts.hostname or "", parts.port or int(config.options.get("port") or DEFAULT_PORT)
    return uri, int(config.options.get("port") or DEFAULT_PORT)


def _tls_context(validate: bool) -> ssl.SSLContext:
    if validate:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect(config: ProviderConfig) -> Any:
    """A logged-in ServiceInstance; errors name the endpoint, never the password."""
    if PYVMOMI_ERROR is not None:
        raise errors.MissingDependency("pyvmomi", "for the vSphere provider", PYVMOMI_ERROR)
    host, port = endpoint(config)
    where = "%s:%d" % (host, port)
    try:
        return SmartConnect(host=host, port=port, user=config.username or "", pwd=config.password or "",
                            sslContext=_tls_context(config.validate_certs), connectionPoolTimeout=30)
    except ssl.SSLCertVerificationError as err:
        raise errors.PreconditionError(
            "the TLS certificate of %s is not trusted (%s); install its CA, or set validate_certs=false"
            % (where, err.verify_message), option="validate_certs") from None
    except vim.fault.InvalidLogin:
        raise errors.AuthenticationError("%s refused the user name or password" % where, option="password") from None
    except (OSError, socket.timeout) as err:
        raise errors.UnavailableError("cannot reach vSphere at %s: %s" % (where, err.strerror or err)) from None


def disconnect(service: Any) -> None:
    try:
        Disconnect(service)
    except Exception:  # pylint: disable=broad-exception-caught  # logging out must never fail a run
        pass


_FAULTS: tuple[tuple[str, type[errors.VirtrigaudError]], ...] = (
    ("ManagedObjectNotFound", errors.NotFoundError),
    ("NotFound", errors.NotFoundError),
    ("FileNotFound", errors.NotFoundError),
    ("DuplicateName", errors.AlreadyExistsError),
    ("InvalidPowerState", errors.PreconditionError),
    ("InvalidState", errors.PreconditionError),
    ("ToolsUnavailable", errors.PreconditionError),
    ("NoPermission", errors.PermissionDeniedError),
    ("NotAuthenticated", errors.AuthenticationError),
    ("NotSupported", errors.UnsupportedError),
    ("InvalidArgument", errors.SpecError),
    ("InvalidRequest", errors.SpecError),
    ("HostCommunication", errors.UnavailableError),
    ("Timedout", errors.DeadlineExceededError),
)


def translate(fault: Any, operation: Optional[str] = None) -> errors.VirtrigaudError:
    """A vmodl fault as the collection's error, by the fault's class name."""
    names = [cls.__name__.rsplit(".", 1)[-1] for cls in type(fault).__mro__]
    message = getattr(fault, "msg", None) or str(fault)
    for name, cls in _FAULTS:
        if name in names:
            return cls(message, operation=operation, details={"vsphere_fault": names[0]})
    return errors.ProviderError(message, operation=operation, details={"vsphere_fault": names[0]})


def wait_for(task: Any, deadline: Deadline, operation: str) -> Any:
    """Block until a vSphere task ends; return its result or raise its fault."""
    while True:
        info = task.info
        if info.state == vim.TaskInfo.State.success:
            return info.result
        if info.state == vim.TaskInfo.State.error:
            raise translate(info.error, operation)
        if deadline.expired:
            raise errors.DeadlineExceededError(
                "task %s of %s did not finish in time" % (str(task).strip("'"), operation))
        time.sleep(deadline.cap(0.2))
