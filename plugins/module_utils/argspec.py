# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument-spec pieces, each paired with a doc fragment of the same name.

connection_spec ↔ virtrigaud.core.connection, kube_spec ↔ virtrigaud.core.kubernetes, wait_spec ↔ virtrigaud.core.wait,
vm_spec ↔ the options documented in virtrigaud_vm.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.common.parameters import env_fallback

from .planner import SHUTDOWN_MODES
from .providers.connection import BACKENDS, KUBERNETES, Setting
from .providers.registry import PROVIDER_TYPES
from .spec import DISK_TYPES, FIRMWARES, NIC_MODELS

Spec = dict[str, dict[str, Any]]


def connection_spec() -> Spec:
    """The selector and every backend's connection options.

    They carry no environment fallbacks and no defaults: a backend reads its
    own variables and defaults from its table in ``providers.connection``, so
    an option set here is one the task gave, and one another backend's
    variable cannot fill.
    """
    spec: Spec = {
        "provider_type": {
            "type": "str",
            "choices": list(PROVIDER_TYPES),
            "default": "libvirt",
            "fallback": (env_fallback, ["VIRTRIGAUD_PROVIDER_TYPE"]),
        },
    }
    options = {s.option: s for table in BACKENDS.values() for s in table if s.option}
    for setting in sorted(options.values(), key=_by_option):
        spec[str(setting.option)] = _option(setting)
    spec["uri"]["aliases"] = ["endpoint"]
    spec["ca_cert"]["aliases"] = ["ssl_ca_cert"]
    spec["client_key"]["no_log"] = False
    spec["api_token_id"]["no_log"] = False
    return spec


def _option(setting: Setting) -> dict[str, Any]:
    option: dict[str, Any] = {"type": setting.kind}
    if setting.secret:
        option["no_log"] = True
    if setting.choices:
        option["choices"] = list(setting.choices)
    return option


def _by_option(setting: Setting) -> str:
    return setting.option or ""


def target_connection_spec() -> Spec:
    """The connection options again, without the selector, for a second backend's connection in one dict (a
    migration's target): secrets stay no_log, and no environment variable fills them here."""
    spec = connection_spec()
    spec.pop("provider_type")
    return spec


def kube_spec() -> Spec:
    """The Kubernetes API connection options, from the table the kubevirt backend reads too.

    Like the backends' options they carry no fallbacks: ``KubeConfig.from_params``
    reads the ``K8S_AUTH_*`` variables through the same table, so a task of
    another provider type never finds them in its parameters.
    """
    spec = {str(setting.option): _option(setting) for setting in KUBERNETES}
    spec["ca_cert"]["aliases"] = ["ssl_ca_cert"]
    return spec


def group_spec() -> Spec:
    """The options every module of the action group accepts, so module_defaults for the group can set them once."""
    return {**connection_spec(), **kube_spec()}


def wait_spec(default_timeout: int = 300) -> Spec:
    return {
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": default_timeout},
    }


def vm_ref_spec() -> Spec:
    return {"name": {"type": "str"}, "id": {"type": "str", "aliases": ["vm_id"]}}


def vm_spec() -> Spec:
    return {
        "cpu": {"type": "int"},
        "memory": {"type": "raw"},
        "firmware": {"type": "str", "choices": list(FIRMWARES)},
        "secure_boot": {"type": "bool"},
        "disk_defaults": {
            "type": "dict",
            "options": {"size": {"type": "raw"}, "type": {"type": "str", "choices": list(DISK_TYPES)}},
        },
        "image": {"type": "str"},
        "disks": {
            "type": "list",
            "elements": "dict",
            "options": {
                "name": {"type": "str", "required": True},
                "size": {"type": "raw", "required": True},
                "type": {"type": "str", "choices": list(DISK_TYPES)},
            },
        },
        "networks": {
            "type": "list",
            "elements": "dict",
            "options": {
                "name": {"type": "str", "required": True},
                "network": {"type": "str"},
                "bridge": {"type": "str"},
                "model": {"type": "str", "choices": list(NIC_MODELS)},
                "mac_address": {"type": "str"},
                "ip_address": {"type": "str"},
                "prefix": {"type": "int"},
                "gateway": {"type": "str"},
                "dns": {"type": "list", "elements": "str"},
            },
            "mutually_exclusive": [["network", "bridge"]],
        },
        "placement": {
            "type": "dict",
            "options": {
                key: {"type": "str"} for key in ("datastore", "cluster", "host", "folder", "resource_pool")
            },
        },
        "cloud_init": {
            "type": "dict",
            "options": {
                "user_data": {"type": "str", "no_log": True},
                "meta_data": {"type": "str"},
                "network_config": {"type": "str"},
            },
        },
        "tags": {"type": "list", "elements": "str"},
    }


def lifecycle_spec() -> Spec:
    return {
        "state": {
            "type": "str",
            "default": "present",
            "choices": ["present", "absent", "started", "stopped", "restarted"],
        },
        "clone_from": {"type": "str"},
        "linked_clone": {"type": "bool", "default": False},
        "allow_power_cycling": {"type": "bool", "default": False},
        "allow_migration": {"type": "bool", "default": False},
        "shutdown_mode": {"type": "str", "default": "graceful", "choices": list(SHUTDOWN_MODES)},
        "shutdown_timeout": {"type": "int", "default": 120},
        "delete_disks": {"type": "bool", "default": True},
        "wait_for_ip_address": {"type": "bool", "default": False},
    }


def set_run_spec() -> Spec:
    """How a task that converges many VMs paces itself: its rate limit and its time bounds."""
    return {
        "rate_limit": {"type": "dict", "default": {}, "options": {
            "qps": {"type": "float", "default": 10}, "burst": {"type": "int", "default": 20}}},
        "wait_timeout": {"type": "int", "default": 1800},
        "shutdown_timeout": {"type": "int", "default": 120},
    }


def placement_policy_spec() -> Spec:
    """Paired with the doc fragment virtrigaud.core.placement_policy."""
    names = {"type": "list", "elements": "str"}
    # A topology key names a topology, not a secret.
    topology = {"type": "str", "default": "host", "no_log": False}
    term = {"labels": {"type": "dict", "required": True}, "topology_key": topology,
            "required": {"type": "bool", "default": False}, "weight": {"type": "int", "default": 1}}
    return {
        "placement_policy": {"type": "dict", "options": {
            "hosts": names, "excluded_hosts": names, "clusters": names, "excluded_clusters": names,
            "preferred_hosts": names, "preferred_clusters": names,
            "max_vms_per_host": {"type": "int"}, "max_vms_per_cluster": {"type": "int"},
            "affinity": {"type": "list", "elements": "dict", "options": term},
            "anti_affinity": {"type": "list", "elements": "dict", "options": term},
            "spread": {"type": "list", "elements": "dict", "options": {
                "max_skew": {"type": "int", "default": 1}, "topology_key": topology,
                "labels": {"type": "dict"}}}}},
        "placement_policy_ref": {"type": "dict", "options": {"name": {"type": "str", "required": True},
                                                             "namespace": {"type": "str"}}},
    }
