# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One libvirt connection per provider: opened on first use, credentials answered from the configuration."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, TypeVar

from ...errors import MissingDependency
from ..base import ProviderConfig
from . import translate as dx

try:
    import libvirt

    LIBVIRT_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the host
    libvirt = None
    LIBVIRT_ERROR = err

__all__ = ["DEFAULT_URI", "LIBVIRT_ERROR", "LibvirtClient", "libvirt"]
DEFAULT_URI = "qemu:///system"
T = TypeVar("T")


class LibvirtClient:
    """The connection to ``config.uri``; libvirt errors go up untranslated, except a failed connect."""

    def __init__(self, config: ProviderConfig) -> None:
        if LIBVIRT_ERROR is not None:
            raise MissingDependency("libvirt-python", "for the libvirt provider", LIBVIRT_ERROR)
        self.config = config
        self.uri = config.uri or DEFAULT_URI
        self._conn: Any = None
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> Any:
        try:
            if self.config.username or self.config.password:
                wanted = [libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE]
                return libvirt.openAuth(self.uri, [wanted, self._answer_credentials, None], 0)
            return libvirt.open(self.uri)
        except libvirt.libvirtError as err:
            raise dx.translate(libvirt, err, (self.config.password,), operation="connect") from None

    def _answer_credentials(self, credentials: list[list[Any]], _data: Any) -> int:
        for credential in credentials:
            if credential[0] == libvirt.VIR_CRED_AUTHNAME:
                credential[4] = self.config.username or ""
            elif credential[0] == libvirt.VIR_CRED_PASSPHRASE:
                credential[4] = self.config.password or ""
        return 0

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except libvirt.libvirtError:
                pass
            self._conn = None

    @staticmethod
    def quietly(call: Callable[[], T], missing: Iterable[str]) -> Optional[T]:
        """The call's result, or None when libvirt answers with one of the ``missing`` error codes."""
        try:
            return call()
        except libvirt.libvirtError as err:
            if err.get_error_code() in [getattr(libvirt, "VIR_ERR_" + name) for name in missing]:
                return None
            raise
