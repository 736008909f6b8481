# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Images in KubeVirt: a CDI DataVolume named after the image, in the connection's namespace, that imports an
http(s) URL or a registry image into a PVC of the same name.  A VM's ``image`` names that PVC, and its root disk
is cloned from it.  Pure: the provider reads and writes the objects.

CDI's importer pod retries a failed import for ever, the DataVolume staying ``ImportInProgress`` with its
``Running`` condition false, the importer's message in it, and ``restartCount`` growing; an import is taken as
failed once it restarted more often than the image's ``retries``, or when CDI says ``Failed``.  A DataVolume
found before it succeeded (another task's import, or one a killed run left) is no usable image yet: it is
waited for, or reported when it failed (:func:`import_state`).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from ... import errors
from ...images import FAILED, IMPORTING, READY, ImageSpec, PreparedImage
from ...spec import parse_quantity
from . import translate as kv

IMAGE_LABEL = "virtrigaud.io/image"
# What CDI's importer stores: the guest's disk as a raw file in the PVC (content type kubevirt).
STORED_FORMAT = "raw"
ACCEPTED_OPTIONS = ("url", "registry", "storage", "size")
# The Running condition's reasons that are no failure of the importer.
_NOT_FAILED = ("", "Pending", "Completed", "Scheduled", "PodRunning")
_PERCENT = re.compile(r"^(\d{1,3}(?:\.\d+)?)%$")


def check_importable(spec: ImageSpec) -> None:
    """What CDI needs of an import, refused by name before anything is asked of the cluster."""
    if len(spec.name) > 253 or not kv.object_ref(spec.name) or "/" in spec.name:
        raise errors.SpecError("'%s' cannot name a DataVolume and its PVC: at most 253 lower-case letters, digits, "
                               "'-' and '.'" % spec.name, option="name")
    if spec.template:
        raise errors.UnsupportedError("on KubeVirt an image is a PVC: give its name as name, or import it with url",
                                      option="template")
    if spec.imports and not spec.size_bytes:
        raise errors.SpecError("CDI imports into a PVC as large as asked: give the image's size, at least its "
                               "virtual disk size", option="size")


def data_volume(spec: ImageSpec, namespace: str, storage_class: Optional[str]) -> dict[str, Any]:
    """The DataVolume that imports ``spec``; the PVC it fills carries its name."""
    source = {"registry": {"url": spec.url}} if spec.registry else {"http": {"url": spec.url}}
    storage: dict[str, Any] = {"resources": {"requests": {"storage": _quantity(spec.size_bytes or 0)}}}
    if storage_class:
        storage["storageClassName"] = storage_class
    return {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
            "metadata": {"name": spec.name, "namespace": namespace,
                         "labels": {kv.MANAGED_BY[0]: kv.MANAGED_BY[1], IMAGE_LABEL: spec.name}},
            "spec": {"source": source, "storage": storage}}


def _quantity(size_bytes: int) -> str:
    """Whole MiB, rounded up: what a PVC request is usually written in, and never smaller than asked."""
    mib = -(-size_bytes // (1024 * 1024))
    return "%dGi" % (mib // 1024) if mib % 1024 == 0 else "%dMi" % mib


def source_url(dv: Mapping[str, Any]) -> Optional[str]:
    """The URL a DataVolume imports from (docker:// for a registry), None for other sources."""
    source = (dv.get("spec") or {}).get("source") or {}
    for kind in ("http", "registry"):
        if isinstance(source.get(kind), dict):
            url = source[kind].get("url")
            return str(url) if url is not None else None
    return None


def check_same_source(spec: ImageSpec, dv: Mapping[str, Any]) -> None:
    """A DataVolume of the name that imports something else is another image: refused, as re-importing would
    replace the data of every VM cloned from it later."""
    found = source_url(dv)
    if spec.url and found != spec.url:
        raise errors.ConflictError(
            "DataVolume %s/%s imports %s, not %s; remove the image (state=absent) to import it again"
            % (dv["metadata"]["namespace"], dv["metadata"]["name"], found or "from another kind of source", spec.url),
            option="name")


def prepared(name: str, namespace: str, pvc: Optional[Mapping[str, Any]],
             dv: Optional[Mapping[str, Any]] = None, retries: int = 0) -> PreparedImage:
    """The image: a PVC (filled by its DataVolume, or one the namespace holds already), with how far its
    DataVolume's import got (``retries`` as in :func:`import_failure`)."""
    phase, message = import_state(dv, retries) if dv is not None else (READY, "")
    claim = pvc or {}
    spec = claim.get("spec") or ((dv or {}).get("spec") or {}).get("storage") or {}
    size = ((claim.get("status") or {}).get("capacity") or {}).get("storage") or \
        ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    return PreparedImage(name=name, id=name, path="%s/%s" % (namespace, name),
                         format=STORED_FORMAT if dv is not None else "",
                         size_bytes=parse_quantity(size, "size") if size else 0,
                         storage=spec.get("storageClassName") or "", phase=phase, message=message)


def import_state(dv: Mapping[str, Any], retries: int) -> tuple[str, str]:
    """The image's phase as its DataVolume tells it (READY once CDI succeeded, FAILED, else IMPORTING), with
    CDI's message when it failed or how far it got while it runs."""
    what = "DataVolume %s/%s" % (dv["metadata"].get("namespace"), dv["metadata"].get("name"))
    if succeeded(dv):
        return READY, ""
    failure = import_failure(dv, retries)
    if failure:
        return FAILED, "CDI could not import %s into %s: %s" % (source_url(dv) or "its source", what, failure)
    progress = progress_of(dv)
    return IMPORTING, "%s is %s%s" % (what, (dv.get("status") or {}).get("phase") or "Pending",
                                      ", %s imported" % progress if progress else "")


def import_failure(dv: Mapping[str, Any], retries: int) -> Optional[str]:
    """CDI's message when the import failed (see the module's doc), None while it has not."""
    status = dv.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    running = conditions.get("Running") or {}
    if status.get("phase") == "Failed":
        return running.get("message") or (conditions.get("Ready") or {}).get("message") or "the import failed"
    restarts = int(status.get("restartCount") or 0)
    if restarts > retries and running.get("status") == "False" and running.get("reason") not in _NOT_FAILED:
        times = "once" if restarts == 1 else "%d times" % restarts
        return "%s (the importer failed %s)" % (running.get("message") or running.get("reason"), times)
    return None


def progress_of(dv: Mapping[str, Any]) -> Optional[str]:
    """``status.progress`` when CDI reports a percentage ("N/A" before the importer runs)."""
    progress = str((dv.get("status") or {}).get("progress") or "")
    return progress if _PERCENT.match(progress) else None


def succeeded(dv: Mapping[str, Any]) -> bool:
    return (dv.get("status") or {}).get("phase") == "Succeeded"
