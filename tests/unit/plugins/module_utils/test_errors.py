# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error taxonomy: stable codes, gRPC mapping, messages with context and without secrets."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig


@pytest.mark.parametrize("cls, code, grpc, retryable", [
    (errors.SpecError, "invalid_spec", "INVALID_ARGUMENT", False),
    (errors.NotFoundError, "not_found", "NOT_FOUND", False),
    (errors.PreconditionError, "failed_precondition", "FAILED_PRECONDITION", False),
    (errors.UnavailableError, "unavailable", "UNAVAILABLE", True),
    (errors.DeadlineExceededError, "timeout", "DEADLINE_EXCEEDED", True),
    (errors.AuthenticationError, "unauthenticated", "UNAUTHENTICATED", False),
    (errors.PermissionDeniedError, "permission_denied", "PERMISSION_DENIED", False),
    (errors.UnsupportedError, "unsupported", "UNIMPLEMENTED", False),
    (errors.ConflictError, "conflict", "ABORTED", True),
])
def test_codes(cls, code, grpc, retryable):
    assert (cls.error_code, cls.grpc_code, cls.retryable) == (code, grpc, retryable)
    assert issubclass(cls, errors.VirtrigaudError)


def test_message_names_operation_vm_provider_and_option():
    err = errors.PreconditionError("it is running", option="allow_power_cycling")
    err.add_context(vm="web", provider="qemu:///system", operation="set_memory")
    assert err.message == ("set_memory of VM 'web' on provider 'qemu:///system' failed: allow_power_cycling: "
                           "it is running")
    assert err.to_dict() == {
        "msg": err.message, "error_code": "failed_precondition",
        "details": {"vm": "web", "provider": "qemu:///system", "operation": "set_memory",
                    "option": "allow_power_cycling"},
    }


def test_context_already_set_is_kept():
    err = errors.NotFoundError("gone", vm="a").add_context(vm="b", provider="p")
    assert (err.vm, err.provider) == ("a", "p")
    assert err.message == "VM 'a' on provider 'p': gone"


def test_missing_dependency_names_the_pip_package():
    err = errors.MissingDependency("libvirt-python", "for the libvirt provider", ImportError("no libvirt"))
    assert err.package == "libvirt-python"
    assert "libvirt-python" in err.message


@pytest.mark.parametrize("uri, label", [
    ("qemu+ssh://admin:s3cret@host/system", "qemu+ssh://host/system"),
    ("qemu+tcp://admin@host/system", "qemu+tcp://host/system"),
    ("qemu:///system", "qemu:///system"),
])
def test_provider_labels_never_carry_credentials(uri, label):
    assert ProviderConfig(type="libvirt", uri=uri, password="s3cret").label == label


def test_provider_config_repr_hides_the_password():
    assert "s3cret" not in repr(ProviderConfig(type="libvirt", password="s3cret"))
