# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ``Provider`` resource and its Secrets from virtrigaud_provider's options (pure: no I/O).

Every value is checked against the upstream CRD's rules first, so bad input fails with the option's name
instead of the API server's 422, and no field the schema rejects is ever sent.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from ..errors import SpecError
from ..providers.base import ProviderConfig
from ..providers.connection import config_from, settings_of
from .durations import seconds
from .manifests import read_one
from .resources import TYPE_ANNOTATION, VIRTRIGAUD_API
from .runtime import check_health_check_served, check_served, default_image

UPSTREAM_TYPES = ("vsphere", "libvirt", "proxmox", "firecracker", "qemu")
# Types this collection's runtime serves that upstream's Provider CRD enum lacks (the API server answers 422
# "Unsupported value" for them).  Such a Provider carries an enum type the manager treats alike (KubeVirt
# images and networks arrive as libvirt paths and network names, which the kubevirt backend reads as PVC or
# containerDisk images and pod or multus networks), its real type in an annotation, and PROVIDER_TYPE in
# runtime.env, which upstream's controller appends after its own so that the pod sees the real one.
CARRIED_TYPES = {"kubevirt": "libvirt"}
PROVIDER_TYPES = UPSTREAM_TYPES + tuple(CARRIED_TYPES)
# The CRD's ranges of spec.rateLimit.
RATE_LIMITS = {"qps": (1, 1000), "burst": (1, 2000)}
MAX_PULL_SECRETS = 10

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENDPOINT = re.compile(r"^((https?://[a-zA-Z0-9.-]+(:[0-9]+)?(/.*)?|(tcp|grpc)://[a-zA-Z0-9.-]+:[0-9]+(/.*)?)"
                       r"|qemu(\+ssh|\+tcp|\+tls)?://([a-zA-Z0-9@.-]+(:[0-9]+)?)?(/.*))$")
