# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A live check of a Provider resource through the provider layer: connectivity, authentication,
capabilities and resource usage, in the shape of a MachineProvider status."""

from __future__ import annotations

import base64
import os
import tempfile
import time
from typing import Any, Mapping, Optional

from .. import errors
from ..providers.base import ProviderConfig
from ..providers.registry import open_provider
from .client import Kube
from .provider import check_credentials, provider_connection
from .resources import provider_type_of
from .runtime import object_name

# How much each part of a healthy provider adds to its health score.
_SCORE = {"connectivity": 40, "authentication": 30, "listing": 30}


def secret_values(kube: Kube, namespace: str, name: str) -> Optional[dict[str, str]]:
    """The decoded keys of a Secret, or None when it does not exist."""
    secret = kube.get("Secret", name, namespace)
    if secret is None:
        return None
    return {key: base64.b64decode(value).decode("utf-8") for key, value in (secret.get("data") or {}).items()}


def stored_credentials(kube: Kube, provider_type: str, namespace: str, name: str) -> dict[str, str]:
    """The credentials in the existing Secret ``name``, which must hold the keys the provider type needs.

    Raises:
        SpecError: naming ``credentials_secret`` when the Secret is missing or lacks a key.
    """
    credentials = secret_values(kube, namespace, name)
    if credentials is None:
        raise errors.SpecError("no Secret '%s' in namespace '%s'; create it or give credentials" % (name, namespace),
                               option="credentials_secret")
    check_credentials(provider_type, {key for key, value in credentials.items() if value},
                      "credentials_secret '%s'" % name)
    return credentials


def runtime_tls(kube: Kube, provider: dict[str, Any], given: Mapping[str, Any]) -> Optional[dict[str, str]]:
    """The TLS material the runtime serves with (None for plaintext): ``given`` (the task's runtime.tls) when it
    holds a certificate, else the Provider's TLS Secret.

    Raises:
        SpecError: naming ``runtime.tls.secret_name`` when the Secret lacks a key.
    """
    tls = provider["spec"]["runtime"]["service"]["tls"]
    if not tls.get("enabled", True):
        return None
    if given.get("certificate"):
        return {"tls.crt": given["certificate"], "tls.key": given["private_key"], "ca.crt": given["ca_certificate"]}
    material = secret_values(kube, provider["metadata"]["namespace"], tls["secretRef"]["name"])
    if not material or not all(material.get(key) for key in ("tls.crt", "tls.key", "ca.crt")):
        raise errors.SpecError("the TLS Secret '%s' does not hold tls.crt, tls.key and ca.crt"
                               % tls["secretRef"]["name"], option="runtime.tls.secret_name")
    return material


def passed(validation: dict[str, Any]) -> dict[str, Any]:
    """The validation, if the hypervisor passed it in full.

    Raises:
        UnavailableError: with the validation in its details, when it did not.
    """
    if validation["health_score"] < 100:
        raise errors.UnavailableError("validation of the hypervisor failed: %s" % validation["message"],
                                      details={"validation": validation})
    return validation


def runtime_endpoint(provider: dict[str, Any]) -> str:
    """Where the runtime serves this Provider inside the cluster, as upstream's status reports it."""
    reported: Optional[str] = (((provider.get("status") or {}).get("runtime") or {}).get("endpoint"))
    if reported:
        return reported
    port = ((provider["spec"].get("runtime") or {}).get("service") or {}).get("port") or 9443
    return "%s.%s.svc.cluster.local:%d" % (object_name(provider), provider["metadata"]["namespace"], port)


def probe(provider: dict[str, Any], credentials: dict[str, str]) -> dict[str, Any]:
    """Connect to the Provider's hypervisor as its runtime would, and report what was found."""
    spec = provider["spec"]
    config = provider_connection(provider_type_of(provider), spec["endpoint"], credentials,
                                 validate_certs=not spec.get("insecureSkipVerify"), name=_label(provider))
    return _check(config, spec["endpoint"])


def probe_runtime(provider: dict[str, Any], endpoint: str, tls: Optional[dict[str, str]]) -> dict[str, Any]:
    """Ask the Provider's runtime over gRPC, as VirtRigaud's manager does: the TLS Secret's certificate is the
    client's too, and its ca.crt the roots (``tls`` None means plaintext)."""
    with tempfile.TemporaryDirectory(prefix="virtrigaud-probe-") as folder:
        options: dict[str, Any] = {"insecure": tls is None}
        for key, option in (("ca.crt", "ca_path"), ("tls.crt", "client_cert"), ("tls.key", "client_key")):
            if tls is not None:
                path = os.path.join(folder, key)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as handle:
                    handle.write(tls[key])
                options[option] = path
        config = ProviderConfig(type="remote", uri=endpoint, name=_label(provider), options=options)
        return _check(config, endpoint)


def _label(provider: dict[str, Any]) -> str:
    return "%s/%s" % (provider["metadata"]["namespace"], provider["metadata"]["name"])


def _check(config: ProviderConfig, endpoint: str) -> dict[str, Any]:
    report: dict[str, Any] = {
        "connectivity": {"status": "Disconnected", "endpoint": endpoint, "latency_ms": None},
        "authentication": {"status": "Unknown"},
        "capabilities": None,
        "resource_usage": None,
        "health_score": 0,
        "message": "",
    }
    started = time.monotonic()
    backend = None
    try:
        backend = open_provider(config)
        backend.validate()
        report["connectivity"].update(status="Connected", latency_ms=round((time.monotonic() - started) * 1000, 1))
        report["authentication"]["status"] = "Authenticated"
        report["health_score"] = _SCORE["connectivity"] + _SCORE["authentication"]
        capabilities = backend.capabilities().to_dict()
        report["capabilities"] = dict(capabilities, supported_operations=_operations(capabilities))
        vms = backend.inventory()
        report["resource_usage"] = {"vms": len(vms), "cpu": sum(vm.cpu or 0 for vm in vms),
                                    "memory_mib": sum(vm.memory_mib or 0 for vm in vms)}
        report["health_score"] += _SCORE["listing"]
    except (errors.AuthenticationError, errors.PermissionDeniedError) as err:
        report["connectivity"].update(status="Connected", latency_ms=round((time.monotonic() - started) * 1000, 1))
        report["authentication"]["status"] = "Failed"
        report["health_score"] = _SCORE["connectivity"]
        report["message"] = err.message
    except errors.VirtrigaudError as err:
        report["message"] = err.message
    finally:
        if backend is not None:
            backend.close()
    return report


def _operations(capabilities: dict[str, Any]) -> list[str]:
    operations = ["validate", "create", "delete", "power", "describe", "list", "reconfigure", "clone"]
    for flag, operation in (("supports_snapshots", "snapshot"), ("supports_linked_clones", "linked_clone"),
                            ("supports_image_import", "image_prepare"), ("supports_disk_export", "disk_export"),
                            ("supports_disk_import", "disk_import")):
        if capabilities.get(flag):
            operations.append(operation)
    return operations
