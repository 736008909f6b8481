# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""provider.v1 on the wire: message classes built from the generated descriptor, and the RPC table.

Both the remote provider (client) and the provider runtime (server) use this
one table, so a method's path, request and response types cannot disagree.
"""

from __future__ import annotations

from typing import Any, Optional

from .wire_descriptor import DESCRIPTOR

try:
    from google.protobuf import descriptor_pool, message_factory

    PROTOBUF_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the host
    descriptor_pool = message_factory = None
    PROTOBUF_ERROR = err

PACKAGE = "provider.v1"
SERVICE = PACKAGE + ".Provider"


class Wire:
    """The message classes of provider.v1, by name (``wire.CreateRequest``), and its methods."""

    def __init__(self) -> None:
        self.pool = descriptor_pool.DescriptorPool()
        self.file = self.pool.AddSerializedFile(DESCRIPTOR)
        self._classes: dict[str, Any] = {}
        service = self.pool.FindServiceByName(SERVICE)
        self.methods = {m.name: (self.message(m.input_type.name), self.message(m.output_type.name))
                        for m in service.methods}

    def message(self, name: str) -> Any:
        if name not in self._classes:
            found = self.pool.FindMessageTypeByName("%s.%s" % (PACKAGE, name))
            get_class = getattr(message_factory, "GetMessageClass", None)
            self._classes[name] = get_class(found) if get_class else \
                message_factory.MessageFactory(self.pool).GetPrototype(found)
        return self._classes[name]

    def __getattr__(self, name: str) -> Any:
        if name[:1].isupper():
            return self.message(name)
        raise AttributeError(name)

    @staticmethod
    def path(method: str) -> str:
        return "/%s/%s" % (SERVICE, method)


_WIRE: Optional[Wire] = None


def wire() -> Wire:
    """The one Wire of this process (building it parses the descriptor)."""
    global _WIRE  # pylint: disable=global-statement
    if _WIRE is None:
        _WIRE = Wire()
    return _WIRE
