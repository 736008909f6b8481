# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backend connection from a vitistack MachineProvider: its type, its endpoint, and its credentials Secret.

The Secret's keys are the backend's own connection options (``uri``, ``username``, ``password`` for libvirt;
``api_host``, ``api_user``, ``api_password`` ... for Proxmox VE), read through that backend's table in
``providers.connection``: a key of another backend is refused by name, never read. For KubeVirt, the key
``kubeconfig`` holds the kubeconfig itself, as vitistack's kubevirt-operator keeps it; it is written to a private
file for the run.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from typing import Any, Mapping, Optional

from ..errors import NotFoundError, SpecError
from ..providers.connection import Connection, config_from, from_text, given_options, read, settings_of
from .client import Kube

OPTION = "machine_provider"


def _secret_values(kube: Kube, provider: Mapping[str, Any], name: str) -> tuple[dict[str, str], str]:
    reference = ((provider.get("spec") or {}).get("authentication") or {}).get("credentialsRef") or {}
    if not reference.get("secretName"):
        return {}, ""
    where = "%s/%s" % (reference.get("namespace") or "default", reference["secretName"])
    secret = kube.get("Secret", reference["secretName"], reference.get("namespace") or "default")
    if secret is None:
        raise NotFoundError("MachineProvider %s names the credentials Secret %s, which does not exist" % (name, where),
                            option=OPTION)
    try:
        data = secret.get("data") or {}
        return {key: base64.b64decode(value).decode("utf-8") for key, value in data.items()}, where
    except (binascii.Error, UnicodeDecodeError):
        raise SpecError("the Secret %s holds a value that is not UTF-8 text" % where, option=OPTION) from None


def connection_from(kube: Kube, name: str, params: Mapping[str, Any], scratch: str,
                    extra: Optional[Mapping[str, Any]] = None) -> Connection:
    """The connection MachineProvider ``name`` describes; the task's own options for that backend are refused.

    Raises:
        NotFoundError: no such MachineProvider, or its Secret is missing.
        SpecError: its type is not a backend of the collection, its Secret holds a key the backend does not read,
            or the task also gives that backend's connection options.
    """
    provider = kube.get("MachineProvider", name)
    if provider is None:
        raise NotFoundError("there is no MachineProvider %s" % name, option=OPTION)
    provider_type = str((provider.get("spec") or {}).get("providerType") or "")
    try:
        table = settings_of(provider_type)
    except SpecError:
        raise SpecError("MachineProvider %s is of type %s, which the collection does not serve" % (name, provider_type),
                        option=OPTION) from None
    # The Kubernetes options reach the Machines; for KubeVirt the VMs' cluster is the MachineProvider's.
    given = given_options(table, params)
    if given:
        raise SpecError("the connection comes from MachineProvider %s; leave out %s" % (name, ", ".join(given)),
                        option=given[0])
    texts, where = _secret_values(kube, provider, name)
    by_option = {s.option: s for s in table if s.option}
    unknown = sorted(key for key in texts if key not in by_option)
    if unknown:
        raise SpecError("the Secret %s holds %s, which %s does not read; it reads %s"
                        % (where, ", ".join(unknown), provider_type, ", ".join(sorted(str(o) for o in by_option))),
                        option=OPTION)
    try:
        values = {key: from_text(by_option[key], key, text) for key, text in texts.items() if key != "kubeconfig"}
    except SpecError as err:
        raise SpecError("in the Secret %s, %s" % (where, err.msg), option=OPTION) from None
    if "kubeconfig" in texts:
        values["kubeconfig"] = _private_file(scratch, texts["kubeconfig"])
    endpoint = (provider.get("spec") or {}).get("endpoint") or {}
    if endpoint.get("url") and "uri" in by_option and "uri" not in values:
        values["uri"] = endpoint["url"]
    verify = next((s.option for s in table if s.key == "validate_certs" and s.option), None)
    if endpoint.get("insecureSkipVerify") and verify and verify not in values:
        values[verify] = False
    resolved = read(table, values, {})
    secrets = tuple(str(resolved[s.key]) for s in table if s.secret and resolved.get(s.key))
    return Connection(config=config_from(provider_type, resolved, extra, name=name), foreign=(), secrets=secrets)


def _private_file(folder: str, text: str) -> str:
    handle, path = tempfile.mkstemp(prefix="kubeconfig-", dir=folder)
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    return path
