# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt errors → the collection's error taxonomy, with secrets scrubbed from messages."""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional

from ... import errors

# libvirt error code names (``libvirt.VIR_ERR_*``) grouped by the error they become.
_CLASSES: tuple[tuple[type[errors.VirtrigaudError], tuple[str, ...]], ...] = (
    (errors.NotFoundError, ("NO_DOMAIN", "NO_NETWORK", "NO_STORAGE_POOL", "NO_STORAGE_VOL", "NO_DOMAIN_SNAPSHOT")),
    (errors.AlreadyExistsError, ("DOM_EXIST", "STORAGE_VOL_EXIST")),
    (errors.PreconditionError, ("OPERATION_INVALID",)),
    (errors.AuthenticationError, ("AUTH_FAILED", "AUTH_CANCELLED", "AUTH_UNAVAILABLE")),
    (errors.PermissionDeniedError, ("ACCESS_DENIED", "OPERATION_DENIED")),
    (errors.UnavailableError, ("NO_CONNECT", "RPC", "SYSTEM_ERROR", "AGENT_UNRESPONSIVE")),
    (errors.DeadlineExceededError, ("OPERATION_TIMEOUT",)),
    (errors.UnsupportedError, ("NO_SUPPORT", "OPERATION_UNSUPPORTED", "CONFIG_UNSUPPORTED", "ARGUMENT_UNSUPPORTED")),
)
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def scrub(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """Remove URI credentials and any known secret from a message."""
    text = _USERINFO.sub(r"\g<scheme>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def error_class(libvirt: Any, code: int) -> type[errors.VirtrigaudError]:
    for cls, names in _CLASSES:
        if any(getattr(libvirt, "VIR_ERR_" + name, None) == code for name in names):
            return cls
    return errors.ProviderError


def translate(libvirt: Any, err: Any, secrets: Iterable[Optional[str]] = (), **context: Any) -> errors.VirtrigaudError:
    """A ``libvirt.libvirtError`` as the collection's error; ``context`` names VM, provider, operation."""
    code = err.get_error_code()
    message = scrub(err.get_error_message() or str(err), secrets)
    cls = error_class(libvirt, code)
    if code == getattr(libvirt, "VIR_ERR_SYSTEM_ERROR", None) and "connect" not in message.lower():
        cls = errors.ProviderError
    return cls(message, details={"libvirt_error_code": code}, **context)
