# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's settings, from the environment and an optional settings file (OVIM_CONFIG_FILE), all checked at
start."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

import yaml

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.connection import environment_variables, resolve
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import PROVIDER_TYPES

LOG_LEVELS = ("debug", "info", "warning", "error")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_ID = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
CONFIG_FILE = "OVIM_CONFIG_FILE"
# Every variable the agent reads of its own; the settings file may set these and the backends' variables.
VARIABLES = (
    "OVIM_AGENT_ID", "OVIM_CLUSTER_ID", "OVIM_ZONE_ID", "OVIM_HUB_ENDPOINT", "OVIM_HUB_TOKEN", "OVIM_HUB_PROTOCOL",
    "OVIM_HUB_TLS_INSECURE", "OVIM_HUB_CA_PATH", "OVIM_HUB_CLIENT_CERT", "OVIM_HUB_CLIENT_KEY", "OVIM_LOG_LEVEL",
    "OVIM_METRICS_ENABLED", "OVIM_HEALTH_CHECK_INTERVAL", "OVIM_REPORT_INTERVAL", "OVIM_POLL_INTERVAL",
    "OVIM_API_ADDRESS", "OVIM_API_PORT", "OVIM_CALLBACK_URL", "OVIM_PUSH_AUTH", "OVIM_PROVIDER_TYPE",
    "OVIM_BACKEND_STORAGE", "OVIM_DEFAULT_NAMESPACE", "OVIM_TEMPLATE_CATALOGUE", "OVIM_WORKERS", "OVIM_RESULTS_KEPT",
    "OVIM_SHUTDOWN_GRACE", "OVIM_OPERATION_TIMEOUT", "OVIM_JOURNAL_DIR",
)


class SettingsError(Exception):
    """A setting the agent cannot start with; the message begins with the variable's name."""


@dataclass(frozen=True)
class SpokeSettings:
    agent_id: str
    cluster_id: str
    zone_id: str
    hub_endpoint: str
    hub_token: Optional[str] = field(default=None, repr=False)
    tls_insecure: bool = False
    ca_path: Optional[str] = None
    client_cert: Optional[str] = None
    client_key: Optional[str] = None
    log_level: str = "info"
    metrics_enabled: bool = True
    health_check_interval: float = 30.0
    report_interval: float = 30.0
    poll_interval: float = 5.0
    api_address: str = "0.0.0.0"
    api_port: int = 8080
    callback_url: str = ""
    push_auth: str = "token"
    provider_type: str = "kubevirt"
    provider: ProviderConfig = field(default_factory=lambda: ProviderConfig(type="kubevirt"))
    default_namespace: str = "default"
    templates: Mapping[str, str] = field(default_factory=dict)
    workers: int = 4
    results_kept: int = 1000
    shutdown_grace: float = 30.0
    operation_timeout: float = 600.0
    journal_dir: Optional[str] = None


def _text(env: Mapping[str, str], name: str, default: Optional[str] = None) -> Optional[str]:
    value = env.get(name, "").strip()
    return value or default