_IMAGE = re.compile(r"^[a-zA-Z0-9._/-]+(:[a-zA-Z0-9._-]+)?(@[a-zA-Z0-9]+:[a-fA-F0-9]{64})?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

# The credential files each provider type reads (one Secret key each), as alternatives of required keys.
CREDENTIAL_LAYOUTS: dict[str, dict[str, Any]] = {
    "vsphere": {"required": [("username", "password")], "optional": ()},
    "libvirt": {"required": [()], "optional": ("username", "password", "ssh-privatekey", "known_hosts")},
    "proxmox": {"required": [("token_id", "token_secret"), ("username", "password")],
                "optional": ("ssh_user", "ssh_password", "ssh_privatekey")},
    "firecracker": {"required": [()], "optional": ()},
    "qemu": {"required": [()], "optional": ("username", "password", "ssh-privatekey", "known_hosts")},
    # The pod's service account is the kubevirt runtime's credential.
    "kubevirt": {"required": [()], "optional": ()},
}
_DEFAULT_KEYS = {"datastore": "datastore", "storage_pod": "storagePod", "cluster": "cluster", "folder": "folder",
                 "resource_pool": "resourcePool", "network": "network"}


def check_name(value: Optional[str], option: str, limit: int = 63) -> str:
    if not value or len(value) > limit or not _NAME.fullmatch(value):
        raise SpecError("'%s' is not a valid name: lower-case letters, digits and '-', starting and ending with a "
                        "letter or digit, at most %d characters" % (value, limit), option=option)
    return value


def check_credentials(provider_type: str, keys: set[str], option: str) -> None:
    """The credential keys must form one of the layouts the provider type reads."""
    layout = CREDENTIAL_LAYOUTS[provider_type]
    known = {key for group in layout["required"] for key in group} | set(layout["optional"])
    unknown = sorted(keys - known)
    if unknown:
        raise SpecError("%s provider reads no credential key %s; it reads %s" % (
            provider_type, ", ".join(unknown), ", ".join(sorted(known)) or "none"), option=option)
    if not any(set(group) <= keys for group in layout["required"]):
        wanted = " or ".join(" and ".join(group) for group in layout["required"])
        raise SpecError("the %s provider needs the credential keys %s" % (provider_type, wanted), option=option)


def _port_in_range(endpoint: str) -> bool:
    """An endpoint's explicit port, if any, is a TCP port (the pattern takes any digits)."""
    try:
        port = urlsplit(endpoint).port
    except ValueError:  # urlsplit's own refusal of a port beyond 65535
        return False
    return port is None or port > 0


def env_entries(entries: Optional[list[dict[str, Any]]], option: str) -> list[dict[str, Any]]:
    """Container env entries; a boolean value is refused (YAML 1.1 reads an unquoted On, Off, yes or no as one)."""
    result = []
    for index, entry in enumerate(entries or []):
        where = "%s[%d]" % (option, index)
        name = entry.get("name")
        if not name or not _ENV_NAME.fullmatch(name):
            raise SpecError("'%s' is not a valid variable name" % (name,), option=where + ".name")
        value = entry.get("value")
        if isinstance(value, bool):
            raise SpecError("got the boolean %s: YAML 1.1 reads an unquoted On, Off, yes or no as a boolean; "
                            "quote the value, as in value: \"On\"" % value, option=where + ".value")
        if isinstance(value, (dict, list)):
            raise SpecError("got a %s; give the variable's text, or value_from" % type(value).__name__,
                            option=where + ".value")
        if value is not None and not isinstance(value, str):
            value = str(value)
        item: dict[str, Any] = {"name": name}
        if entry.get("value_from"):
            item["valueFrom"] = entry["value_from"]
        else:
            item["value"] = value or ""
        result.append(item)
    return result


def check_rate_limit(rate_limit: Optional[dict[str, Any]]) -> dict[str, Any]:
    for key, (low, high) in RATE_LIMITS.items():
        value = (rate_limit or {}).get(key)
        if value is not None and not low <= value <= high:
            raise SpecError("%s is outside %d-%d, the Provider schema's range" % (value, low, high),
                            option="rate_limit.%s" % key)
    return _drop_empty(rate_limit or {})


def check_defaults(defaults: Optional[dict[str, Any]]) -> dict[str, Any]:
    """The given defaults under the schema's names; datastore and storage_pod exclude each other."""
    given = {key: value for key, value in (defaults or {}).items() if value}
    for key, value in given.items():
        if len(value) > 255:
            raise SpecError("a default is at most 255 characters", option="defaults.%s" % key)
    if "datastore" in given and "storage_pod" in given:
        raise SpecError("give a datastore or a storage pod, not both: the schema lets the datastore win, so the "
                        "storage pod would go unused", option="defaults.storage_pod")
    return {_DEFAULT_KEYS[key]: value for key, value in given.items()}


def pull_secrets(names: Optional[list[str]], option: str) -> list[dict[str, Any]]:
    """imagePullSecrets references, each a valid Secret name."""
    if len(names or []) > MAX_PULL_SECRETS:
        raise SpecError("at most %d Secrets, as the Provider schema allows" % MAX_PULL_SECRETS, option=option)
    return [{"name": check_name(name, "%s[%d]" % (option, index), 253)} for index, name in enumerate(names or [])]


def _drop_empty(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value not in (None, {}, [], "")}


def credentials_secret_name(params: dict[str, Any]) -> str:
    return params.get("credentials_secret") or "%s-credentials" % params["name"]


def tls_secret_name(params: dict[str, Any]) -> Optional[str]:
    tls = (params.get("runtime") or {}).get("tls") or {}
    if tls.get("enabled") is False:
        return None
    return tls.get("secret_name") or "%s-runtime-tls" % params["name"]


def insecure_skip_verify(params: dict[str, Any]) -> bool:
    if params.get("insecure_skip_verify") is not None:
        return bool(params["insecure_skip_verify"])
    return params.get("validate_certs") is False


def _carry(provider_type: str, env: list[dict[str, Any]], annotations: Optional[dict[str, Any]]
           ) -> tuple[str, list[dict[str, Any]], Optional[dict[str, Any]]]:
    if provider_type not in CARRIED_TYPES:
        return provider_type, env, annotations
    env = [entry for entry in env if entry["name"] != "PROVIDER_TYPE"] + [{"name": "PROVIDER_TYPE",
                                                                           "value": provider_type}]
    return CARRIED_TYPES[provider_type], env, dict(annotations or {}, **{TYPE_ANNOTATION: provider_type})


def options_and_definition(params: dict[str, Any]) -> tuple[dict[str, Any], Optional[dict[str, Any]]]:
    """virtrigaud_provider's options, with what a definition's Provider says of them, and that Provider (None
    without one)."""
    if params["definition"] is None:
        for option in ("type", "uri"):
            if params["state"] == "present" and not params[option]:
                raise SpecError("is required with state=present (or give the Provider as definition)", option=option)
        return params, None
    document = read_one(params["definition"], "Provider")
    metadata, spec = document["metadata"], document["spec"]
    namespace = metadata.get("namespace") or "default"
    return (dict(params, name=metadata["name"], namespace=namespace, type=spec["type"], uri=spec["endpoint"],
                 credentials_secret=spec["credentialSecretRef"]["name"]),
            dict(document, metadata=dict(metadata, namespace=namespace)))


def provider_resource(params: dict[str, Any]) -> dict[str, Any]:
    """The Provider object (checked input → the upstream schema's field names)."""
    # 63, not 253: the name is also a label value on the Secrets written for the Provider.
    name = check_name(params["name"], "name")
    namespace = check_name(params["namespace"], "namespace")
    provider_type, carried_env, annotations = _carry(params["type"], env_entries(
        (params.get("runtime") or {}).get("env"), "runtime.env"), params.get("annotations"))
    endpoint = _checked_endpoint(params.get("uri") or "")
    spec_runtime = _runtime_spec(params, provider_type, carried_env)
    health = _health_check(params.get("health_check") or {})
    spec = _drop_empty({
        "type": provider_type,
        "endpoint": endpoint,
        "credentialSecretRef": {"name": check_name(credentials_secret_name(params), "credentials_secret", 253)},
        "insecureSkipVerify": insecure_skip_verify(params),
        "defaults": check_defaults(params.get("defaults")),
        "rateLimit": check_rate_limit(params.get("rate_limit")),
        "healthCheck": health,
        "runtime": spec_runtime,
    })
    check_served(spec)
    check_health_check_served(spec)
    metadata = _drop_empty({"name": name, "namespace": namespace, "labels": params.get("labels"),
                            "annotations": annotations})
    return {"apiVersion": VIRTRIGAUD_API, "kind": "Provider", "metadata": metadata, "spec": spec}


def _checked_endpoint(endpoint: str) -> str:
    if not _ENDPOINT.fullmatch(endpoint) or not _port_in_range(endpoint):
        raise SpecError("'%s' is not an endpoint the Provider schema accepts: use https://host[:port][/path], "
                        "tcp:// or grpc://host:port, or qemu[+ssh|+tcp|+tls]://[user@host[:port]]/path" % endpoint,
                        option="endpoint")
    return endpoint


def _runtime_spec(params: dict[str, Any], provider_type: str, carried_env: list[dict[str, Any]]) -> dict[str, Any]:
    """The Provider's ``spec.runtime``: the runtime's image, replicas, Service and pod settings."""
    runtime = params.get("runtime") or {}
    image = runtime.get("image") or default_image(provider_type)
    if not _IMAGE.fullmatch(image):
        raise SpecError("'%s' is not an image reference the schema accepts (name[:tag][@digest])" % image,
                        option="runtime.image")
    replicas = runtime.get("replicas", 1)
    if replicas is None or not 1 <= replicas <= 10:
        raise SpecError("%s replicas: the Provider schema allows 1 to 10" % replicas, option="runtime.replicas")
    port = runtime.get("service_port") or 9443
    if not 1024 <= port <= 65535:
        raise SpecError("%s is outside 1024-65535" % port, option="runtime.service_port")
    tls = _runtime_tls(params, runtime.get("tls") or {})
    return _drop_empty({
        "mode": "Remote",
        "image": image,
        "imagePullPolicy": runtime.get("image_pull_policy"),
        "imagePullSecrets": pull_secrets(runtime.get("image_pull_secrets"), "runtime.image_pull_secrets"),
        "replicas": replicas,
        "service": {"port": port, "tls": tls},
        "resources": runtime.get("resources"),
        "nodeSelector": runtime.get("node_selector"),
        "tolerations": runtime.get("tolerations"),
        "affinity": runtime.get("affinity"),
        "securityContext": runtime.get("security_context"),
        "logLevel": runtime.get("log_level"),
        "logFormat": runtime.get("log_format"),
        "env": carried_env,
    })


def _runtime_tls(params: dict[str, Any], tls: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"enabled": tls.get("enabled", True) is not False}
    if block["enabled"]:
        block["secretRef"] = {"name": check_name(tls_secret_name(params), "runtime.tls.secret_name", 253)}
    if tls.get("insecure_skip_verify"):
        block["insecureSkipVerify"] = True
    return block


def _health_check(health: dict[str, Any]) -> dict[str, Any]:
    """The Provider's ``spec.healthCheck``, its times and thresholds checked against the schema."""
    for key in ("interval", "timeout"):
        if health.get(key) is not None and seconds(health[key], "health_check.%s" % key) <= 0:
            raise SpecError("%s is no time at all; the runtime checks the hypervisor every interval, for at most "
                            "timeout" % health[key], option="health_check.%s" % key)
    # The schema's bounds, checked here so that a refusal comes before the Secrets are written.
    for option, value, low, high in (("health_check.failure_threshold", health.get("failure_threshold"), 1, 10),
                                     ("health_check.success_threshold", health.get("success_threshold"), 1, 10)):
        if value is not None and not low <= value <= high:
            raise SpecError("%s is outside %d-%d, the Provider schema's range" % (value, low, high), option=option)
    return _drop_empty({"enabled": health.get("enabled"), "interval": health.get("interval"),
                        "timeout": health.get("timeout"), "failureThreshold": health.get("failure_threshold"),
                        "successThreshold": health.get("success_threshold")})


OWNER_LABEL = "virtrigaud.core/provider"


def secret_object(owner: str, namespace: str, name: str, data: Mapping[str, str], owner_label: str = OWNER_LABEL,
                  secret_type: str = "Opaque") -> dict[str, Any]:
    """A Secret labelled as written by this collection for its owner (state=absent removes exactly those)."""
    encoded = {key: base64.b64encode(value.encode("utf-8")).decode("ascii") for key, value in sorted(data.items())}
    labels = {"app.kubernetes.io/managed-by": "virtrigaud.core", owner_label: owner}
    return {"apiVersion": "v1", "kind": "Secret", "type": secret_type,
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": encoded}


def _secret(params: dict[str, Any], name: str, data: dict[str, str], secret_type: str = "Opaque") -> dict[str, Any]:
    return secret_object(params["name"], params["namespace"], name, data, secret_type=secret_type)


def credentials_secret(params: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The credentials Secret when the task gives the credentials (else an existing secret is referenced)."""
    credentials = params.get("credentials")
    if credentials is None:
        return None
    for key, value in credentials.items():
        if isinstance(value, (dict, list)):
            raise SpecError("the value of key %s is a %s; give its text" % (key, type(value).__name__),
                            option="credentials")
    values = {key: "" if value is None else str(value) for key, value in credentials.items()}
    check_credentials(params["type"], {key for key, value in values.items() if value}, "credentials")
    return _secret(params, credentials_secret_name(params), values)


def tls_secret(params: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The runtime's TLS Secret (tls.crt, tls.key, ca.crt) when the task gives the material."""
    tls = (params.get("runtime") or {}).get("tls") or {}
    material: dict[str, Any] = {"tls.crt": tls.get("certificate"), "tls.key": tls.get("private_key"),
                                "ca.crt": tls.get("ca_certificate")}
    given = {key for key, value in material.items() if value}
    if not given:
        return None
    if tls.get("enabled") is False:
        raise SpecError("TLS material was given while runtime.tls.enabled is false", option="runtime.tls")
    if len(given) != len(material):
        raise SpecError("give certificate, private_key and ca_certificate together (missing: %s)" % ", ".join(
            sorted(set(material) - given)), option="runtime.tls")
    return _secret(params, tls_secret_name(params) or "", material, "kubernetes.io/tls")


def redact_secret(obj: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """A Secret as results and diffs may show it: its keys, never its values."""
    if obj is None:
        return None
    shown = {key: value for key, value in obj.items() if key not in ("data", "stringData")}
    shown["data"] = {key: "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" for key in sorted(obj.get("data") or {})}
    return shown


def provider_connection(provider_type: str, endpoint: Optional[str], credentials: Mapping[str, Optional[str]],
                        validate_certs: bool = True, name: Optional[str] = None,
                        options: Optional[Mapping[str, Any]] = None) -> ProviderConfig:
    """The provider layer's connection from a Provider's endpoint and the credential keys its type reads."""
    values: dict[str, Any] = {"uri": endpoint, "validate_certs": validate_certs}
    for setting in settings_of(provider_type):
        if setting.credential and credentials.get(setting.credential):
            values.setdefault(setting.key, credentials[setting.credential])
    return config_from(provider_type, values, options, name=name)
