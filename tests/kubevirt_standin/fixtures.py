# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a KubeVirt cluster has that a bare kube-apiserver lacks: the CRDs (KubeVirt's from the reference
folder, created since they are too large for client-side apply; small ones of our own for CDI's DataVolume,
Multus' NetworkAttachmentDefinition and the KubeVirt CR), KubeVirt's admission rules as
ValidatingAdmissionPolicies, storage classes, the virt-api APIService, and the leg's namespaces, image,
network, instancetype and RBAC.
"""

from __future__ import annotations

import base64
import gzip
import time
from typing import Any

import yaml

from . import client as k
from .client import Api, ApiError

NAMESPACE = "vr-kubevirt"
BARE_NAMESPACE = "vr-kubevirt-bare"  # no admission policies: a cluster without KubeVirt's webhooks
NO_WEBHOOKS = "virtrigaud.io/no-kubevirt-webhooks"
VIRT_API_PORT = 18444


def _crd(group: str, kind: str, plural: str, version: str, scope: str = "Namespaced") -> dict:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "%s.%s" % (plural, group)},
            "spec": {"group": group, "scope": scope,
                     "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": kind + "List"},
                     "versions": [{"name": version, "served": True, "storage": True,
                                   "subresources": {"status": {}}, "schema": {"openAPIV3Schema": schema}}]}}


def _object(properties: dict, required: tuple = (), rules: tuple = ()) -> dict:
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if rules:
        schema["x-kubernetes-validations"] = [{"rule": rule, "message": message} for rule, message in rules]
    return schema


_STR = {"type": "string"}
_REF = _object({"name": _STR, "namespace": _STR})
_QUANTITIES = {"type": "object", "additionalProperties": {"x-kubernetes-int-or-string": True, "anyOf": [
    {"type": "integer"}, {"type": "string"}]}}
_CLAIM = _object({"accessModes": {"type": "array", "items": _STR},
                  "resources": _object({"requests": _QUANTITIES, "limits": _QUANTITIES}),
                  "storageClassName": _STR, "volumeMode": {"type": "string", "enum": ["Block", "Filesystem"]},
                  "volumeName": _STR})
_SOURCES = ("http", "registry", "pvc", "blank", "upload", "s3", "gcs", "snapshot")
# CDI's DataVolume, v1beta1: the fields of its CRD that the collection and the stand-in use, unknown ones pruned,
# and its webhook's rules on them as CEL.
DATA_VOLUME_SCHEMA = _object({
    "spec": _object({
        "source": _object({
            "http": _object({"url": _STR, "secretRef": _STR, "certConfigMap": _STR,
                             "extraHeaders": {"type": "array", "items": _STR},
                             "secretExtraHeaders": {"type": "array", "items": _STR}}, ("url",),
                            (("self.url.startsWith('http://') || self.url.startsWith('https://')",
                              "source http url must be an http:// or https:// URL"),)),
            "registry": _object({"url": _STR, "imageStream": _STR, "secretRef": _STR, "certConfigMap": _STR,
                                 "pullMethod": {"type": "string", "enum": ["pod", "node"]}}, (),
                                (("has(self.url) != has(self.imageStream)",
                                  "source registry should have either URL or ImageStream"),
                                 ("!has(self.url) || self.url.startsWith('docker://') || "
                                  "self.url.startsWith('oci-archive://')",
                                  "source registry url scheme must be docker:// or oci-archive://"))),
            "pvc": _object({"name": _STR, "namespace": _STR}, ("name", "namespace")),
            "blank": _object({}), "upload": _object({}),
            "s3": _object({"url": _STR, "secretRef": _STR, "certConfigMap": _STR}, ("url",)),
            "gcs": _object({"url": _STR, "secretRef": _STR}, ("url",)),
            "snapshot": _object({"name": _STR, "namespace": _STR}, ("name", "namespace")),
        }, (), (("[%s].filter(x, x).size() == 1" % ", ".join("has(self.%s)" % s for s in _SOURCES),
                 "Data volume should have exactly one source"),)),
        "sourceRef": _object({"kind": {"type": "string", "enum": ["DataSource"]}, "name": _STR,
                              "namespace": _STR}, ("kind", "name")),
        "storage": _CLAIM,
        "pvc": _CLAIM,
        "contentType": {"type": "string", "enum": ["kubevirt", "archive"]},
        "preallocation": {"type": "boolean"},
        "priorityClassName": _STR,
    }, (), (("has(self.source) != has(self.sourceRef)", "Data volume should have either Source or SourceRef"),
            ("has(self.storage) != has(self.pvc)", "Data volume should have either pvc or storage"),
            ("!has(self.pvc) || (has(self.pvc.resources) && has(self.pvc.resources.requests) && "
             "'storage' in self.pvc.resources.requests)", "PVC size is missing"),
            ("self == oldSelf", "Cannot update spec for DataVolume"))),
    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}, ("spec",))


def _data_volume_crd() -> dict:
    crd = _crd("cdi.kubevirt.io", "DataVolume", "datavolumes", "v1beta1")
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = DATA_VOLUME_SCHEMA
    return crd


OWN_CRDS = [
    _data_volume_crd(),
    _crd("k8s.cni.cncf.io", "NetworkAttachmentDefinition", "network-attachment-definitions", "v1"),
    _crd("kubevirt.io", "KubeVirt", "kubevirts", "v1"),
]


def _has(path: str) -> str:
    """CEL's has() tests only the last field: test every step of the path."""
    parts = path.split(".")
    return "(" + " && ".join("has(%s)" % ".".join(parts[:i]) for i in range(2, len(parts) + 1)) + ")"