def _required_id(env: Mapping[str, str], name: str, default: Optional[str] = None) -> str:
    value = _text(env, name, default)
    if not value:
        raise SettingsError("%s is required: the id the hub knows this spoke by" % name)
    if not _ID.match(value):
        raise SettingsError("%s=%r is not an id: 1-63 letters, digits, '.', '_' or '-'" % (name, value[:70]))
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    if value.strip().lower() not in _TRUE + _FALSE:
        raise SettingsError("%s=%r is not a boolean (true or false)" % (name, value[:40]))
    return value.strip().lower() in _TRUE


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds, or a Go duration such as ``30s``, ``2m`` (the document's form)."""
    text = _text(env, name)
    if text is None:
        return default
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?", text)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}
    value = float(match.group(1)) * scale[match.group(2)] if match else float("nan")
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise SettingsError("%s=%r is not a duration: seconds above 0 (at most a day), such as 30 or 30s"
                            % (name, text[:40]))
    return value


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = _text(env, name)
    if text is None:
        return default
    if not (text.isdigit() and low <= int(text) <= high):
        raise SettingsError("%s=%r is not a whole number from %d to %d" % (name, text[:40], low, high))
    return int(text)


def _file(env: Mapping[str, str], name: str) -> Optional[str]:
    path = _text(env, name)
    if path is not None and not os.path.isfile(path):
        raise SettingsError("%s=%s: no such file" % (name, path))
    return path


def _endpoint(env: Mapping[str, str]) -> str:
    url = _text(env, "OVIM_HUB_ENDPOINT")
    if not url:
        raise SettingsError("OVIM_HUB_ENDPOINT is required: the hub's URL, such as https://ovim-hub:8443")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        raise SettingsError("OVIM_HUB_ENDPOINT=%r is not an http(s) URL of a host (no user, no query)"
                            % url.split("@")[-1][:80])
    return url.rstrip("/")


def _journal(env: Mapping[str, str]) -> Optional[str]:
    folder = _text(env, "OVIM_JOURNAL_DIR")
    if folder is not None and not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
        raise SettingsError("OVIM_JOURNAL_DIR=%s is not a folder this agent can write" % folder)
    return folder


def load_catalogue(env: Mapping[str, str]) -> dict[str, str]:
    """OVIM_TEMPLATE_CATALOGUE: a JSON file (or inline JSON object) of template name → the backend's image."""
    raw = _text(env, "OVIM_TEMPLATE_CATALOGUE")
    if raw is None:
        return {}
    try:
        if raw.startswith("{"):
            catalogue = json.loads(raw)
        else:
            with open(raw, encoding="utf-8") as handle:
                catalogue = json.load(handle)
    except (OSError, ValueError) as err:
        raise SettingsError("OVIM_TEMPLATE_CATALOGUE=%s: %s" % (raw[:80], err)) from None
    if not isinstance(catalogue, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                                  for k, v in catalogue.items()):
        raise SettingsError("OVIM_TEMPLATE_CATALOGUE must map template names to image names (strings)")
    return catalogue


def _provider(env: Mapping[str, str], provider_type: str) -> ProviderConfig:
    """The backend's connection from its own variables in connection.py's table, as the modules read them."""
    extra: dict[str, Any] = {}
    storage = _text(env, "OVIM_BACKEND_STORAGE")
    if storage:
        extra["storage_pool"] = storage
    try:
        connection = resolve(provider_type, {}, env, extra)
    except SpecError as err:
        raise SettingsError("%s (the %s backend's connection)" % (err.msg, provider_type)) from None
    return connection.config


def _listen(env: Mapping[str, str]) -> tuple[str, int]:
    address = _text(env, "OVIM_API_ADDRESS", "0.0.0.0") or "0.0.0.0"
    if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,253}", address):
        raise SettingsError("OVIM_API_ADDRESS=%r is not an address to listen on" % address[:60])
    return address, _whole(env, "OVIM_API_PORT", 8080, 1, 65535)


def _callback(env: Mapping[str, str], address: str, port: int) -> str:
    url = _text(env, "OVIM_CALLBACK_URL")
    if url is None:
        host = env.get("POD_IP") or ("127.0.0.1" if address in ("0.0.0.0", "::", "") else address)
        return "http://%s:%d" % (host, port)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("OVIM_CALLBACK_URL=%r is not an http(s) URL" % url[:80])
    return url.rstrip("/")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_text(env, name, default) or default).lower()
    if value not in choices:
        raise SettingsError("%s=%r is none of: %s" % (name, value[:40], ", ".join(choices)))
    return value


