# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend connection a Provider manifest describes, for a VirtualMachine converged directly beside it.

The Provider is read as virtrigaud_provider reads one to probe it: its type, its endpoint, ``insecureSkipVerify``
and the credentials in the Secret that ``credentialSecretRef`` names (:func:`.probe.stored_credentials`), each
credential key mapped through that type's own table in ``providers.connection``.  Nothing comes from the task's
connection options or the environment, so no other backend's settings mix in; the task giving that backend's own
options is refused by name.  ``spec.runtime`` describes the runtime VirtRigaud's manager deploys, which a direct
run does not need; every other field the direct connection cannot honour is refused by its path.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import SpecError
from ..providers.connection import Connection, given_options, settings_of
from .client import Kube
from .manifests import OPTION, describe, part, refuse_unused_in_spec
from .probe import stored_credentials
from .provider import provider_connection

# The fields read; ``runtime`` is required by the schema and describes only the manager's deployment.
PROVIDER_FIELDS = ("type", "endpoint", "credentialSecretRef", "insecureSkipVerify", "defaults", "runtime")


def connection(kube: Kube, document: Mapping[str, Any], params: Mapping[str, Any],
               extra: Mapping[str, Any]) -> Connection:
    """The connection of the Provider ``document``; ``params`` are the task's, ``extra`` goes to the backend."""
    where = describe(dict(document))
    spec = part(document.get("spec"), "spec")
    refuse_unused_in_spec(dict(spec), "Provider", PROVIDER_FIELDS, where)
    provider_type = spec["type"]
    try:
        table = settings_of(provider_type)
    except SpecError:
        raise SpecError("%s, field spec.type: a %s backend is not served directly by the collection"
                        % (where, provider_type), option=OPTION) from None
    given = given_options(table, params)
    if given:
        raise SpecError("the connection comes from %s; leave out %s" % (where, ", ".join(given)), option=given[0])
    ref = spec["credentialSecretRef"]
    namespace = ref.get("namespace") or part(document.get("metadata"), "metadata").get("namespace") or "default"
    credentials = stored_credentials(kube, provider_type, namespace, ref["name"])
    read = {s.credential for s in table if s.credential}
    unread = sorted(key for key, value in credentials.items() if value and key not in read)
    if unread:
        raise SpecError("%s: its Secret '%s' holds %s, which only the runtime reads; a direct run cannot honour it"
                        % (where, ref["name"], ", ".join(unread)), option=OPTION)
    options = dict(extra, **_defaults(spec, table, where))
    config = provider_connection(provider_type, spec["endpoint"], credentials,
                                 validate_certs=not spec.get("insecureSkipVerify"),
                                 name="%s/%s" % (namespace, document["metadata"]["name"]), options=options)
    secrets = tuple(str(credentials[s.credential]) for s in table if s.secret and s.credential
                    and credentials.get(s.credential))
    return Connection(config=config, foreign=(), secrets=secrets)


def _defaults(spec: Mapping[str, Any], table: tuple[Any, ...], where: str) -> dict[str, Any]:
    """``spec.defaults`` as the backend's settings of the same meaning; a default it has none for is refused."""
    by_default = {s.provider_default: s.key for s in table if s.provider_default}
    found = {}
    for key, value in part(spec.get("defaults"), "spec.defaults").items():
        if key not in by_default:
            raise SpecError("%s, field spec.defaults.%s: the %s backend has no such default"
                            % (where, key, spec["type"]), option=OPTION)
        found[by_default[key]] = value
    return found
