# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud-init NoCloud seed: its files, the ``cidata`` ISO that carries them, and the volume it rides on."""

from __future__ import annotations

import io
import json
from typing import Any, Optional

from ...errors import MissingDependency
from ...spec import VMSpec
from . import translate as dx
from .storage import Storage
from .storage_xml import volume_xml

try:
    import pycdlib

    PYCDLIB_ERROR: Optional[ImportError] = None
except ImportError as err:  # pragma: no cover - depends on the host
    PYCDLIB_ERROR = err


def needs_seed(spec: VMSpec) -> bool:
    return bool(spec.cloud_init) or any(n.ip_address for n in spec.networks)


def seed_files(spec: VMSpec, instance_id: str, nics: tuple[dx.NicPlan, ...]) -> dict[str, str]:
    """The NoCloud files: user-data, meta-data (always with an instance-id) and network-config."""
    meta = spec.cloud_init.meta_data or "local-hostname: %s\n" % spec.name
    if "instance-id" not in meta:
        meta = "instance-id: %s\n%s" % (instance_id, meta if meta.endswith("\n") else meta + "\n")
    files = {"meta-data": meta, "user-data": spec.cloud_init.user_data or ""}
    network = spec.cloud_init.network_config or _static_network_config(spec, nics)
    if network:
        files["network-config"] = network
    return files


def _static_network_config(spec: VMSpec, nics: tuple[dx.NicPlan, ...]) -> Optional[str]:
    """Network config v2 for NICs with a static address, matched by MAC; None when all use DHCP."""
    if not any(n.ip_address for n in spec.networks):
        return None
    ethernets = {}
    for network, nic in zip(spec.networks, nics):
        entry: dict[str, object] = {"match": {"macaddress": nic.mac}, "set-name": network.name}
        if network.ip_address:
            entry["addresses"] = ["%s/%d" % (network.ip_address, network.prefix or 24)]
            if network.gateway:
                entry["routes"] = [{"to": "default", "via": network.gateway}]
            if network.dns:
                entry["nameservers"] = {"addresses": list(network.dns)}
        else:
            entry["dhcp4"] = True
        ethernets[network.name] = entry
    # JSON is valid YAML, and cloud-init reads either.
    return json.dumps({"version": 2, "ethernets": ethernets}, indent=1, sort_keys=True)


def seed_iso(files: dict[str, str]) -> bytes:
    """An ISO 9660 image labelled ``cidata`` (Joliet and Rock Ridge names) holding ``files``."""
    if PYCDLIB_ERROR is not None:
        raise MissingDependency("pycdlib", "to build cloud-init seed images", PYCDLIB_ERROR)
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for index, (name, text) in enumerate(sorted(files.items())):
        data = text.encode("utf-8")
        iso.add_fp(
            io.BytesIO(data), len(data), iso_path="/FILE%d.;1" % index, rr_name=name, joliet_path="/" + name
        )
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def upload_seed(storage: Storage, spec: VMSpec, pool: Any, vm_id: str, nics: tuple[dx.NicPlan, ...],
                created: list[Any]) -> str:
    """The seed as the volume ``<vm>-cidata.iso`` in ``pool``; its path."""
    data = seed_iso(seed_files(spec, vm_id, nics))
    volume = storage.new_volume(pool, volume_xml("%s-cidata.iso" % spec.name, len(data), fmt="raw"), created)
    stream = storage.client.conn.newStream(0)
    volume.upload(stream, 0, len(data), 0)
    stream.send(data)
    stream.finish()
    path: str = volume.path()
    return path
