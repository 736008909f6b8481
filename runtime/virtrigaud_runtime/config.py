# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start-up settings: seed 001's flags, upstream's current flags, the environment, credential and TLS files."""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from typing import Mapping, Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.provider import provider_connection
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.connection import (
    PROVIDER_DEFAULTS,
    default_variable,
    provider_defaults_read,
    settings_of,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import PROVIDER_TYPES

CREDENTIALS_DIR = "/etc/virtrigaud/credentials"
TLS_DIR = "/etc/virtrigaud/tls"
TLS_FILES = ("tls.crt", "tls.key", "ca.crt")
# Provider.spec.rateLimit as the role renders it: variable, field, the CRD's bounds and default.
MAX_WORKERS = 32
RATE_LIMIT = (("PROVIDER_RATE_LIMIT_QPS", "qps", 1, 1000, 10), ("PROVIDER_RATE_LIMIT_BURST", "burst", 1, 2000, 20))


class SettingsError(Exception):
    """The runtime cannot start with these settings; the message says what to change."""


@dataclass(frozen=True)
class Settings:
    provider_type: str
    endpoint: Optional[str]
    grpc_address: str
    http_address: str
    tls: Optional[dict[str, bytes]]
    namespace: str = ""
    name: str = ""
    log_level: str = "info"
    log_format: str = "json"
    credentials_dir: str = CREDENTIALS_DIR
    validate_certs: bool = True
    task_window: float = 2.0
    rate_limit: Optional[tuple[int, int]] = None  # (qps, burst); None: no limit
    check_interval: float = 10.0
    check_timeout: float = 10.0
    hypervisor_check: bool = True
    workers: int = 1  # gRPC server processes sharing the port (SO_REUSEPORT)

    @property
    def label(self) -> str:
        return "%s/%s" % (self.namespace, self.name) if self.namespace and self.name else self.provider_type


def _address(value: str) -> str:
    """``:9090`` (Go style) or a bare port → ``[::]:9090``."""
    if value.isdigit():
        return "[::]:%s" % value
    return "[::]" + value if value.startswith(":") else value


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> Optional[str]:
    return next((env[name] for name in names if env.get(name)), None)


def _endpoint_variables(provider_type: str) -> tuple[str, ...]:
    return next(setting.runtime_env for setting in settings_of(provider_type) if setting.key == "uri")


def _skip_verify_variables(provider_type: str) -> tuple[str, ...]:
    """TLS_INSECURE_SKIP_VERIFY comes from the Provider's spec; PVE_INSECURE_SKIP_VERIFY is Proxmox VE's alone."""
    return ("TLS_INSECURE_SKIP_VERIFY", "PVE_INSECURE_SKIP_VERIFY") if provider_type == "proxmox" else (
        "TLS_INSECURE_SKIP_VERIFY",)


def rate_limit(env: Mapping[str, str]) -> Optional[tuple[int, int]]:
    """(qps, burst) from PROVIDER_RATE_LIMIT_*, the CRD's default for the one not set; None when neither is."""
    given = {name: env.get(name, "").strip() for name, *dummy in RATE_LIMIT}
    if not any(given.values()):
        return None
    qps, burst = (_bounded(name, given[name] or str(default), "Provider.spec.rateLimit." + key, low, high)
                  for name, key, low, high, default in RATE_LIMIT)
    return qps, burst


def _bounded(name: str, value: str, source: str, low: int, high: int) -> int:
    number = int(value) if value.isdigit() else None
    if number is None or not low <= number <= high:
        raise SettingsError("%s is %r; it must be a whole number from %d to %d (%s)"
                            % (name, value[:40], low, high, source))
    return number


def _positive(flag: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise SettingsError("%s must be a number of seconds above 0, not %s" % (flag, value))
    return value


def _truthy(value: Optional[str]) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def parser() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(prog="virtrigaud-provider-runtime",
                                    description="Serve VirtRigaud's provider.v1 gRPC contract on a hypervisor.")
    flags.add_argument("--grpc-addr", help="gRPC listen address, such as :9090 (seed 001)")
    flags.add_argument("--port", help="gRPC port (upstream's pods); --grpc-addr wins")
    flags.add_argument("--metrics-addr", help="HTTP address for /healthz, /readyz, /health and /metrics (seed 001)")
    flags.add_argument("--health-port", help="HTTP port for the same (upstream's pods)")
    flags.add_argument("--provider-type", help="libvirt, vsphere, proxmox, kubevirt or mock (else PROVIDER_TYPE)")
    flags.add_argument("--provider-endpoint", help="the hypervisor's URI or host (else PROVIDER_ENDPOINT)")
    flags.add_argument("--tls-enabled", help="true or false (else TLS_ENABLED)")
    flags.add_argument("--insecure", action="store_true",
                       help="serve plaintext when there is no TLS material (else VIRTRIGAUD_PROVIDER_INSECURE)")
    flags.add_argument("--tls-dir", help="where tls.crt, tls.key and ca.crt are (default %s)" % TLS_DIR)
    flags.add_argument("--credentials-dir", help="one file per credential key (default %s)" % CREDENTIALS_DIR)
    flags.add_argument("--task-window", type=float, default=2.0,
                       help="seconds an RPC waits before answering with a TaskRef to poll")
    flags.add_argument("--check-interval", type=float, default=10.0,
                       help="seconds between checks of the hypervisor, which /readyz and the metrics report")
    flags.add_argument("--check-timeout", type=float, default=10.0,
                       help="seconds a hypervisor check may take before the runtime reports it not ready")
    flags.add_argument("--no-hypervisor-check", action="store_true",
                       help="never check the hypervisor: /readyz follows serving alone (healthCheck.enabled=false)")
    flags.add_argument("--workers", type=int,
                       help="gRPC server processes sharing the port, 1 to %d (else VIRTRIGAUD_RUNTIME_WORKERS; "
                            "default 1); more than 1 needs a fixed port and, for the mock, a state file" % MAX_WORKERS)
    flags.add_argument("--version", action="store_true")
    return flags


def settings(argv: Optional[list[str]] = None, environ: Optional[Mapping[str, str]] = None) -> Settings:
    env = os.environ if environ is None else environ
    args = parser().parse_args(argv)
    provider_type = args.provider_type or env.get("PROVIDER_TYPE") or ""
    if provider_type not in PROVIDER_TYPES:
        raise SettingsError("provider type '%s' is not one of: %s (--provider-type or PROVIDER_TYPE)"
                            % (provider_type, ", ".join(PROVIDER_TYPES)))
    grpc_address = _address(args.grpc_addr or args.port or env.get("GRPC_PORT") or "9443")
    http_address = _address(args.metrics_addr or args.health_port or "8080")
    tls_dir = args.tls_dir or env.get("VIRTRIGAUD_TLS_DIR") or TLS_DIR
    enabled = args.tls_enabled if args.tls_enabled is not None else env.get("TLS_ENABLED")
    insecure = args.insecure or _truthy(env.get("VIRTRIGAUD_PROVIDER_INSECURE"))
    current = Settings(
        provider_type=provider_type,
        endpoint=args.provider_endpoint or _first(env, _endpoint_variables(provider_type)),
        grpc_address=grpc_address,
        http_address=http_address,
        tls=tls_material(tls_dir, enabled, insecure),
        namespace=env.get("PROVIDER_NAMESPACE", ""),
        name=env.get("PROVIDER_NAME", ""),
        log_level=env.get("LOG_LEVEL", "info").lower(),
        log_format=env.get("LOG_FORMAT", "json").lower(),
        credentials_dir=args.credentials_dir or env.get("VIRTRIGAUD_CREDENTIALS_DIR") or CREDENTIALS_DIR,
        validate_certs=not any(_truthy(env.get(name)) for name in _skip_verify_variables(provider_type)),
        task_window=args.task_window,
        rate_limit=rate_limit(env),
        check_interval=_positive("--check-interval", args.check_interval),
        check_timeout=_positive("--check-timeout", args.check_timeout),
        hypervisor_check=not args.no_hypervisor_check,
        workers=_workers(args.workers, env.get("VIRTRIGAUD_RUNTIME_WORKERS")),
    )
    _refuse_unshared_state(current)
    return current


def _workers(flag: Optional[int], variable: Optional[str]) -> int:
    if flag is not None:
        return _bounded("--workers", str(flag), "the --workers flag", 1, MAX_WORKERS)
    return _bounded("VIRTRIGAUD_RUNTIME_WORKERS", (variable or "1").strip(), "the environment", 1, MAX_WORKERS)


def _refuse_unshared_state(current: Settings) -> None:
    """Several workers share the port, names, tasks and metrics; refuse the settings where they could not."""
    if current.workers == 1:
        return
    if current.grpc_address.rpartition(":")[2] == "0":
        raise SettingsError("--workers %d needs a fixed gRPC port: with port 0 each worker would get its own"
                            % current.workers)
    if current.provider_type == "mock" and (current.endpoint or "mock://") == "mock://":
        raise SettingsError("--workers %d: the mock provider without a state file keeps its VMs in one process; "
                            "give it a state file (PROVIDER_ENDPOINT=mock:///path/state.json) or use one worker"
                            % current.workers)
    if current.rate_limit and current.rate_limit[1] < current.workers:
        raise SettingsError("--workers %d: each worker takes an equal share of Provider.spec.rateLimit.burst (%d), "
                            "which must be at least the number of workers" % (current.workers, current.rate_limit[1]))


def tls_material(folder: str, enabled: Optional[str], insecure: bool) -> Optional[dict[str, bytes]]:
    """mTLS material, or None for plaintext, which only an explicit insecure mode allows (fail closed)."""
    present = {name: os.path.join(folder, name) for name in TLS_FILES if os.path.isfile(os.path.join(folder, name))}
    if enabled is not None and not _truthy(enabled) and insecure:
        return None
    if len(present) == len(TLS_FILES):
        material = {}
        for name, path in present.items():
            try:
                with open(path, "rb") as handle:
                    material[name] = handle.read()
            except OSError as err:
                raise SettingsError("cannot read %s as UID %d: %s; mount the TLS Secret readable by the runtime's "
                                    "user (a Secret volume's default mode 0644 is)"
                                    % (path, os.getuid(), err.strerror)) from err
        return material
    if not present and insecure:
        return None
    missing = ", ".join(sorted(set(TLS_FILES) - set(present)))
    raise SettingsError("TLS material is missing in %s (%s); mount tls.crt, tls.key and ca.crt there, or set "
                        "VIRTRIGAUD_PROVIDER_INSECURE=true (or --insecure) to serve plaintext" % (folder, missing))


def _credential(folder: str, *names: str) -> Optional[str]:
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
    return None


def provider_config(current: Settings, environ: Optional[Mapping[str, str]] = None) -> ProviderConfig:
    """The backend's connection: its type's credential files, then its type's own environment variables.

    Raises:
        SettingsError: a Provider default is set that this backend has no use for.
    """
    env = os.environ if environ is None else environ
    _refuse_unread_defaults(current.provider_type, env)
    credentials: dict[str, Optional[str]] = {}
    options: dict[str, object] = {}
    for setting in settings_of(current.provider_type):
        if setting.key == "uri":
            continue
        from_file = _credential(current.credentials_dir, setting.credential) if setting.credential else None
        value = from_file or next((env[name] for name in setting.runtime_env if env.get(name)), None)
        if value and setting.credential:
            credentials.setdefault(setting.credential, value)
        elif value:
            options.setdefault(setting.key, value)
    if current.provider_type == "vsphere" and not (credentials.get("username") and credentials.get("password")):
        raise SettingsError("vSphere needs the files username and password in %s" % current.credentials_dir)
    return provider_connection(current.provider_type, current.endpoint, credentials, current.validate_certs,
                               current.label, options)


def _refuse_unread_defaults(provider_type: str, env: Mapping[str, str]) -> None:
    read = provider_defaults_read(provider_type)
    unread = [key for key in PROVIDER_DEFAULTS if env.get(default_variable(key)) and key not in read]
    if unread:
        raise SettingsError("the %s backend has no use for %s; remove %s from the Provider (it reads %s)" % (
            provider_type, ", ".join(default_variable(key) for key in unread),
            " and ".join("spec.defaults.%s" % key for key in unread),
            ", ".join("spec.defaults.%s" % key for key in read) or "none of them"))