def _file_value(path: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if key == "OVIM_TEMPLATE_CATALOGUE" and isinstance(value, dict):
        return json.dumps(value)
    raise SettingsError("%s in %s=%s must be a string, a number or a boolean" % (key, CONFIG_FILE, path))


def read_file(path: str) -> dict[str, str]:
    """The settings file: a YAML (or JSON) mapping of the variables' names to their values.

    Raises:
        SettingsError: naming OVIM_CONFIG_FILE, or the key that is no setting of the agent.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as err:
        raise SettingsError("%s=%s cannot be read: %s" % (CONFIG_FILE, path, err.strerror)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = " at line %d" % (mark.line + 1) if mark is not None else ""
        raise SettingsError("%s=%s is not YAML%s" % (CONFIG_FILE, path, where)) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise SettingsError("%s=%s must hold a mapping of variable names to values" % (CONFIG_FILE, path))
    known = set(VARIABLES) | {name for kind in PROVIDER_TYPES for name in environment_variables(kind)}
    for key in document:
        if key not in known:
            raise SettingsError("%s in %s=%s is not a setting of this agent (the keys are the variables' names, "
                                "such as OVIM_AGENT_ID)" % (str(key)[:60], CONFIG_FILE, path))
    return {key: _file_value(path, key, value) for key, value in document.items() if value is not None}


def environment(environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The settings file's values under the environment's: a variable that is set wins over the file."""
    env = dict(os.environ if environ is None else environ)
    path = _text(env, CONFIG_FILE)
    return dict(read_file(path), **env) if path else env


def load(environ: Optional[Mapping[str, str]] = None) -> SpokeSettings:
    """Every setting, checked.

    Raises:
        SettingsError: naming the first bad variable (and the settings file, when the value came from it).
    """
    given = os.environ if environ is None else environ
    env = environment(given)
    try:
        return _load(env)
    except SettingsError as err:
        name = re.match(r"[A-Z0-9_]+", str(err))
        if name and name.group(0) not in given and name.group(0) in env:
            raise SettingsError("%s (set in %s=%s)" % (err, CONFIG_FILE, env[CONFIG_FILE])) from None
        raise


def _load(env: Mapping[str, str]) -> SpokeSettings:
    cluster = _required_id(env, "OVIM_CLUSTER_ID")
    provider_type = _choice(env, "OVIM_PROVIDER_TYPE", "kubevirt", PROVIDER_TYPES)
    client_cert, client_key = _file(env, "OVIM_HUB_CLIENT_CERT"), _file(env, "OVIM_HUB_CLIENT_KEY")
    if bool(client_cert) != bool(client_key):
        given, missing = ("OVIM_HUB_CLIENT_CERT", "OVIM_HUB_CLIENT_KEY")[::1 if client_cert else -1]
        raise SettingsError("%s is set without %s: a client certificate needs its key" % (given, missing))
    address, port = _listen(env)
    endpoint = _endpoint(env)
    protocol = _text(env, "OVIM_HUB_PROTOCOL")
    if protocol and protocol.lower() != endpoint.partition(":")[0]:
        raise SettingsError("OVIM_HUB_PROTOCOL=%s disagrees with OVIM_HUB_ENDPOINT's scheme; the endpoint's scheme "
                            "decides, so remove OVIM_HUB_PROTOCOL" % protocol[:20])
    return SpokeSettings(
        agent_id=_required_id(env, "OVIM_AGENT_ID"),
        cluster_id=cluster,
        zone_id=_required_id(env, "OVIM_ZONE_ID", cluster),
        hub_endpoint=endpoint,
        hub_token=_text(env, "OVIM_HUB_TOKEN"),
        tls_insecure=_flag(env, "OVIM_HUB_TLS_INSECURE", False),
        ca_path=_file(env, "OVIM_HUB_CA_PATH"),
        client_cert=client_cert,
        client_key=client_key,
        log_level=_choice(env, "OVIM_LOG_LEVEL", "info", LOG_LEVELS),
        metrics_enabled=_flag(env, "OVIM_METRICS_ENABLED", True),
        health_check_interval=seconds(env, "OVIM_HEALTH_CHECK_INTERVAL", 30.0),
        report_interval=seconds(env, "OVIM_REPORT_INTERVAL", 30.0),
        poll_interval=seconds(env, "OVIM_POLL_INTERVAL", 5.0),
        api_address=address,
        api_port=port,
        callback_url=_callback(env, address, port),
        push_auth=_choice(env, "OVIM_PUSH_AUTH", "token", ("token", "none")),
        provider_type=provider_type,
        provider=_provider(env, provider_type),
        default_namespace=_required_id(env, "OVIM_DEFAULT_NAMESPACE", "default"),
        templates=load_catalogue(env),
        workers=_whole(env, "OVIM_WORKERS", 4, 1, 64),
        results_kept=_whole(env, "OVIM_RESULTS_KEPT", 1000, 1, 100000),
        shutdown_grace=seconds(env, "OVIM_SHUTDOWN_GRACE", 30.0),
        operation_timeout=seconds(env, "OVIM_OPERATION_TIMEOUT", 600.0),
        journal_dir=_journal(env),
    )
