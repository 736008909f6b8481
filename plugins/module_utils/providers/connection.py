# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which connection settings each backend reads, and from where: one table per backend.

An AWX job may carry the credentials of several backends at once, so every
backend's environment variables can be set together.  A backend therefore reads
only the options and variables of its own table; an option of another backend
given in a task is reported back, never read.  The modules, the inventory
sources, the provider runtime and the check of the AWX credential types all use
these tables.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from ..errors import SpecError
from .base import ProviderConfig

CONFIG_FIELDS = ("uri", "username", "password", "validate_certs")
_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f")


@dataclass(frozen=True)
class Setting:
    """One connection setting of one backend.

    ``key`` is a :class:`ProviderConfig` field or a key of its ``options``.  A
    task's option wins over the environment; within each, the table's order
    decides, so two options may feed one key (vSphere's ``uri`` and
    ``hostname``).  ``runtime_env`` and ``credential`` are where the provider
    runtime finds the same setting: its credential file of that name first.
    ``provider_default`` is the key of a Provider's ``spec.defaults`` that
    reaches the runtime as this setting; a setting without an ``option`` is
    read by the runtime alone.
    """

    option: Optional[str]
    key: str
    env: tuple[str, ...] = ()
    kind: str = "str"
    secret: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    runtime_env: tuple[str, ...] = ()
    credential: Optional[str] = None
    provider_default: Optional[str] = None


# The keys of a Provider's spec.defaults (the CRD's names).
PROVIDER_DEFAULTS = ("datastore", "storagePod", "cluster", "folder", "resourcePool", "network")


def snake_case(key: str) -> str:
    """``resourcePool`` → ``resource_pool``: a CRD field as the modules name their options."""
    return re.sub(r"([A-Z])", r"_\1", key).lower()


def default_variable(key: str) -> str:
    """The runtime's variable for a Provider default: ``PROVIDER_DEFAULT_RESOURCE_POOL`` for ``resourcePool``."""
    return "PROVIDER_DEFAULT_" + snake_case(key).upper()


def _default(option: Optional[str], key: str, provider_default: str, env: tuple[str, ...] = (),
             also: tuple[str, ...] = ()) -> Setting:
    """A placement default, which a Provider's ``spec.defaults.<provider_default>`` sets in the runtime."""
    return Setting(option, key, env, runtime_env=(default_variable(provider_default),) + also,
                   provider_default=provider_default)


def _endpoint(*env: str, runtime: tuple[str, ...] = ("PROVIDER_ENDPOINT",)) -> Setting:
    return Setting("uri", "uri", env, runtime_env=runtime)


# The Kubernetes API connection, as kubernetes.core reads it: the Kubernetes-resource modules, the inventory's
# kubernetes sources and the kubevirt backend all use this one table.  The bearer token is the password and the
# API server URL the uri, so neither shows in a ProviderConfig's repr or label beyond the host.
KUBERNETES: tuple[Setting, ...] = (
    Setting("kubeconfig", "kubeconfig", ("K8S_AUTH_KUBECONFIG",), kind="path"),
    Setting("context", "context", ("K8S_AUTH_CONTEXT",)),
    Setting("host", "uri", ("K8S_AUTH_HOST",)),
    Setting("api_key", "password", ("K8S_AUTH_API_KEY",), secret=True),
    Setting("ca_cert", "ca_cert", ("K8S_AUTH_SSL_CA_CERT",), kind="path"),
    Setting("kube_validate_certs", "validate_certs", ("K8S_AUTH_VERIFY_SSL",), kind="bool", default=True),
)


