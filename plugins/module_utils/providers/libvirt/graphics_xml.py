# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A libvirt domain's VNC or SPICE display as XML, built from and read into a ConsoleSpec.  Pure code: no libvirt
import."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Optional

from ...spec import CONSOLE_DEVICES, LOOPBACK, ConsoleSpec


def graphics_xml(console: ConsoleSpec, password: str) -> ET.Element:
    """A VNC or SPICE display on a port libvirt picks, listening on one address, behind a password."""
    address = console.address or LOOPBACK
    node = ET.Element("graphics", type=console.type, autoport="yes", listen=address, passwd=password)
    ET.SubElement(node, "listen", type="address", address=address)
    return node


def parse_graphics(domain: ET.Element) -> tuple[ConsoleSpec, Optional[int], Optional[str]]:
    """The domain's first VNC or SPICE display: (what it is, its port when running, its password when read)."""
    for node in domain.findall("devices/graphics"):
        kind = node.get("type", "")
        if kind not in CONSOLE_DEVICES:
            continue
        listen = node.find("listen")
        address = node.get("listen") or (listen.get("address") if listen is not None else None) or LOOPBACK
        port = int(node.get("port", "-1"))
        return ConsoleSpec(kind, address), (port if port > 0 else None), node.get("passwd")
    return ConsoleSpec("none"), None, None


def replace_graphics(xml: str, console: ConsoleSpec, password: str) -> str:
    """The domain definition ``xml`` with its displays replaced by ``console`` (none for type none)."""
    domain = ET.fromstring(xml)
    devices = domain.find("devices")
    if devices is None:
        raise ValueError("the domain has no devices element")
    for node in devices.findall("graphics"):
        devices.remove(node)
    if console.type in CONSOLE_DEVICES:
        devices.append(graphics_xml(console, password))
    return ET.tostring(domain, encoding="unicode")
