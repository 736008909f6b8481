# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's providers: one per thread and namespace (connections are not shared across threads)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Optional

from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import Provider, ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider

# Backends whose VMs live in namespaces; on the others an operation's namespace only labels the answer.
NAMESPACED = ("kubevirt",)
EVERY_NAMESPACE = "*"


class Backend:
    def __init__(self, config: ProviderConfig, default_namespace: str) -> None:
        self.config = config
        self.default_namespace = default_namespace
        self._local = threading.local()

    @property
    def namespaced(self) -> bool:
        return self.config.type in NAMESPACED

    def namespace(self, given: object) -> str:
        return str(given) if isinstance(given, str) and given else self.default_namespace

    def _config(self, namespace: str) -> ProviderConfig:
        if not self.namespaced:
            return self.config
        if namespace == EVERY_NAMESPACE:
            return dataclasses.replace(self.config, options=dict(self.config.options, namespaces=()))
        return dataclasses.replace(self.config, options=dict(self.config.options, namespace=namespace))

    def provider(self, namespace: Optional[str] = None) -> Provider:
        """This thread's provider for ``namespace`` (``*``: every namespace, for listings)."""
        key = (namespace or self.default_namespace) if self.namespaced else ""
        cache: Optional[dict[str, Provider]] = getattr(self._local, "providers", None)
        if cache is None:
            cache = self._local.providers = {}
        if key not in cache:
            cache[key] = open_provider(self._config(key))
        return cache[key]

    def forget(self) -> None:
        """Close this thread's providers, so the next call connects afresh (to a backend that came back)."""
        for provider in (getattr(self._local, "providers", None) or {}).values():
            provider.close()
        self._local.providers = {}