BACKENDS: dict[str, tuple[Setting, ...]] = {
    # A move to another libvirtd opens a second connection from the task's target.host (placement.host) alone: this
    # table's options, none of its credentials (LibvirtProvider.elsewhere); no variable names the target.
    "libvirt": (
        _endpoint("LIBVIRT_DEFAULT_URI"),
        Setting("username", "username", ("LIBVIRT_USERNAME", "VIRTRIGAUD_USERNAME"),
                runtime_env=("LIBVIRT_USERNAME",), credential="username"),
        Setting("password", "password", ("LIBVIRT_PASSWORD", "VIRTRIGAUD_PASSWORD"), secret=True,
                runtime_env=("LIBVIRT_PASSWORD",), credential="password"),
        _default("default_datastore", "storage_pool", "datastore",
                 ("LIBVIRT_STORAGE_POOL", "VIRTRIGAUD_DEFAULT_DATASTORE")),
        _default(None, "network", "network"),
        Setting("libvirt_domain_type", "domain_type", ("VIRTRIGAUD_LIBVIRT_DOMAIN_TYPE",), default="auto",
                choices=("auto", "kvm", "qemu"), runtime_env=("LIBVIRT_DOMAIN_TYPE",)),
    ),
    "vsphere": (
        _endpoint(),
        Setting("hostname", "uri", ("VMWARE_HOST",)),
        Setting("port", "port", ("VMWARE_PORT",), kind="int"),
        Setting("username", "username", ("VMWARE_USER",), credential="username"),
        Setting("password", "password", ("VMWARE_PASSWORD",), secret=True, credential="password"),
        Setting("validate_certs", "validate_certs", ("VMWARE_VALIDATE_CERTS",), kind="bool", default=True),
        Setting("datacenter", "datacenter", ("VMWARE_DATACENTER",)),
        _default("default_datastore", "storage_pool", "datastore", ("VMWARE_DATASTORE",)),
        _default(None, "storage_pod", "storagePod"),
        _default("default_cluster", "cluster", "cluster", ("VIRTRIGAUD_DEFAULT_CLUSTER",)),
        _default("default_folder", "folder", "folder", ("VIRTRIGAUD_DEFAULT_FOLDER",)),
        _default(None, "resource_pool", "resourcePool"),
        _default(None, "network", "network"),
    ),
    "proxmox": (
        _endpoint(runtime=("PROVIDER_ENDPOINT", "PVE_ENDPOINT")),
        Setting("api_host", "uri", ("PROXMOX_HOST",)),
        Setting("api_port", "port", ("PROXMOX_PORT",), kind="int"),
        Setting("api_user", "username", ("PROXMOX_USER",), runtime_env=("PROVIDER_USERNAME", "PVE_USERNAME"),
                credential="username"),
        Setting("api_password", "password", ("PROXMOX_PASSWORD",), secret=True,
                runtime_env=("PROVIDER_PASSWORD", "PVE_PASSWORD"), credential="password"),
        Setting("api_token_id", "token_id", ("PROXMOX_TOKEN_ID",),
                runtime_env=("PROVIDER_TOKEN_ID", "PVE_TOKEN_ID"), credential="token_id"),
        Setting("api_token_secret", "token_secret", ("PROXMOX_TOKEN_SECRET",), secret=True,
                runtime_env=("PROVIDER_TOKEN_SECRET", "PVE_TOKEN_SECRET"), credential="token_secret"),
        Setting("validate_certs", "validate_certs", ("PROXMOX_VALIDATE_CERTS",), kind="bool", default=True),
        Setting("default_node", "node", ("PROXMOX_NODE", "VIRTRIGAUD_DEFAULT_NODE"),
                runtime_env=("PROVIDER_DEFAULT_NODE",)),
        _default("default_datastore", "storage_pool", "datastore", ("PROXMOX_STORAGE",),
                 also=("PROVIDER_DEFAULT_STORAGE", "PVE_DEFAULT_STORAGE")),
        _default("default_bridge", "bridge", "network", ("VIRTRIGAUD_DEFAULT_BRIDGE",),
                 also=("PROVIDER_DEFAULT_BRIDGE",)),
        Setting("snippets_storage", "snippets_storage", ("VIRTRIGAUD_SNIPPETS_STORAGE",)),
        Setting("snippets_dir", "snippets_dir", ("VIRTRIGAUD_SNIPPETS_DIR",), kind="path"),
    ),
    "remote": (
        _endpoint("VIRTRIGAUD_URI", runtime=()),
        Setting("ca_path", "ca_path", ("VIRTRIGAUD_CA_PATH",), kind="path"),
        Setting("client_cert", "client_cert", ("VIRTRIGAUD_CLIENT_CERT",), kind="path"),
        Setting("client_key", "client_key", ("VIRTRIGAUD_CLIENT_KEY",), kind="path"),
        Setting("tls_server_name", "tls_server_name", ("VIRTRIGAUD_TLS_SERVER_NAME",)),
        Setting("insecure", "insecure", ("VIRTRIGAUD_INSECURE",), kind="bool", default=False),
        Setting("rpc_timeouts", "rpc_timeouts", kind="dict"),
    ),
    "mock": (
        _endpoint("VIRTRIGAUD_MOCK_URI"),
    ),
    # In a pod (the provider runtime), no kubeconfig and no host: the pod's service account.
    "kubevirt": (_endpoint(runtime=()),) + KUBERNETES + (
        Setting("namespace", "namespace", runtime_env=("KUBEVIRT_NAMESPACE", "PROVIDER_NAMESPACE")),
        Setting("default_datastore", "storage_pool"),
        Setting("instancetype", "instancetype"),
        Setting("preference", "preference"),
    ),
}

# Every connection option any backend reads; the selector is not one of them.
OPTIONS = tuple(sorted({setting.option for table in BACKENDS.values() for setting in table if setting.option}))


@dataclass(frozen=True)
class Connection:
    """A backend's connection, what it left unread, and the secret values it holds."""

    config: ProviderConfig
    foreign: tuple[str, ...]
    secrets: tuple[str, ...]

    def foreign_warnings(self, read_elsewhere: Iterable[str] = ()) -> list[str]:
        """A warning for each foreign option, but those the task reads for another purpose (``read_elsewhere``)."""
        skipped = set(read_elsewhere)
        return ["%s is not a %s setting and was not used; %s" % (option, self.config.type, owners(option))
                for option in self.foreign if option not in skipped]


