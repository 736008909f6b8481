# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VNC or SPICE display of a libvirt domain: its password, where a client reaches it, and changing it.

The caller passes the handles and the provider's URI; libvirt errors go up to
the provider, which translates them.
"""

from __future__ import annotations

import secrets
import string
from typing import Any, Optional
from urllib.parse import urlsplit

from ...errors import PreconditionError
from ...spec import LOOPBACK, ConsoleSpec
from ..base import ConsoleAccess
from . import translate as dx
from .client import libvirt
from .graphics_xml import graphics_xml, replace_graphics

# VNC's password authentication reads at most 8 characters; SPICE takes longer ones.
_PASSWORD_LENGTHS = {"vnc": 8, "spice": 24}
_WILDCARDS = ("0.0.0.0", "::")


def url(kind: str, host: str, port: int) -> str:
    return "%s://%s:%d" % (kind, "[%s]" % host if ":" in host else host, port)


def new_console_password(kind: str = "vnc") -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for dummy in range(_PASSWORD_LENGTHS.get(kind, 8)))


def console_host(console: ConsoleSpec, uri: Optional[str]) -> str:
    """Where a client reaches a display: its address, or the libvirt host's name when it listens everywhere."""
    if console.address not in _WILDCARDS:
        return console.address or LOOPBACK
    return urlsplit(uri or "").hostname or LOOPBACK


def running_url(domain: Any, facts: dx.DomainFacts, running: bool, uri: Optional[str]) -> Optional[str]:
    """The display's URL while the domain runs (its port is chosen at start), else None."""
    if not running or facts.console.type == "none":
        return None
    port = dx.parse_domain(domain.XMLDesc(0)).console_port
    return url(facts.console.type, console_host(facts.console, uri), port) if port else None


def access(domain: Any, uri: Optional[str]) -> Optional[ConsoleAccess]:
    """How to reach a running domain's display, with its password; None when it is stopped or has none."""
    if not domain.isActive():
        return None
    facts = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE))
    if facts.console_port is None:
        return None
    host = console_host(facts.console, uri)
    return ConsoleAccess(type=facts.console.type, url=url(facts.console.type, host, facts.console_port),
                         host=host, port=facts.console_port, password=facts.console_password or None)


def set_console(conn: Any, domain: Any, console: ConsoleSpec) -> None:
    """Put the display in place in the persistent definition (the VM is stopped: QEMU cannot plug one in)."""
    xml = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
    current = dx.parse_domain(xml)
    keep = current.console.type == console.type and current.console_password
    password = current.console_password if keep else new_console_password(console.type)
    conn.defineXMLFlags(replace_graphics(xml, console, password or ""), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)


def rotate_password(domain: Any, flags: int) -> None:
    facts = dx.parse_domain(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    if facts.console.type == "none":
        raise PreconditionError("the VM has no vnc or spice console whose password could be rotated")
    display = graphics_xml(facts.console, new_console_password(facts.console.type))
    domain.updateDeviceFlags(dx.device_string(display), flags)
