# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CDI's import of a DataVolume with an http or registry source, played as CDI does it.

The PVC is made first, as large as the DataVolume asks (not as the file), and bound; then the importer fetches
the URL for real, in a thread of its own, writing ``status.progress`` as ``NN.N%`` while the bytes come.  A
failed fetch (a status other than 200, a connection refused) leaves the DataVolume ``ImportInProgress`` with its
``Running`` condition false, reason ``Error`` and the importer's message, and ``restartCount`` one higher; the
importer runs again after a back-off, for ever, as CDI's importer pod does.  A qcow2 whose virtual size exceeds
the PVC fails the same way.  The bytes themselves are dropped: no provisioner stores data here.

A registry image cannot be pulled (no registry is reachable from the test bed): a well-formed ``docker://`` URL
succeeds at once, and nothing else is checked of it.
"""

from __future__ import annotations

import logging
import re
import struct
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from . import client as k
from .client import Api

LOG = logging.getLogger("kubevirt-standin")
CHUNK = 256 * 1024
PROGRESS_SECONDS = 0.5
# CDI's importer pod restarts with the kubelet's back-off (10 s, doubling); shortened here, so that tests wait less.
BACKOFF_SECONDS = (1.0, 2.0, 4.0)
QCOW2_MAGIC = b"QFI\xfb"
_REGISTRY = re.compile(r"^docker://[a-z0-9][a-z0-9._:/-]*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9._-]*|@sha256:[0-9a-f]{64})?$")


class ImportError_(Exception):
    """The importer's failure, with the message CDI's importer writes."""


def condition(kind: str, status: bool, reason: str = "", message: str = "") -> dict:
    return {"type": kind, "status": "True" if status else "False", "reason": reason, "message": message}


def http_failure(url: str, err: Exception) -> str:
    """The importer's message for a fetch that failed, worded as CDI's."""
    if isinstance(err, urllib.error.HTTPError):
        return ("Unable to connect to http data source: expected status code 200, got %d. Status: %d %s"
                % (err.code, err.code, err.reason))
    reason = getattr(err, "reason", err)
    parts = urlsplit(url)
    if isinstance(reason, ConnectionRefusedError):
        return ('Unable to connect to http data source: HTTP request errored: Get "%s": dial tcp %s:%s: connect: '
                "connection refused" % (url, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))
    return 'Unable to connect to http data source: HTTP request errored: Get "%s": %s' % (url, reason)


def qcow2_virtual_size(head: bytes) -> Optional[int]:
    """A qcow2 header's virtual size (bytes 24-31, big-endian), None for anything else."""
    if len(head) >= 32 and head[:4] == QCOW2_MAGIC:
        return int(struct.unpack(">Q", head[24:32])[0])
    return None


class Importer:
    """One fetch at a time per DataVolume (by uid); ``requeue`` brings the DataVolume back after a back-off."""

    def __init__(self, api: Api, requeue: Callable[[tuple[str, str, str], float], None]) -> None:
        self.api = api
        self.requeue = requeue
        self.running: set[str] = set()
        # Where the importer failed: not before this (time.monotonic()) does it run again, whatever wakes it.
        self.resume_at: dict[str, float] = {}
        self.lock = threading.Lock()

    def start(self, dv: dict, capacity: int) -> None:
        uid = dv["metadata"]["uid"]
        with self.lock:
            if uid in self.running or time.monotonic() < self.resume_at.get(uid, 0.0):
                return
            self.running.add(uid)
        threading.Thread(target=self._run, args=(dv, capacity), daemon=True).start()

    def _status(self, dv: dict, status: dict) -> None:
        self.api.patch(k.DV, dv["metadata"]["name"], dv["metadata"]["namespace"], {"status": status}, "status")

    def _again(self, dv: dict, seconds: float) -> None:
        metadata = dv["metadata"]
        with self.lock:
            self.resume_at[metadata["uid"]] = time.monotonic() + seconds
        self.requeue(("dv", metadata["namespace"], metadata["name"]), seconds)

    def _run(self, dv: dict, capacity: int) -> None:
        metadata = dv["metadata"]
        bound = condition("Bound", True, "Bound", "PVC %s Bound" % metadata["name"])
        restarts = int((dv.get("status") or {}).get("restartCount") or 0)
        try:
            self._status(dv, {"phase": "ImportInProgress", "progress": "0.0%", "conditions": [
                bound, condition("Ready", False, "TransferRunning"), condition("Running", True, "Pod is running")]})
            self._fetch(dv, capacity)
            self._status(dv, {"phase": "Succeeded", "progress": "100.0%", "conditions": [
                bound, condition("Ready", True), condition("Running", False, "Completed", "Import Complete")]})
        except ImportError_ as err:
            LOG.info("DataVolume %s/%s: the importer failed: %s", metadata["namespace"], metadata["name"], err)
            self._status(dv, {"restartCount": restarts + 1, "conditions": [
                bound, condition("Ready", False, "TransferRunning"), condition("Running", False, "Error", str(err))]})
            self._again(dv, BACKOFF_SECONDS[min(restarts, len(BACKOFF_SECONDS) - 1)])
            return
        except Exception as err:  # the DataVolume went away meanwhile, or the API did: look again later
            LOG.warning("DataVolume %s/%s: %s", metadata["namespace"], metadata["name"], err)
            self._again(dv, 1.0)
            return
        finally:
            with self.lock:
                self.running.discard(metadata["uid"])
        LOG.info("DataVolume %s/%s imported", metadata["namespace"], metadata["name"])
        for ref in metadata.get("ownerReferences") or []:
            if ref.get("kind") == "VirtualMachine":
                self.requeue(("vm", metadata["namespace"], ref["name"]), 0.0)

    def _fetch(self, dv: dict, capacity: int) -> None:
        source = dv["spec"]["source"]
        if "registry" in source:
            url = str((source["registry"] or {}).get("url") or "")
            if not _REGISTRY.match(url):
                raise ImportError_("Unable to process data: invalid registry image reference %s" % url)
            return
        url = source["http"]["url"]
        try:
            response = urllib.request.urlopen(url, timeout=30)  # noqa: S310 - the test bed's own image server
        except (urllib.error.URLError, OSError) as err:
            raise ImportError_(http_failure(url, err)) from None
        with response:
            total = int(response.headers.get("Content-Length") or 0)
            done, said = 0, time.monotonic()
            head = response.read(CHUNK)
            virtual = qcow2_virtual_size(head)
            if virtual is not None and virtual > capacity:
                raise ImportError_("Virtual image size %d is larger than the reported available storage %d. "
                                   "A larger PVC is required." % (virtual, capacity))
            data = head
            while data:
                done += len(data)
                if total and time.monotonic() - said >= PROGRESS_SECONDS:
                    said = time.monotonic()
                    self._status(dv, {"progress": "%.1f%%" % min(99.9, 100.0 * done / total)})
                try:
                    data = response.read(CHUNK)
                except OSError as err:
                    raise ImportError_(http_failure(url, err)) from None
            if total and done < total:
                raise ImportError_("Unable to process data: unexpected EOF after %d of %d bytes" % (done, total))


def import_source(dv: dict) -> bool:
    """Whether the DataVolume's source is one the importer fills."""
    source = dv["spec"].get("source") or {}
    return "http" in source or "registry" in source


def scheduled(phase: Any) -> bool:
    return phase in ("ImportScheduled", "ImportInProgress")