def given_options(table: Iterable[Setting], params: Mapping[str, Any]) -> list[str]:
    """The backend options of ``table`` a task set (not the Kubernetes ones), for a connection that comes from
    elsewhere (a MachineProvider, a Provider manifest) and so refuses them."""
    return sorted(str(s.option) for s in table if s.option and s not in KUBERNETES and params.get(s.option) is not None)


def owners(option: str) -> str:
    """Which backends read ``option``, as a clause for a message."""
    types = [name for name, table in BACKENDS.items() if any(s.option == option for s in table)]
    return "only %s read%s it" % (" and ".join(types), "s" if len(types) == 1 else "")


def settings_of(provider_type: str) -> tuple[Setting, ...]:
    try:
        return BACKENDS[provider_type]
    except KeyError:
        raise SpecError("'%s' is not a provider type; use one of: %s" % (provider_type, ", ".join(sorted(BACKENDS))),
                        option="provider_type") from None


def read(table: tuple[Setting, ...], params: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings of one table by key: the task's option first, then the table's environment variables.

    Raises:
        SpecError: an environment variable does not hold a value of the setting's kind.
    """
    values: dict[str, Any] = {}
    for setting in table:
        if setting.option and setting.key not in values and params.get(setting.option) is not None:
            values[setting.key] = params[setting.option]
    for setting in table:
        if setting.key in values:
            continue
        variable = next((name for name in setting.env if environ.get(name)), None)
        if variable is not None:
            values[setting.key] = _from_env(setting, variable, environ[variable])
        elif setting.default is not None:
            values[setting.key] = setting.default
    return values


def resolve(provider_type: str, params: Mapping[str, Any], environ: Mapping[str, str],
            extra_options: Optional[Mapping[str, Any]] = None) -> Connection:
    """The connection for ``provider_type`` from the task's options, then its own environment variables.

    ``params`` holds only what the task (or ``module_defaults``) gave: unset
    options are None.  ``extra_options`` are settings that are not connection
    settings (a wait timeout) and go to every backend.

    Raises:
        SpecError: an environment variable does not hold a value of the
            setting's kind, naming the variable and the option.
    """
    table = settings_of(provider_type)
    values = read(table, params, environ)
    port = values.get("port")
    if port is not None and not 0 < port < 65536:
        raise SpecError("%s is not a TCP port (1-65535)" % port,
                        option=next(s.option for s in table if s.key == "port"))
    own = {setting.option for setting in table}
    foreign = tuple(option for option in OPTIONS if option not in own and params.get(option) is not None)
    secrets = tuple(str(values[s.key]) for s in table if s.secret and values.get(s.key))
    return Connection(config=config_from(provider_type, values, extra_options), foreign=foreign, secrets=secrets)


def config_from(provider_type: str, values: Mapping[str, Any], extra_options: Optional[Mapping[str, Any]] = None,
                name: Optional[str] = None) -> ProviderConfig:
    """A ProviderConfig from resolved settings: the four fields by name, the rest as options."""
    options = {key: value for key, value in values.items() if key not in CONFIG_FIELDS}
    options.update(extra_options or {})
    validate_certs = values.get("validate_certs")
    return ProviderConfig(type=provider_type, uri=values.get("uri"), username=values.get("username"),
                          password=values.get("password"),
                          validate_certs=True if validate_certs is None else bool(validate_certs),
                          name=name, options=options)


def from_text(setting: Setting, source: str, raw: str) -> Any:
    """A setting's value from text (an environment variable, a Secret's key); ``source`` names it in errors."""
    return _from_env(setting, source, raw)


def _from_env(setting: Setting, variable: str, raw: str) -> Any:
    value = raw.strip()
    if setting.kind == "int":
        if not value.isdigit():
            raise SpecError("%s=%s is not a whole number" % (variable, value), option=setting.option)
        return int(value)
    if setting.kind == "bool":
        if value.lower() not in _TRUE + _FALSE:
            raise SpecError("%s=%s is not a boolean (true or false)" % (variable, value), option=setting.option)
        return value.lower() in _TRUE
    if setting.kind == "path":
        return os.path.expanduser(os.path.expandvars(value))
    if setting.choices and value not in setting.choices:
        raise SpecError("%s=%s is not one of: %s" % (variable, value, ", ".join(setting.choices)),
                        option=setting.option)
    return raw if setting.secret else value


def provider_defaults_read(provider_type: str) -> tuple[str, ...]:
    """The keys of a Provider's ``spec.defaults`` the collection's runtime uses for ``provider_type``."""
    if provider_type not in BACKENDS:
        return ()
    return tuple(s.provider_default for s in BACKENDS[provider_type] if s.provider_default)


def environment_variables(provider_type: str) -> tuple[str, ...]:
    """Every variable the modules and inventory sources of ``provider_type`` read for its connection."""
    return tuple(name for setting in settings_of(provider_type) for name in setting.env)
