# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage content: the listing (in the schema subset), ``download-url`` and volume removal (outside it).

``download-url`` fetches for real, from whatever URL it is given (the test bed's image server), in a worker
task, the way PVE's does: the checks on the storage, the content type and the file name fail before the fork;
the download and the checksum fail inside the task, and a failed task leaves no file behind.  The file lands in
the storage's folder (``<node>/template/iso`` or ``<node>/import``: the fake's storages are one folder for all
nodes), and its volume belongs to the node it was downloaded on.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote

from .api import ParamError
from .handlers import Params, handler
from .model import Cluster, Storage
from .tasks import PveError, Task

# PVE's file name rules per content type (Storage.pm's ISO and import extension patterns; vztmpl's archives).
EXTENSIONS = {
    "iso": re.compile(r"\.(iso|img)$", re.I),
    "vztmpl": re.compile(r"\.tar\.(gz|xz|zst|bz2)$"),
    "import": re.compile(r"\.(ova|qcow2|raw|vmdk)$"),
}
FOLDERS = {"iso": "template/iso", "vztmpl": "template/cache", "import": "import"}
DOWNLOADED = tuple(FOLDERS)
CHUNK = 1024 * 1024
DOWNLOAD_SECONDS = 60


def _normalise(filename: str) -> str:
    """PVE replaces what a file name may not hold rather than refusing it."""
    return re.sub(r"[^-_.a-zA-Z0-9]", "_", filename)


def _volname(content: str, filename: str) -> str:
    return "%s/%s" % ("iso" if content == "iso" else content if content == "import" else "vztmpl", filename)


def _file_storage(cluster: Cluster, name: str) -> Storage:
    storage = cluster.storage(name)
    if storage.path is None:
        raise PveError("can't upload to storage type '%s', not a file based storage!" % storage.type)
    return storage


def _on_node(volume: dict[str, Any], node: str, storage: Storage) -> bool:
    return storage.shared or volume.get("node") in (None, node)


@handler
def storage_content(cluster: Cluster, params: Params, user: str) -> Any:
    cluster.node(params["node"])
    storage = cluster.storage(params["storage"])
    entries = []
    for volid, volume in sorted(cluster.volumes.items()):
        if not volid.startswith(storage.name + ":") or not _on_node(volume, params["node"], storage):
            continue
        content = volume.get("content", "images")
        if params.get("content") and params["content"] != content:
            continue
        if params.get("vmid") and volume.get("vmid") != params["vmid"]:
            continue
        entry = {"volid": volid, "content": content, "size": volume["size"],
                 "format": volume.get("format", "qcow2" if storage.type == "dir" else "raw"),
                 "ctime": volume.get("ctime", 0)}
        if volume.get("vmid"):
            entry["vmid"] = volume["vmid"]
        entries.append(entry)
    return entries


def _check_download(cluster: Cluster, params: Params) -> tuple[Storage, str]:
    """PVE's checks before the fork: 500 for the storage, 400 naming the parameter for the rest."""
    cluster.node(params["node"])
    storage = _file_storage(cluster, params["storage"])
    content = params["content"]
    if content not in storage.content.split(","):
        raise PveError("storage '%s' is not configured for content-type '%s'" % (storage.name, content))
    filename = _normalise(params["filename"])
    if not EXTENSIONS[content].search(filename):
        raise ParamError({"filename": "wrong file extension"})
    if bool(params.get("checksum")) != bool(params.get("checksum-algorithm")):
        missing = "checksum-algorithm" if params.get("checksum") else "checksum"
        raise ParamError({missing: "parameter is missing and it is required when the other checksum option is set"})
    if "compression" in params:
        if content != "iso":
            raise ParamError({"compression": "decompression is only supported for content type 'iso'"})
        raise ParamError({"compression": "the fake PVE does not decompress downloads"})
    volid = "%s:%s" % (storage.name, _volname(content, filename))
    if volid in cluster.volumes and _on_node(cluster.volumes[volid], params["node"], storage):
        raise PveError("refusing to override existing file '%s'" % _path(storage, params["node"], content, filename))
    return storage, volid


def _path(storage: Storage, node: str, content: str, filename: str) -> str:
    return os.path.join(storage.path or "", node, FOLDERS[content], filename)


def _fetch(url: str, part: str, task: Task) -> None:
    task.log.append("downloading %s to %s" % (url, part))
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_SECONDS) as response, open(part, "wb") as handle:
            for data in iter(lambda: response.read(CHUNK), b""):
                handle.write(data)
    except urllib.error.HTTPError as err:
        raise PveError("download failed: %d %s" % (err.code, err.reason)) from None
    except (urllib.error.URLError, OSError) as err:
        raise PveError("download failed: %s" % getattr(err, "reason", err)) from None


def _digest(path: str, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for data in iter(lambda: handle.read(CHUNK), b""):
            digest.update(data)
    return digest.hexdigest()


@handler
def download_url(cluster: Cluster, params: Params, user: str) -> Any:
    storage, volid = _check_download(cluster, params)
    node, content = params["node"], params["content"]
    target = _path(storage, node, content, _normalise(params["filename"]))
    part = "%s.tmp_dwnl.%d" % (target, os.getpid())

    def fetch(task: Task) -> None:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            _fetch(params["url"], part, task)
            if params.get("checksum"):
                actual = _digest(part, params["checksum-algorithm"])
                expected = params["checksum"].strip().lower()
                if actual != expected:
                    raise PveError("checksum mismatch: got '%s' != expect '%s'" % (actual, expected))
                task.log.append("%s checksum verified" % params["checksum-algorithm"])
        except PveError:
            if os.path.exists(part):
                os.remove(part)
            raise

    def register(task: Task) -> None:
        if volid in cluster.volumes:
            os.remove(part)
            raise PveError("refusing to override existing file '%s'" % target)
        os.replace(part, target)
        cluster.volumes[volid] = {"size": os.path.getsize(target), "vmid": 0, "base": None, "node": node,
                                  "content": content, "format": _format(content, target), "path": target,
                                  "ctime": int(time.time())}
        task.log.append("download of '%s' to '%s' finished" % (params["url"], target))

    return cluster.tasks.start(node, "download", "", user, register, fetch=fetch)


def _format(content: str, path: str) -> str:
    return "iso" if content == "iso" else "tgz" if content == "vztmpl" else path.rsplit(".", 1)[-1]


@handler
def storage_content_delete(cluster: Cluster, params: Params, user: str) -> Any:
    node = params["node"]
    cluster.node(node)
    storage = cluster.storage(params["storage"])
    volume = unquote(params["volume"])
    volid = volume if ":" in volume else "%s:%s" % (storage.name, volume)
    found = cluster.volumes.get(volid)
    if found is None or not _on_node(found, node, storage):
        raise PveError("volume '%s' does not exist" % volid)
    if found.get("content", "images") not in DOWNLOADED:
        raise PveError("the fake PVE removes only iso, vztmpl and import volumes, not '%s'" % volid)

    def remove(task: Task) -> None:
        gone = cluster.volumes.pop(volid, None)
        if gone and gone.get("path") and os.path.exists(gone["path"]):
            os.remove(gone["path"])
        task.log.append("removed volume '%s'" % volid)

    return cluster.tasks.start(node, "imgdel", "", user, remove)