_T = "object.spec.template.spec"
_IFACES = _T + ".domain.devices.interfaces"
_EFI = _T + ".domain.firmware.bootloader.efi"
_SMM = _T + ".domain.features.smm"
# KubeVirt's VM webhook, the rules that matter to the collection, in CEL.
RULES = [
    ("!(has(object.spec.running) && has(object.spec.runStrategy))",
     "Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy"),
    ("!has(object.spec.runStrategy) || object.spec.runStrategy in "
     "['Always', 'Halted', 'Manual', 'RerunOnFailure', 'Once', 'WaitAsReceiver']",
     "spec.runStrategy is not a run strategy KubeVirt knows"),
    ("!%s || %s.all(i, !has(i.masquerade) || (%s && %s.networks.exists(n, n.name == i.name && has(n.pod))))"
     % (_has(_IFACES), _IFACES, _has(_T + ".networks"), _T),
     "Masquerade interface only implemented with pod network"),
    ("!%s || %s.all(i, %s && %s.networks.exists(n, n.name == i.name))"
     % (_has(_IFACES), _IFACES, _has(_T + ".networks"), _T),
     "every interface needs a network of the same name"),
    ("!%s || %s.networks.all(n, %s && %s.exists(i, i.name == n.name))"
     % (_has(_T + ".networks"), _T, _has(_IFACES), _IFACES),
     "every network needs an interface of the same name"),
    ("!%s || %s.domain.devices.disks.all(d, %s && %s.volumes.exists(v, v.name == d.name))"
     % (_has(_T + ".domain.devices.disks"), _T, _has(_T + ".volumes"), _T),
     "every disk needs a volume of the same name"),
    ("has(object.spec.instancetype) || %s || (%s && 'memory' in %s.domain.resources.requests)"
     % (_has(_T + ".domain.memory.guest"), _has(_T + ".domain.resources.requests"), _T),
     "no memory requested, at least one of 'guest' or 'requests.memory' must be set"),
    ("!has(object.spec.instancetype) || (!%s && !%s)"
     % (_has(_T + ".domain.cpu.sockets"), _has(_T + ".domain.memory.guest")),
     "VM field conflicts with the instancetype: spec.template.spec.domain.cpu.sockets / memory.guest"),
    # secureBoot defaults to true, and so does an smm feature's enabled.
    ("!%s || (%s && !%s.secureBoot) || (%s && (!has(%s.enabled) || %s.enabled))"
     % (_has(_EFI), _has(_EFI + ".secureBoot"), _EFI, _has(_SMM), _SMM, _SMM),
     "EFI secure boot requires the SMM feature"),
]


def policies() -> list[tuple[k.Kind, dict]]:
    kind = k.Kind("admissionregistration.k8s.io/v1", "validatingadmissionpolicies", namespaced=False)
    binding = k.Kind("admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings", namespaced=False)
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": "kubevirt-standin-vm"},
              "spec": {"failurePolicy": "Fail",
                       "matchConstraints": {"resourceRules": [{"apiGroups": ["kubevirt.io"], "apiVersions": ["v1"],
                                                               "operations": ["CREATE", "UPDATE"],
                                                               "resources": ["virtualmachines"]}]},
                       "validations": [{"expression": rule, "message": message, "reason": "Invalid"}
                                       for rule, message in RULES]}}
    bound = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
             "metadata": {"name": "kubevirt-standin-vm"},
             "spec": {"policyName": "kubevirt-standin-vm", "validationActions": ["Deny"],
                      "matchResources": {"namespaceSelector": {"matchExpressions": [
                          {"key": NO_WEBHOOKS, "operator": "DoesNotExist"}]}}}}
    return [(kind, policy), (binding, bound)]


