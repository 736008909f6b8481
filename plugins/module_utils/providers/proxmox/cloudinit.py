# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud-init for a Proxmox VE VM: a cloud-init drive, and either the full documents as snippets in a folder PVE
reads (``snippets_storage`` with ``snippets_dir``) or what PVE's ``ci*`` keys can carry."""

from __future__ import annotations

import os
import uuid
from typing import Any, Callable, Mapping, Optional

from ... import errors
from ...spec import VMSpec
from . import translate as pve

_KINDS = ("user", "meta", "network")


def config_values(spec: VMSpec, vmid: int, storage: str, options: Mapping[str, Any],
                  warn: Callable[[str], None]) -> dict[str, Any]:
    """The VM config values that give the guest its cloud-init; none when it has nothing to read."""
    if not spec.cloud_init and not any(n.ip_address for n in spec.networks):
        return {}
    values: dict[str, Any] = {"ide2": "%s:cloudinit" % storage}
    snippets, folder = options.get("snippets_storage"), options.get("snippets_dir")
    if snippets and folder and spec.cloud_init:
        values["cicustom"] = write_snippets(spec, vmid, snippets, folder)
        return values
    ci_values, dropped = pve.cloud_init_fallback(spec)
    values.update(ci_values)
    if dropped:
        warn("Proxmox VE's ci* keys cannot carry %s; set snippets_storage and snippets_dir to pass "
             "the full cloud-init documents" % ", ".join(dropped))
    return values


def _snippet_path(folder: str, vmid: int, kind: str) -> str:
    return os.path.join(folder, "snippets", "virtrigaud-%d-%s.yaml" % (vmid, kind))


def write_snippets(spec: VMSpec, vmid: int, storage: str, folder: str) -> str:
    """Each cloud-init document as a snippet file only root reads; the ``cicustom`` value naming them."""
    meta = spec.cloud_init.meta_data or "instance-id: %s\nlocal-hostname: %s\n" % (uuid.uuid4(), spec.name)
    parts = []
    for kind, text in zip(_KINDS, (spec.cloud_init.user_data, meta, spec.cloud_init.network_config)):
        if not text:
            continue
        path = _snippet_path(folder, vmid, kind)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".tmp", "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(path + ".tmp", 0o600)
            os.replace(path + ".tmp", path)
        except OSError as err:
            raise errors.PreconditionError("cannot write the cloud-init snippet %s: %s" % (path, err.strerror),
                                           option="snippets_dir") from None
        parts.append("%s=%s:snippets/%s" % (kind, storage, os.path.basename(path)))
    return ",".join(parts)


def remove_snippets(folder: Optional[str], vmid: int) -> None:
    for kind in _KINDS if folder else ():
        path = _snippet_path(folder or "", vmid, kind)
        if os.path.exists(path):
            os.remove(path)
