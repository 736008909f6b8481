# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One gRPC channel to a provider runtime: TLS or mTLS, a deadline per RPC, retries and a circuit breaker.

Deadlines follow upstream's manager (30 s for Validate and Describe, 5 min for
Create, ...).  Only Unavailable and DeadlineExceeded are retried; a status the
runtime sends comes back as the collection's error, with the option it names.
Every call carries the channel's ``x-correlation-id``, which the runtime logs
on each line of that call and which a failure reports in its details.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ... import errors
from ...resilience import CircuitBreaker, backoff, retry
from ..base import ProviderConfig
from .translate import status_error
from .wire import PROTOBUF_ERROR, Wire, wire

try:
    import grpc

    GRPC_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the host
    grpc = None
    GRPC_ERROR = err

MINUTE = 60.0
DEADLINES = {
    "Validate": 30.0, "Describe": 30.0, "GetCapabilities": 30.0, "TaskStatus": 10.0, "Create": 5 * MINUTE,
    "Reconfigure": 5 * MINUTE, "SnapshotCreate": 5 * MINUTE, "SnapshotRevert": 5 * MINUTE, "Clone": 5 * MINUTE,
    "ImagePrepare": 5 * MINUTE, "Delete": 2 * MINUTE, "Power": 2 * MINUTE, "SnapshotDelete": 2 * MINUTE,
    "ListVMs": 2 * MINUTE, "GetDiskInfo": 2 * MINUTE, "ExportDisk": 30 * MINUTE, "ImportDisk": 30 * MINUTE,
    "HardwareUpgrade": 5 * MINUTE,
}
BREAKER_COUNTS = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN")
_BREAKERS: dict[str, CircuitBreaker] = {}


def target(config: ProviderConfig) -> str:
    endpoint = (config.uri or "").strip()
    if not endpoint:
        raise errors.SpecError("the runtime's host:port is required", option="endpoint")
    endpoint = endpoint.split("://", 1)[-1].strip("/")
    if ":" not in endpoint.rsplit("]", 1)[-1]:
        raise errors.SpecError("'%s' has no port; give host:port such as runtime.example.com:9443" % endpoint,
                               option="endpoint")
    return endpoint


def _read(path: Optional[str], option: str) -> Optional[bytes]:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise errors.SpecError("cannot read %s: %s" % (path, err.strerror), option=option) from None


class Channel:
    """Calls on one runtime; every failure becomes a :class:`errors.VirtrigaudError`."""

    def __init__(self, config: ProviderConfig, correlation_id: str) -> None:
        if PROTOBUF_ERROR is not None:
            raise errors.MissingDependency("protobuf", "for the remote provider", PROTOBUF_ERROR)
        if GRPC_ERROR is not None:
            raise errors.MissingDependency("grpcio", "for the remote provider", GRPC_ERROR)
        self.config = config
        self.correlation_id = correlation_id
        self.target = target(config)
        self.deadlines = dict(DEADLINES, **{k: float(v) for k, v in (config.options.get("rpc_timeouts") or {}).items()})
        self.breaker = _BREAKERS.setdefault(self.target, CircuitBreaker(self.target))
        self._channel = self._open()
        self._stubs: dict[str, Any] = {}

    def _open(self) -> Any:
        options = self.config.options
        if options.get("insecure"):
            return grpc.insecure_channel(self.target)
        root = _read(options.get("ca_path"), "ca_path")
        cert = _read(options.get("client_cert"), "client_cert")
        key = _read(options.get("client_key"), "client_key")
        if bool(cert) != bool(key):
            raise errors.SpecError("client_cert and client_key go together", option="client_key" if cert else
                                   "client_cert")
        credentials = grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=cert)
        channel_options = []
        if options.get("tls_server_name"):
            channel_options.append(("grpc.ssl_target_name_override", options["tls_server_name"]))
        return grpc.secure_channel(self.target, credentials, options=channel_options)

    def close(self) -> None:
        self._channel.close()

    def _stub(self, method: str) -> Any:
        if method not in self._stubs:
            request, response = wire().methods[method]
            self._stubs[method] = self._channel.unary_unary(
                wire().path(method), request_serializer=request.SerializeToString,
                response_deserializer=response.FromString)
        return self._stubs[method]

    def call(self, method: str, metadata: Optional[Mapping[str, str]] = None, **fields: Any) -> Any:
        """One RPC, retried on Unavailable and DeadlineExceeded with jittered backoff."""
        return self.call_with_trailers(method, metadata, **fields)[0]

    def call_unlisted(self, method: str) -> str:
        """The gRPC code of ``method``, which provider.v1 does not define, called once with an empty message."""
        stub = self._channel.unary_unary(Wire.path(method), request_serializer=bytes,
                                         response_deserializer=bytes)
        try:
            stub(b"", timeout=self.deadlines.get(method, MINUTE),
                 metadata=(("x-correlation-id", self.correlation_id),))
        except grpc.RpcError as err:
            return err.code().name if err.code() else "UNKNOWN"
        return "OK"

    def call_with_trailers(self, method: str, metadata: Optional[Mapping[str, str]] = None,
                           **fields: Any) -> tuple[Any, dict[str, str]]:
        """The response and the trailing metadata of one RPC, retried as :meth:`call` does."""
        request = wire().methods[method][0](**fields)
        return retry(lambda: self._once(method, request, metadata), attempts=3,
                     delays=backoff(base=0.5, cap=5.0, jitter=0.2))

    def _once(self, method: str, request: Any, metadata: Optional[Mapping[str, str]]) -> tuple[Any, dict[str, str]]:
        self.breaker.check()
        try:
            response, call = self._stub(method).with_call(
                request, timeout=self.deadlines.get(method, MINUTE),
                metadata=(("x-correlation-id", self.correlation_id), *(metadata or {}).items()))
        except grpc.RpcError as err:
            code = err.code().name if err.code() else "UNKNOWN"
            self.breaker.record(code not in BREAKER_COUNTS)
            raise self._translate(method, code, err) from None
        self.breaker.record(True)
        return response, dict(call.trailing_metadata() or ())

    def _translate(self, method: str, code: str, err: Any) -> errors.VirtrigaudError:
        return status_error(code, err.details(), dict(err.trailing_metadata() or ()), method=method,
                            target=self.target, correlation_id=self.correlation_id)
