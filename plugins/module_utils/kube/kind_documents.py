# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VMSnapshot or a VMImage manifest, read for the module that carries it out on a backend (pure: no I/O)."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from ..errors import SpecError
from ..images import ImageSpec, vmimage_spec
from ..planner import parse_snapshot_name
from ..spec import parse_quantity
from .manifests import OPTION, describe, name_of, part, read_one, refuse_unused
from .virtrigaud_schema import SPEC_SCHEMAS

# The fields carried out; every other one is refused unless at its schema default.
SNAPSHOT_FIELDS = ("vmRef.name", "snapshotConfig.name", "snapshotConfig.includeMemory")
IMAGE_FIELDS = ("source.libvirt.url", "source.libvirt.path", "source.libvirt.checksum", "source.libvirt.checksumType",
                "source.libvirt.storagePool", "source.libvirt.format", "source.http.url", "source.http.checksum",
                "source.http.checksumType", "source.vsphere.templateName", "source.proxmox.templateName",
                "source.proxmox.templateID", "source.proxmox.storage", "source.registry.image", "prepare.retries",
                "prepare.storage.libvirt.storagePool")


def snapshot_options(definition: Any) -> dict[str, Any]:
    """virtrigaud_vm_snapshot's name, vm_name and include_memory from a VMSnapshot.

    The snapshot is named as the hypervisor will show it: ``snapshotConfig.name``, else the document's name.
    """
    document = read_one(definition, "VMSnapshot")
    spec = document["spec"]
    refuse_unused(spec, SPEC_SCHEMAS["VMSnapshot"], SNAPSHOT_FIELDS, describe(document))
    config = part(spec.get("snapshotConfig"), "spec.snapshotConfig")
    name = config.get("name") or name_of(document)
    try:
        parse_snapshot_name(name)
    except SpecError as err:
        raise SpecError("%s, field %s: %s; set spec.snapshotConfig.name to one" % (
            describe(document), "spec.snapshotConfig.name" if config.get("name") else "metadata.name", err.msg),
            option=OPTION) from None
    return {"name": name, "vm_name": spec["vmRef"]["name"], "include_memory": bool(config.get("includeMemory", False))}


def image_spec(definition: Any, size: Optional[str] = None) -> ImageSpec:
    """What virtrigaud_image prepares for a VMImage, under the document's name; ``size`` is the module's option,
    which a VMImage has no field for."""
    document = read_one(definition, "VMImage")
    spec = document["spec"]
    refuse_unused(spec, SPEC_SCHEMAS["VMImage"], IMAGE_FIELDS, describe(document))
    prepare = part(spec.get("prepare"), "spec.prepare")
    pool = part(part(prepare.get("storage"), "spec.prepare.storage").get("libvirt"), "spec.prepare.storage.libvirt")
    try:
        image = vmimage_spec(spec, name_of(document), pool.get("storagePool") or "", "spec")
    except SpecError as err:
        raise SpecError("%s, field %s: %s" % (describe(document), err.option, err.msg), option=OPTION) from None
    return dataclasses.replace(image, retries=prepare.get("retries", image.retries),
                               size_bytes=parse_quantity(size, "size") if size else None)
