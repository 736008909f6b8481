# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One pyVmomi session per provider, its bulk reads and its task waits."""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit

from ... import errors
from ...resilience import Deadline
from ..base import ProviderConfig
from .translate import translate

try:
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim, vmodl

    PYVMOMI_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the host
    vim = vmodl = None  # type: ignore[assignment]  # unused without pyVmomi: connect reports it
    PYVMOMI_ERROR = err

DEFAULT_PORT = 443
PAGE_SIZE = 1000


def endpoint(config: ProviderConfig) -> tuple[str, int]:
    """(host, port) from ``uri``: a host name, or a URL such as https://vc.example:8443/sdk."""
    uri = config.uri or ""
    if not uri:
        raise errors.SpecError("a vCenter or ESXi host name is required", option="hostname")
    if "://" in uri:
        parts = urlsplit(uri)
        return parts.hostname or "", parts.port or int(config.options.get("port") or DEFAULT_PORT)
    return uri, int(config.options.get("port") or DEFAULT_PORT)


def tls_context(validate: bool) -> ssl.SSLContext:
    if validate:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect(config: ProviderConfig) -> Any:
    """A logged-in ServiceInstance; errors name the endpoint, never the password."""
    if PYVMOMI_ERROR is not None:
        raise errors.MissingDependency("pyvmomi", "for the vSphere provider", PYVMOMI_ERROR)
    host, port = endpoint(config)
    where = "%s:%d" % (host, port)
    try:
        return SmartConnect(host=host, port=port, user=config.username or "", pwd=config.password or "",
                            sslContext=tls_context(config.validate_certs), connectionPoolTimeout=30)
    except ssl.SSLCertVerificationError as err:
        raise errors.PreconditionError(
            "the TLS certificate of %s is not trusted (%s); install its CA, or set validate_certs=false"
            % (where, err.verify_message), option="validate_certs") from None
    except vim.fault.InvalidLogin:
        raise errors.AuthenticationError("%s refused the user name or password" % where, option="password") from None
    except (OSError, socket.timeout) as err:
        raise errors.UnavailableError("cannot reach vSphere at %s: %s" % (where, err.strerror or err)) from None


def disconnect(service: Any) -> None:
    try:
        Disconnect(service)
    except Exception:  # pylint: disable=broad-exception-caught  # logging out must never fail a run
        pass


def wait_for(task: Any, deadline: Deadline, operation: str, content: Any = None) -> Any:
    """Block until a vSphere task ends; return its result or raise its fault.  With ``content``, only the task's
    state and fault are read, through the property collector: a FileManager or VirtualDiskManager task names the
    manager as its entity, which pyVmomi cannot read as ``task.info`` (vcsim); such tasks have no result."""
    while True:
        info = _task_state(content, task) if content is not None else task.info
        if info.state == vim.TaskInfo.State.success:
            return info.result
        if info.state == vim.TaskInfo.State.error:
            raise translate(info.error, operation)
        if deadline.expired:
            raise errors.DeadlineExceededError(
                "task %s of %s did not finish in time" % (str(task).strip("'"), operation))
        time.sleep(deadline.cap(0.2))


def _task_state(content: Any, task: Any) -> Any:
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=task)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Task, pathSet=["info.state", "info.error"])])
    found = content.propertyCollector.RetrieveContents([spec])
    props = {prop.name: prop.val for prop in found[0].propSet} if found else {}
    return vim.TaskInfo(state=props.get("info.state"), error=props.get("info.error"))


def collect(content: Any, kind: Any, properties: tuple[str, ...],
            root: Any = None) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(managed object, {property: value}) for every object of ``kind`` below ``root``, in pages.

    ``content`` is the ServiceContent of a logged-in session.
    """
    view = content.viewManager.CreateContainerView(root or content.rootFolder, [kind], True)
    try:
        traversal = vmodl.query.PropertyCollector.TraversalSpec(
            name="view", path="view", skip=False, type=vim.view.ContainerView)
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=kind, pathSet=list(properties))],
        )
        collector = content.propertyCollector
        result = collector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions(
            maxObjects=PAGE_SIZE))
        while result is not None:
            for item in result.objects:
                yield item.obj, {prop.name: prop.val for prop in item.propSet}
            result = collector.ContinueRetrievePropertiesEx(result.token) if result.token else None
    finally:
        view.Destroy()
