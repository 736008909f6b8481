# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error taxonomy for the provider layer.

Errors are raised low (spec parsing, providers, executor) and converted once at
the edge: to ``fail_json`` in modules, to a gRPC status in the runtime, to a
warning in the inventory.  ``error_code`` values are stable and documented.
"""

from __future__ import annotations

from typing import Any, Optional


class VirtrigaudError(Exception):
    """Base class: a message plus the context a user needs to act on it."""

    error_code = "internal"
    grpc_code = "INTERNAL"
    retryable = False

    def __init__(
        self,
        msg: str,
        *,
        vm: Optional[str] = None,
        provider: Optional[str] = None,
        operation: Optional[str] = None,
        option: Optional[str] = None,
        details: Optional[dict[str, Any]] = None,
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.vm = vm
        self.provider = provider
        self.operation = operation
        self.option = option
        self.details = dict(details or {})

    def add_context(
        self, *, vm: Optional[str] = None, provider: Optional[str] = None, operation: Optional[str] = None
    ) -> "VirtrigaudError":
        """Fill in context that is not set yet, and return self for ``raise err.add_context(...)``."""
        self.vm = self.vm or vm
        self.provider = self.provider or provider
        self.operation = self.operation or operation
        return self

    @property
    def message(self) -> str:
        body = "%s: %s" % (self.option, self.msg) if self.option else self.msg
        subject = " on ".join(
            text % value for text, value in (("VM '%s'", self.vm), ("provider '%s'", self.provider)) if value
        )
        if self.operation:
            joint = (" of " if self.vm else " on ") + subject if subject else ""
            return "%s%s failed: %s" % (self.operation, joint, body)
        return "%s: %s" % (subject, body) if subject else body

    def to_dict(self) -> dict[str, Any]:
        details = dict(self.details)
        for key in ("vm", "provider", "operation", "option"):
            value = getattr(self, key)
            if value:
                details[key] = value
        return {"msg": self.message, "error_code": self.error_code, "details": details}

    def __str__(self) -> str:
        return self.message


class SpecError(VirtrigaudError):
    """Bad input: raised before anything is touched; ``option`` names the offending option."""

    error_code = "invalid_spec"
    grpc_code = "INVALID_ARGUMENT"

    @property
    def message(self) -> str:
        return "%s: %s" % (self.option, self.msg) if self.option else self.msg


class NotFoundError(VirtrigaudError):
    error_code = "not_found"
    grpc_code = "NOT_FOUND"


class AlreadyExistsError(VirtrigaudError):
    error_code = "already_exists"
    grpc_code = "ALREADY_EXISTS"


class PreconditionError(VirtrigaudError):
    """The request is valid but the object is in the wrong state for it."""

    error_code = "failed_precondition"
    grpc_code = "FAILED_PRECONDITION"


class ConflictError(VirtrigaudError):
    error_code = "conflict"
    grpc_code = "ABORTED"
    retryable = True


class UnsupportedError(VirtrigaudError):
    error_code = "unsupported"
    grpc_code = "UNIMPLEMENTED"


class PermissionDeniedError(VirtrigaudError):
    error_code = "permission_denied"
    grpc_code = "PERMISSION_DENIED"


class AuthenticationError(VirtrigaudError):
    error_code = "unauthenticated"
    grpc_code = "UNAUTHENTICATED"


class UnavailableError(VirtrigaudError):
    """The backend cannot be reached or is overloaded; worth retrying."""

    error_code = "unavailable"
    grpc_code = "UNAVAILABLE"
    retryable = True


class DeadlineExceededError(VirtrigaudError):
    error_code = "timeout"
    grpc_code = "DEADLINE_EXCEEDED"
    retryable = True


class ProviderError(VirtrigaudError):
    """A backend refused or failed an operation for a reason not covered above."""

    error_code = "provider_error"
    grpc_code = "INTERNAL"


class MissingDependency(VirtrigaudError):
    """A Python package a backend needs is not installed; ``package`` is the pip name."""

    error_code = "missing_dependency"
    grpc_code = "FAILED_PRECONDITION"

    def __init__(self, package: str, reason: str, import_error: Optional[BaseException] = None) -> None:
        super().__init__("the Python package '%s' is required %s" % (package, reason))
        self.package = package
        self.reason = reason
        self.import_error = import_error
