# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage volume and pool XML for libvirt, built from and read into plain values.  Pure code: no libvirt import."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Optional

from .translate import sub_element


def volume_xml(name: str, capacity: int, fmt: str = "qcow2", allocation: int = 0,
               backing: Optional[tuple[str, str]] = None) -> str:
    """A storage volume; ``backing`` is (path, format) of the image an overlay reads from."""
    volume = ET.Element("volume")
    sub_element(volume, "name", name)
    sub_element(volume, "capacity", str(capacity), unit="bytes")
    sub_element(volume, "allocation", str(allocation), unit="bytes")
    target = sub_element(volume, "target")
    sub_element(target, "format", type=fmt)
    if backing:
        store = sub_element(volume, "backingStore")
        sub_element(store, "path", backing[0])
        sub_element(store, "format", type=backing[1])
    return ET.tostring(volume, encoding="unicode")


def volume_format(xml: str) -> str:
    node = ET.fromstring(xml).find("target/format")
    return node.get("type", "raw") if node is not None else "raw"


def backing_path(xml: str) -> str:
    """The path of the file a volume reads from, "" for a volume that has none."""
    return ET.fromstring(xml).findtext("backingStore/path", "") or ""


def pool_path(xml: str) -> str:
    return ET.fromstring(xml).findtext("target/path", "")


def pool_type(xml: str) -> str:
    return ET.fromstring(xml).get("type", "")