def install_crds(api: Api, files: list[str]) -> None:
    crds = list(OWN_CRDS)
    for path in files:
        with (gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")) \
                as handle:
            crds += [doc for doc in yaml.safe_load_all(handle) if doc and doc.get("kind") == "CustomResourceDefinition"]
    for crd in crds:
        api.create(k.CRD, crd)
    for crd in crds:
        for dummy in range(300):
            current = api.get(k.CRD, crd["metadata"]["name"]) or {}
            if any(c.get("type") == "Established" and c.get("status") == "True"
                   for c in (current.get("status") or {}).get("conditions") or []):
                break
            time.sleep(0.1)
        else:
            raise SystemExit("CRD %s did not become established" % crd["metadata"]["name"])


def _object(api_version: str, kind: str, name: str, namespace: str = "", **rest: Any) -> dict:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata.update(rest.pop("metadata", {}))
    return dict({"apiVersion": api_version, "kind": kind, "metadata": metadata}, **rest)


def objects(ca_bundle: bytes, port: int) -> list[tuple[k.Kind, dict]]:
    namespace_kind = k.Kind("v1", "namespaces", namespaced=False)
    storage = "standin.virtrigaud.io/csi"
    found = [
        (namespace_kind, _object("v1", "Namespace", NAMESPACE)),
        (namespace_kind, _object("v1", "Namespace", BARE_NAMESPACE, metadata={"labels": {NO_WEBHOOKS: "true"}})),
        (namespace_kind, _object("v1", "Namespace", "kubevirt")),
        (k.STORAGE_CLASS, _object("storage.k8s.io/v1", "StorageClass", "standin", provisioner=storage,
                                  allowVolumeExpansion=True, metadata={"annotations": {
                                      "storageclass.kubernetes.io/is-default-class": "true"}})),
        (k.STORAGE_CLASS, _object("storage.k8s.io/v1", "StorageClass", "standin-fixed", provisioner=storage,
                                  allowVolumeExpansion=False)),
        (k.KUBEVIRT, _object("kubevirt.io/v1", "KubeVirt", "kubevirt", "kubevirt",
                             spec={"configuration": {"vmRolloutStrategy": "LiveUpdate"}})),
        (k.Kind("k8s.cni.cncf.io/v1", "network-attachment-definitions"),
         _object("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", "vr-multus", NAMESPACE, spec={
             "config": '{"cniVersion": "0.3.1", "type": "bridge", "bridge": "br-vr"}'})),
        (k.Kind("k8s.cni.cncf.io/v1", "network-attachment-definitions"),
         _object("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", "vr-multus-alt", NAMESPACE, spec={
             "config": '{"cniVersion": "0.3.1", "type": "bridge", "bridge": "br-vr-alt"}'})),
        (k.PVC, _object("v1", "PersistentVolumeClaim", "vr-base", NAMESPACE, spec={
            "accessModes": ["ReadWriteOnce"], "storageClassName": "standin",
            "resources": {"requests": {"storage": "1Gi"}}})),
        (k.Kind("instancetype.kubevirt.io/v1beta1", "virtualmachineclusterinstancetypes", namespaced=False),
         _object("instancetype.kubevirt.io/v1beta1", "VirtualMachineClusterInstancetype", "vr-small",
                 spec={"cpu": {"guest": 1}, "memory": {"guest": "256Mi"}})),
        (k.Kind("instancetype.kubevirt.io/v1beta1", "virtualmachinepreferences"),
         _object("instancetype.kubevirt.io/v1beta1", "VirtualMachinePreference", "vr-linux", NAMESPACE,
                 spec={"devices": {"preferredDiskBus": "virtio"}})),
        (k.Kind("v1", "services"), _object("v1", "Service", "virt-api", "kubevirt", spec={
            "type": "ExternalName", "externalName": "localhost",
            "ports": [{"port": port, "targetPort": port}]})),
    ]
    return found + [(k.Kind("apiregistration.k8s.io/v1", "apiservices", namespaced=False),
                     api_service(ca_bundle, port))]


def api_service(ca_bundle: bytes, port: int) -> dict:
    return _object("apiregistration.k8s.io/v1", "APIService", "v1.subresources.kubevirt.io", spec={
        "group": "subresources.kubevirt.io", "version": "v1", "groupPriorityMinimum": 1000, "versionPriority": 15,
        "caBundle": base64.b64encode(ca_bundle).decode(),
        "service": {"namespace": "kubevirt", "name": "virt-api", "port": port}})


def rbac(role_file: str, users: dict[str, bool]) -> list[tuple[k.Kind, dict]]:
    """The guide's Role (in both namespaces) and ClusterRole, bound to each user; a False user gets the Role
    without VMI reads, in the leg's namespace only."""
    with open(role_file, encoding="utf-8") as handle:
        role, cluster_role = yaml.safe_load(handle)["items"]
    roles = k.Kind("rbac.authorization.k8s.io/v1", "roles")
    bindings = k.Kind("rbac.authorization.k8s.io/v1", "rolebindings")
    found: list[tuple[k.Kind, dict]] = [
        (k.Kind("rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False), cluster_role)]
    for namespace in (NAMESPACE, BARE_NAMESPACE):
        found.append((roles, dict(role, metadata=dict(role["metadata"], namespace=namespace))))
    crippled = dict(role, metadata=dict(role["metadata"], name="virtrigaud-kubevirt-no-vmi", namespace=NAMESPACE),
                    rules=[rule for rule in role["rules"] if "virtualmachineinstances" not in rule["resources"]])
    found.append((roles, crippled))
    for user, complete in users.items():
        subject = [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]
        for namespace in (NAMESPACE, BARE_NAMESPACE) if complete else (NAMESPACE,):
            name = role["metadata"]["name"] if complete else crippled["metadata"]["name"]
            found.append((bindings, _object("rbac.authorization.k8s.io/v1", "RoleBinding", user, namespace,
                                            subjects=subject, roleRef={"kind": "Role", "name": name,
                                                                       "apiGroup": "rbac.authorization.k8s.io"})))
        found.append((k.Kind("rbac.authorization.k8s.io/v1", "clusterrolebindings", namespaced=False), _object(
            "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", user, subjects=subject,
            roleRef={"kind": "ClusterRole", "name": cluster_role["metadata"]["name"],
                     "apiGroup": "rbac.authorization.k8s.io"})))
    return found


def raw_vms() -> list[tuple[k.Kind, dict]]:
    """VMs a cluster without KubeVirt's webhooks accepted, which KubeVirt itself would refuse."""
    def vm(name: str, spec: dict, network: dict) -> dict:
        template = {"domain": {"devices": {"interfaces": [{"name": "lan", "masquerade": {}}]},
                               "memory": {"guest": "128Mi"}}, "networks": [dict(network, name="lan")]}
        return _object("kubevirt.io/v1", "VirtualMachine", name, BARE_NAMESPACE,
                       spec=dict(spec, template={"spec": template}))
    return [(k.VM, vm("vr-running-and-strategy", {"running": False, "runStrategy": "Halted"}, {"pod": {}})),
            (k.VM, vm("vr-masquerade-on-multus", {"runStrategy": "Halted"},
                      {"multus": {"networkName": "vr-multus"}})),
            (k.VM, _without_smm(vm("vr-secure-boot-without-smm", {"runStrategy": "Halted"}, {"pod": {}})))]


def _without_smm(vm: dict) -> dict:
    """EFI with secureBoot left out, which KubeVirt takes as on, and no SMM feature."""
    vm["spec"]["template"]["spec"]["domain"]["firmware"] = {"bootloader": {"efi": {}}}
    return vm


def install(api: Api, crd_files: list[str], ca_bundle: bytes, role_file: str, users: dict[str, bool],
            port: int) -> None:
    install_crds(api, crd_files)
    for kind, obj in policies() + objects(ca_bundle, port) + rbac(role_file, users) + raw_vms():
        for attempt in range(50):
            try:
                api.create(kind, obj)
                break
            except ApiError as err:
                # A CRD just established, or a policy just made, can answer 404 or 503 for a moment.
                if err.status not in (404, 503) or attempt == 49:
                    raise
                time.sleep(0.2)
