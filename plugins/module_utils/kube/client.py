# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes access: the connection from a kubeconfig (or a host and token), server-side apply, get, list,
delete and waits, with API errors mapped onto the collection's taxonomy.

The ``kubernetes`` package resolves the connection (kubeconfig contexts, exec plugins, in-cluster service
accounts); requests go straight to the REST paths in :mod:`.resources`, so no discovery calls are made.
"""

from __future__ import annotations

import builtins
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, TypeVar, cast
from urllib.parse import urlencode

from .. import errors
from ..providers.base import ProviderConfig
from ..providers.connection import KUBERNETES, read
from ..resilience import Deadline, poll, retry
from .list_stream import ListBodyError, read_list
from .resources import KINDS, Kind, kind_of

try:
    import urllib3
    URLLIB3_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the environment
    URLLIB3_ERROR = err

T = TypeVar("T")

FIELD_MANAGER = "virtrigaud.core"
LIST_CHUNK = 256 * 1024
"""Bytes of a list answer read at a time."""
LIST_READ_SECONDS = 90.0
"""How long a list answer may keep us waiting: past the API server's own 60 s limit on a request, so that a
server too busy to build a large list answers with its retryable timeout before we give up on it."""
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
# Fields the server owns; comparing objects without them tells whether an apply changed anything.
_SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")


@dataclass(frozen=True)
class KubeConfig:
    kubeconfig: Optional[str] = None
    context: Optional[str] = None
    host: Optional[str] = None
    api_key: Optional[str] = None
    ca_cert: Optional[str] = None
    validate_certs: bool = True

    @classmethod
    def from_params(cls, params: dict[str, Any], environ: Optional[dict[str, Any]] = None) -> "KubeConfig":
        """From the options of argspec.kube_spec(), then the ``K8S_AUTH_*`` variables: the Kubernetes table."""
        values = read(KUBERNETES, params, os.environ if environ is None else environ)
        return cls(kubeconfig=values.get("kubeconfig"), context=values.get("context"), host=values.get("uri"),
                   api_key=values.get("password"), ca_cert=values.get("ca_cert"),
                   validate_certs=values.get("validate_certs", True) is not False)

    @classmethod
    def from_provider(cls, config: ProviderConfig) -> "KubeConfig":
        """From a provider connection resolved with the same table (the kubevirt backend's)."""
        options = config.options
        return cls(kubeconfig=options.get("kubeconfig"), context=options.get("context"), host=config.uri,
                   api_key=config.password, ca_cert=options.get("ca_cert"), validate_certs=config.validate_certs)


@dataclass
class Change:
    """One object's converge: the object before and after (None when absent), and whether it changed."""

    kind: str
    name: str
    namespace: Optional[str]
    before: Optional[dict[str, Any]]
    after: Optional[dict[str, Any]]

    @property
    def changed(self) -> bool:
        return comparable(self.before) != comparable(self.after)


def comparable(obj: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The object without the metadata the server maintains, and without status."""
    if obj is None:
        return None
    metadata = {key: value for key, value in obj.get("metadata", {}).items() if key not in _SERVER_METADATA}
    rest = {key: value for key, value in obj.items() if key not in ("metadata", "status")}
    return dict(rest, metadata=metadata)


def _error(status: int, body: bytes, what: str) -> errors.VirtrigaudError:
    try:
        message = json.loads(body.decode("utf-8")).get("message") or ""
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace")[:300]
    text = "%s: %s" % (what, message or "HTTP %s" % status)
    if status == 404:
        return errors.NotFoundError(text)
    if status == 409:
        return errors.ConflictError(text)
    if status in (400, 422):
        return errors.SpecError("the Kubernetes API server rejected %s" % text)
    if status == 401:
        return errors.AuthenticationError("the Kubernetes API server did not accept the credentials (%s)" % text)
    if status == 403:
        return errors.PermissionDeniedError(text)
    if status == 429 or status >= 500:
        return errors.UnavailableError(text)
    return errors.ProviderError(text)


def _kubernetes() -> tuple[Any, Any]:
    """The kubernetes package's client and config modules, imported at the first connection: every module imports
    this file, and importing them cost a module run on any other backend 0.2-0.6 s on this machine kind."""
    try:
        from kubernetes import client as kube_client  # pylint: disable=import-outside-toplevel
        from kubernetes import config as kube_config  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        raise errors.MissingDependency("kubernetes", "for Kubernetes resources", err) from None
    if URLLIB3_ERROR is not None:  # pragma: no cover - kubernetes requires urllib3
        raise errors.MissingDependency("urllib3", "for Kubernetes resources", URLLIB3_ERROR)
    return kube_client, kube_config


def _check_context(config: KubeConfig) -> Optional[str]:
    """The context's namespace.  A context that the kubeconfig lacks is the user's mistake: name it, and the
    contexts there are."""
    contexts, active = _kubernetes()[1].list_kube_config_contexts(config_file=config.kubeconfig)
    if not config.context:
        return ((active or {}).get("context") or {}).get("namespace")
    names = sorted(context["name"] for context in contexts or ())
    if config.context not in names:
        raise errors.SpecError("the kubeconfig has no context '%s'; it has: %s" % (config.context, ", ".join(names)),
                               option="context")
    chosen = next(context for context in contexts if context["name"] == config.context)
    return (chosen.get("context") or {}).get("namespace")


def _pod_namespace() -> Optional[str]:
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


ErrorMap = Callable[[int, bytes, str], errors.VirtrigaudError]


class Kube:
    """One connection to a Kubernetes API server.

    ``error_map`` turns a failed answer (status, body, what was asked) into the collection's error; a backend
    on top of Kubernetes passes its own, which knows its resources.
    """

    def __init__(self, config: KubeConfig, timeout: float = 30.0, error_map: Optional[ErrorMap] = None) -> None:
        _kubernetes()
        self.error_map: ErrorMap = error_map or _error
        # The namespace kubectl would use: the kubeconfig context's, the pod's in a cluster, else default.
        self.default_namespace = "default"
        settings = self._settings(config)
        self.base = settings.host.rstrip("/")
        self._settings_object = settings
        self.timeout = timeout
        self._pool = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED" if settings.verify_ssl else "CERT_NONE",
            ca_certs=settings.ssl_ca_cert if settings.verify_ssl else None,
            cert_file=settings.cert_file,
            key_file=settings.key_file,
            retries=False,
        )

    def _settings(self, config: KubeConfig) -> Any:
        kube_client, kube_config = _kubernetes()
        settings = kube_client.Configuration()
        try:
            if config.host:
                settings.host = config.host
                if config.api_key:
                    settings.api_key = {"authorization": "Bearer " + config.api_key}
            elif (config.kubeconfig or os.path.exists(os.path.expanduser("~/.kube/config"))
                  or os.environ.get("KUBECONFIG")):
                self.default_namespace = _check_context(config) or self.default_namespace
                kube_config.load_kube_config(config_file=config.kubeconfig, context=config.context,
                                             client_configuration=settings, persist_config=False)
            else:
                kube_config.load_incluster_config(client_configuration=settings)
                self.default_namespace = _pod_namespace() or self.default_namespace
        except errors.SpecError:
            raise
        except Exception as err:  # the loaders raise ConfigException, IOError or YAML errors
            raise errors.SpecError("cannot load the Kubernetes connection: %s" % err, option="kubeconfig") from None
        if config.ca_cert and not os.access(config.ca_cert, os.R_OK):
            raise errors.SpecError("%s is not a readable file" % config.ca_cert, option="ca_cert")
        if config.ca_cert:
            settings.ssl_ca_cert = config.ca_cert
        if not config.validate_certs:
            settings.verify_ssl = False
        return settings

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        for setting in self._settings_object.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        return headers

    def request(self, method: str, path: str, body: Any = None, query: Optional[dict[str, Any]] = None,
                content_type: str = "application/json", what: str = "") -> dict[str, Any]:
        """One call; the server's "try again" (429, 5xx) is retried, as every such call is safe to repeat."""
        return _retried(lambda: self._request(method, path, body, query, content_type, what))

    def _request(self, method: str, path: str, body: Any, query: Optional[dict[str, Any]], content_type: str,
                 what: str) -> dict[str, Any]:
        response = self._send(method, path, body, query, content_type, what, preload=True)
        # json reads the bytes as they came: no decoded copy of a list of thousands.
        return json.loads(response.data) if response.data else {}

    def _send(self, method: str, path: str, body: Any, query: Optional[dict[str, Any]], content_type: str,
              what: str, preload: bool, read_timeout: Optional[float] = None) -> Any:
        """The answer to one call, its body read already when ``preload``; a failed answer raises mapped."""
        url = self.base + path
        fields = {key: value for key, value in (query or {}).items() if value is not None}
        if fields:
            url += "?" + urlencode(fields)
        try:
            response = self._pool.request(method, url, body=None if body is None else json.dumps(body),
                                          headers=self._headers(content_type),
                                          timeout=urllib3.Timeout(connect=self.timeout,
                                                                  read=read_timeout or self.timeout),
                                          preload_content=preload)
        except urllib3.exceptions.HTTPError as err:
            raise _unreachable("cannot reach the Kubernetes API server at %s: %s" % (self.base, err)) from None
        if response.status >= 300:
            raise self.error_map(response.status, response.data, what or "%s %s" % (method, path))
        return response

    def raw_get(self, path: str, timeout: Optional[float] = None) -> tuple[int, bytes]:
        """One GET of a path whose answer may be other than JSON (a service proxy's): its status and body as they
        came, whatever the status."""
        try:
            response = self._pool.request("GET", self.base + path, headers=self._headers("application/json"),
                                          timeout=self.timeout if timeout is None else timeout)
        except urllib3.exceptions.HTTPError as err:
            raise _unreachable("cannot reach the Kubernetes API server at %s: %s" % (self.base, err)) from None
        return response.status, response.data

    def get(self, kind: str, name: str, namespace: Optional[str] = None) -> Optional[dict[str, Any]]:
        try:
            return self.request("GET", KINDS[kind].path(namespace, name))
        except errors.NotFoundError:
            return None

    def list(self, kind: str, namespace: Optional[str] = None,
             label_selector: Optional[str] = None) -> list[dict[str, Any]]:
        return self.list_items(KINDS[kind].path(namespace), label_selector)

    def list_items(self, path: str, label_selector: Optional[str] = None, what: str = "",
                   kept: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None) -> builtins.list[dict[str, Any]]:
        """Every item of a list path, from one answer read as it arrives (:mod:`.list_stream`); ``kept`` gives the
        part of an item to keep, taken as soon as the item is read.

        One answer, not pages: the API server serves a whole list from its cache, where each page with a
        ``limit`` is read from etcd; for 10,000 VMIs, 0.8 CPU-s of the server's against 5-6.  Each item comes
        without its ``metadata.managedFields``, which no caller reads and which make up half of a list's bytes.
        """
        what = what or "list " + path
        response = _retried(lambda: self._send("GET", path, None, {"labelSelector": label_selector},
                                               "application/json", what, preload=False,
                                               read_timeout=LIST_READ_SECONDS))
        items: builtins.list[dict[str, Any]] = []
        try:
            for item in read_list(response.stream(LIST_CHUNK), {}):
                (item.get("metadata") or {}).pop("managedFields", None)
                items.append(kept(item) if kept else item)
        except urllib3.exceptions.HTTPError as err:
            raise _unreachable("the Kubernetes API server at %s broke off its answer to %s: %s"
                               % (self.base, what, err)) from None
        except ListBodyError as err:
            raise errors.ProviderError("the Kubernetes API server's answer to %s is not a list: %s"
                                       % (what, err)) from None
        finally:
            response.release_conn()
        return items

    def apply(self, obj: dict[str, Any], dry_run: bool = False, subresource: str = "") -> dict[str, Any]:
        """Server-side apply under the collection's field manager; ``dry_run`` asks the server what it would store."""
        kind = kind_of(obj)
        metadata = obj["metadata"]
        return self.request(
            "PATCH", kind.path(metadata.get("namespace"), metadata["name"], subresource), body=obj,
            query={"fieldManager": FIELD_MANAGER, "force": "true", "dryRun": "All" if dry_run else None},
            content_type="application/apply-patch+yaml", what=_label(kind, metadata),
        )

    def delete(self, kind: str, name: str, namespace: Optional[str] = None, dry_run: bool = False) -> bool:
        """Delete the object; False when it was already gone."""
        try:
            query = {"dryRun": "All" if dry_run else None, "propagationPolicy": "Background"}
            self.request("DELETE", KINDS[kind].path(namespace, name), query=query)
        except errors.NotFoundError:
            return False
        return True

    def converge(self, objects: Iterable[dict[str, Any]], dry_run: bool = False) -> builtins.list[Change]:
        """Apply each object in order and record what it was before and what the server keeps."""
        changes = []
        for obj in objects:
            metadata = obj["metadata"]
            before = self.get(obj["kind"], metadata["name"], metadata.get("namespace"))
            after = self.apply(obj, dry_run=dry_run)
            changes.append(Change(obj["kind"], metadata["name"], metadata.get("namespace"), before, after))
        return changes

    def remove(self, objects: Iterable[tuple[str, str, Optional[str]]], dry_run: bool = False) -> builtins.list[Change]:
        """Delete each (kind, name, namespace) that exists."""
        changes = []
        for kind, name, namespace in objects:
            before = self.get(kind, name, namespace)
            if before is not None:
                self.delete(kind, name, namespace, dry_run=dry_run)
            changes.append(Change(kind, name, namespace, before, None))
        return changes

    def wait_for(self, kind: str, name: str, namespace: Optional[str],
                 ready: Callable[[Optional[dict[str, Any]]], bool], deadline: Deadline,
                 what: str) -> Optional[dict[str, Any]]:
        """Poll the object until ``ready`` accepts it (it may be None, for a deletion)."""
        def probe() -> Optional[tuple[Optional[dict[str, Any]]]]:
            current = self.get(kind, name, namespace)
            return (current,) if ready(current) else None
        return poll(probe, deadline, what, interval=0.5, max_interval=2.0)[0]

    def close(self) -> None:
        self._pool.clear()


def _retried(call: Callable[[], T]) -> T:
    """The call, again while the server says "try again" (429, 5xx): every call made here is safe to repeat."""
    return retry(call, attempts=6, only=(errors.UnavailableError,))


def _unreachable(message: str) -> errors.UnavailableError:
    """Unavailable, but not worth retrying here: nothing answered at all."""
    error = errors.UnavailableError(message)
    error.retryable = False
    return error


def _label(kind: Kind, metadata: dict[str, Any]) -> str:
    namespace = metadata.get("namespace")
    return "%s %s" % (kind.kind, "%s/%s" % (namespace, metadata["name"]) if namespace else metadata["name"])


def condition(obj: Optional[dict[str, Any]], kind: str) -> Optional[dict[str, Any]]:
    """The status condition of this type, if the object reports one."""
    for entry in ((obj or {}).get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return cast("dict[str, Any]", entry)
    return None


def dropped_fields(sent: Any, stored: Any, path: str) -> list[str]:
    """Fields of ``sent`` that the server did not keep: CRDs prune fields they do not know, without an error."""
    if isinstance(sent, Mapping):
        if not isinstance(stored, Mapping):
            return [path]
        return [found for key, value in sent.items()
                for found in dropped_fields(value, stored.get(key), "%s.%s" % (path, key))]
    if isinstance(sent, list) and isinstance(stored, list) and len(sent) == len(stored):
        return [found for index, (one, other) in enumerate(zip(sent, stored))
                for found in dropped_fields(one, other, "%s[%d]" % (path, index))]
    return [] if stored is not None or sent is None else [path]
