# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes client for the stand-in: the test bed's admin token and CA, JSON calls and watches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import quote, urlencode

import urllib3
import yaml


@dataclass(frozen=True)
class Kind:
    group_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: Optional[str] = None, name: Optional[str] = None, sub: str = "") -> str:
        base = "/api/v1" if self.group_version == "v1" else "/apis/" + self.group_version
        if self.namespaced and namespace:
            base += "/namespaces/" + quote(namespace, safe="")
        path = "%s/%s" % (base, self.plural)
        return path + ("/" + quote(name, safe="") if name else "") + ("/" + sub if sub else "")


VM = Kind("kubevirt.io/v1", "virtualmachines")
VMI = Kind("kubevirt.io/v1", "virtualmachineinstances")
KUBEVIRT = Kind("kubevirt.io/v1", "kubevirts")
DV = Kind("cdi.kubevirt.io/v1beta1", "datavolumes")
PVC = Kind("v1", "persistentvolumeclaims")
SECRET = Kind("v1", "secrets")
STORAGE_CLASS = Kind("storage.k8s.io/v1", "storageclasses", namespaced=False)
SNAPSHOT = Kind("snapshot.kubevirt.io/v1beta1", "virtualmachinesnapshots")
CONTENT = Kind("snapshot.kubevirt.io/v1beta1", "virtualmachinesnapshotcontents")
RESTORE = Kind("snapshot.kubevirt.io/v1beta1", "virtualmachinerestores")
CLONE = Kind("clone.kubevirt.io/v1beta1", "virtualmachineclones")
CRD = Kind("apiextensions.k8s.io/v1", "customresourcedefinitions", namespaced=False)


class ApiError(Exception):
    def __init__(self, status: int, body: bytes, what: str) -> None:
        super().__init__("%s: HTTP %d %s" % (what, status, body[:300].decode("utf-8", "replace")))
        self.status = status


class Api:
    def __init__(self, kubeconfig: str) -> None:
        with open(kubeconfig, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        cluster = config["clusters"][0]["cluster"]
        self.base = cluster["server"].rstrip("/")
        self.headers = {"Authorization": "Bearer " + config["users"][0]["user"]["token"],
                        "Accept": "application/json"}
        self.pool = urllib3.PoolManager(maxsize=8, cert_reqs="CERT_REQUIRED",
                                        ca_certs=cluster["certificate-authority"], retries=False)

    def request(self, method: str, path: str, body: Any = None, query: Optional[dict] = None,
                content_type: str = "application/json") -> dict:
        url = self.base + path + ("?" + urlencode(query) if query else "")
        response = self.pool.request(method, url, body=None if body is None else json.dumps(body),
                                     headers=dict(self.headers, **{"Content-Type": content_type}), timeout=30)
        if response.status >= 300:
            raise ApiError(response.status, response.data, "%s %s" % (method, path))
        return json.loads(response.data) if response.data else {}

    def get(self, kind: Kind, name: str, namespace: Optional[str] = None) -> Optional[dict]:
        try:
            return self.request("GET", kind.path(namespace, name))
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def list(self, kind: Kind, namespace: Optional[str] = None) -> dict:
        return self.request("GET", kind.path(namespace))

    def create(self, kind: Kind, obj: dict) -> Optional[dict]:
        """None when an object of that name exists already."""
        try:
            return self.request("POST", kind.path(obj["metadata"].get("namespace")), obj)
        except ApiError as err:
            if err.status == 409:
                return None
            raise

    def replace(self, kind: Kind, obj: dict, sub: str = "") -> dict:
        metadata = obj["metadata"]
        return self.request("PUT", kind.path(metadata.get("namespace"), metadata["name"], sub), obj)

    def patch(self, kind: Kind, name: str, namespace: Optional[str], patch: dict, sub: str = "") -> Optional[dict]:
        try:
            return self.request("PATCH", kind.path(namespace, name, sub), patch,
                                content_type="application/merge-patch+json")
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def delete(self, kind: Kind, name: str, namespace: Optional[str] = None, grace: Optional[int] = None) -> None:
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if grace is not None:
            body["gracePeriodSeconds"] = grace
        try:
            self.request("DELETE", kind.path(namespace, name), body)
        except ApiError as err:
            if err.status not in (404, 409):
                raise

    def watch(self, kind: Kind, resource_version: str) -> Iterator[dict]:
        """Events from ``resource_version`` on, until the server ends the watch."""
        query = urlencode({"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": "240",
                           "allowWatchBookmarks": "true"})
        response = self.pool.request("GET", "%s%s?%s" % (self.base, kind.path(), query), headers=self.headers,
                                     preload_content=False, timeout=urllib3.Timeout(connect=10, read=300))
        try:
            if response.status >= 300:
                raise ApiError(response.status, response.data, "watch " + kind.plural)
            buffer = b""
            for chunk in response.stream(65536):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            response.release_conn()
