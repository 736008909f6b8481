# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One proxmoxer session per provider: connection settings, calls with PVE's errors translated, task waits."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Optional, cast
from urllib.parse import urlsplit

from ... import errors
from ...resilience import Deadline, backoff, poll, retry
from ..base import ProviderConfig
from .translate import bool_params, translate

try:
    import requests
    from proxmoxer import AuthenticationError as ProxmoxerAuthError
    from proxmoxer import ProxmoxAPI, ResourceException
    from requests.adapters import HTTPAdapter

    PROXMOXER_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the host
    ProxmoxAPI = ResourceException = ProxmoxerAuthError = requests = None
    HTTPAdapter = object
    PROXMOXER_ERROR = err

DEFAULT_PORT = 8006
REQUEST_SECONDS = 30


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    token_name: Optional[str]

    @property
    def label(self) -> str:
        return "%s:%d" % (self.host, self.port)


def endpoint(config: ProviderConfig) -> Endpoint:
    """Host, port and who logs in, from ``uri`` (a host or https://host:port) and the api_* options."""
    options = config.options
    uri = config.uri or ""
    if not uri:
        raise errors.SpecError("the Proxmox VE host is required", option="api_host")
    host, port = uri, int(options.get("port") or DEFAULT_PORT)
    if "://" in uri:
        parts = urlsplit(uri)
        host, port = parts.hostname or "", parts.port or port
    user = config.username or ""
    token = options.get("token_id")
    if token and "!" in token:
        user, token = token.split("!", 1)
    if not user:
        raise errors.SpecError("the Proxmox VE user (such as root@pam) is required", option="api_user")
    if "@" not in user:
        raise errors.SpecError("'%s' is not a user@realm such as root@pam" % user, option="api_user")
    if token and not options.get("token_secret"):
        raise errors.SpecError("api_token_id '%s' needs its secret" % token, option="api_token_secret")
    if not token and not config.password:
        raise errors.SpecError("give api_password, or api_token_id with api_token_secret", option="api_password")
    return Endpoint(host, port, user, token)


class Session:
    """Calls on one PVE endpoint; every failure becomes a :class:`errors.VirtrigaudError`."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.endpoint = endpoint(config)
        self._api: Any = None

    @property
    def api(self) -> Any:
        if PROXMOXER_ERROR is not None:
            raise errors.MissingDependency("proxmoxer", "for the Proxmox VE provider", PROXMOXER_ERROR)
        if self._api is None:
            where = self.endpoint
            kwargs: dict[str, Any] = {"port": where.port, "user": where.user, "verify_ssl": self.config.validate_certs,
                                      "timeout": REQUEST_SECONDS}
            if where.token_name:
                kwargs.update(token_name=where.token_name, token_value=self.config.options.get("token_secret"))
            else:
                kwargs["password"] = self.config.password
            self._api = self._guard(lambda: ProxmoxAPI(where.host, **kwargs), "login")
            if not self.config.validate_certs:
                _skip_ca_loading(self._api)
        return self._api

    def _guard(self, call: Any, operation: str) -> Any:
        where = self.endpoint.label
        try:
            return call()
        except ResourceException as err:
            failure = translate(err.status_code, err.content or err.status_message, err.errors, operation)
            if err.status_code == 401:
                failure.option = "api_token_secret" if self.endpoint.token_name else "api_password"
            raise failure from None
        except ProxmoxerAuthError:
            raise errors.AuthenticationError("%s refused the user name or password" % where,
                                             option="api_password") from None
        except requests.exceptions.SSLError as err:
            raise errors.PreconditionError(
                "the TLS certificate of %s is not trusted (%s); install its CA, or set validate_certs=false"
                % (where, _reason(err)), option="validate_certs") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
            raise errors.UnavailableError("cannot reach Proxmox VE at %s: %s" % (where, _reason(err))) from None

    def get(self, path: str, **params: Any) -> Any:
        """GETs are safe to repeat: a 5xx from the proxy or a node hiccup is retried with backoff."""
        return retry(lambda: self._guard(lambda: self.api(path).get(**bool_params(params)), "GET " + path),
                     attempts=4, delays=backoff(base=0.3, cap=3.0))

    def post(self, path: str, **params: Any) -> Any:
        return self._guard(lambda: self.api(path).post(**bool_params(params)), "POST " + path)

    def put(self, path: str, **params: Any) -> Any:
        return self._guard(lambda: self.api(path).put(**bool_params(params)), "PUT " + path)

    def delete(self, path: str, **params: Any) -> Any:
        return self._guard(lambda: self.api(path).delete(**bool_params(params)), "DELETE " + path)

    def task(self, upid: str) -> dict[str, Any]:
        node = upid.split(":")[1]
        return cast("dict[str, Any]", self.get("nodes/%s/tasks/%s/status" % (node, upid)))

    def wait(self, upid: Optional[str], deadline: Deadline, what: str) -> None:
        """Until the task stops; an error exit status is raised with PVE's own text."""
        if not upid:
            return

        def stopped() -> Optional[bool]:
            status = self.task(upid)
            if status.get("status") != "stopped":
                return None
            failure = task_failure(status)
            if failure:
                raise translate(500, failure, operation=what)
            return True

        poll(stopped, deadline, "%s (task %s)" % (what, upid), interval=0.1, max_interval=1.0)


class _FixedContextAdapter(HTTPAdapter):  # type: ignore[misc]
    """Connections made with one prepared TLS context, instead of a new one per connection."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


def _skip_ca_loading(api: Any) -> None:
    """With validate_certs=false, let the API session's connections load no CA bundle.

    Without a context of its own, urllib3 builds one per connection and reads the system CA store into it even
    when it will verify nothing: 0.06-0.2 s each on this machine kind, a tenth of an inventory of 2,000 VMs.
    proxmoxer keeps its requests session in ``_store``; where a release keeps it elsewhere, nothing changes.
    """
    session = getattr(api, "_store", {}).get("session")
    if session is None:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    session.mount("https://", _FixedContextAdapter(context))


def task_failure(status: dict[str, Any]) -> Optional[str]:
    """PVE's rule: a stopped task failed unless its exit status is OK or WARNINGS: n."""
    exit_status = str(status.get("exitstatus", ""))
    if exit_status == "OK" or exit_status.startswith("WARNINGS:"):
        return None
    return exit_status or "unexpected status"


def _reason(err: BaseException) -> str:
    text = str(err)
    return text.rsplit(": ", 1)[-1].rstrip("')\"") if ": " in text else text
