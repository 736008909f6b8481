# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider type name → class, imported only when that type is used.

The imports sit inside functions so a libvirt user never needs pyvmomi, yet
Ansible's module packer still finds and ships every backend.
"""

from __future__ import annotations

from typing import Callable

from ..errors import SpecError
from .base import Provider, ProviderConfig


def _kubevirt() -> type[Provider]:
    from .kubevirt.provider import KubevirtProvider

    return KubevirtProvider


def _libvirt() -> type[Provider]:
    from .libvirt.provider import LibvirtProvider

    return LibvirtProvider


def _vsphere() -> type[Provider]:
    from .vsphere.provider import VsphereProvider

    return VsphereProvider


def _proxmox() -> type[Provider]:
    from .proxmox.provider import ProxmoxProvider

    return ProxmoxProvider


def _remote() -> type[Provider]:
    from .remote.provider import RemoteProvider

    return RemoteProvider


def _mock() -> type[Provider]:
    from .mock import MockProvider

    return MockProvider


_LOADERS: dict[str, Callable[[], type[Provider]]] = {
    "kubevirt": _kubevirt,
    "libvirt": _libvirt,
    "mock": _mock,
    "proxmox": _proxmox,
    "remote": _remote,
    "vsphere": _vsphere,
}

PROVIDER_TYPES = tuple(sorted(_LOADERS))


def open_provider(config: ProviderConfig) -> Provider:
    """Build (but do not connect) the provider for ``config.type``."""
    loader = _LOADERS.get(config.type)
    if loader is None:
        raise SpecError(
            "'%s' is not a provider type; use one of: %s" % (config.type, ", ".join(PROVIDER_TYPES)),
            option="provider_type",
        )
    return loader()(config)
