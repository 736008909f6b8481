# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Provider module's parameters as the tests of its builders and of the runtime start from."""

from __future__ import annotations

from typing import Any


def params(**changes: Any) -> dict[str, Any]:
    base = {"name": "lab", "namespace": "infra", "type": "libvirt", "uri": "qemu:///system",
            "credentials": {"username": "root", "password": "s3cret"}, "credentials_secret": None,
            "validate_certs": True, "insecure_skip_verify": None, "defaults": None, "rate_limit": None,
            "health_check": None, "labels": None, "annotations": None,
            "runtime": {"image": None, "replicas": 1, "service_port": 9443, "env": None, "tls": {"enabled": False}}}
    base.update(changes)
    return base


COLLECTION_IMAGE = "registry.example.com/virtrigaud/provider-runtime:0.1.0"
