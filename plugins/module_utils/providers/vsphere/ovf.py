# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An OVA deployed to a template, the way vSphere's own clients do it.

The OVA (a tar: the OVF descriptor first, then the files it references) is fetched and verified where the caller
runs (image_transfer), then: OvfManager.CreateImportSpec turns the descriptor into an import spec for a resource
pool and datastore; ResourcePool.ImportVApp opens an HttpNfcLease; each disk the lease asks for is PUT to its
device URL; the lease is completed, and the new VM is marked as a template.  A failure aborts the lease, which
removes what the import made.
"""

from __future__ import annotations

import tarfile
import urllib.error
import urllib.request
from typing import Any, Optional

from ...errors import PreconditionError, ProviderError, SpecError, UnsupportedError
from ...image_transfer import LocalImage
from ...images import ImageSpec
from ...resilience import Deadline, poll
from .client import tls_context

try:
    from pyVmomi import vim
except ImportError:  # pragma: no cover - client.connect reports it
    vim = None  # type: ignore[assignment]  # unused without pyVmomi

LEASE_SECONDS = 300.0
UPLOAD_SECONDS = 600.0


def check_importable(spec: ImageSpec) -> None:
    """What an OVA import cannot do, refused by name before vCenter is asked."""
    if spec.format:
        raise UnsupportedError("vSphere imports the OVA's disks as they are; it does not convert", option="format")
    source = spec.url or spec.path or ""
    if not source.lower().split("?", 1)[0].endswith(".ova"):
        raise SpecError("vSphere imports an OVA (one .ova file, the OVF descriptor first)", option=spec.source_option)


def read_ova(path: str) -> tuple[str, dict[str, tarfile.TarInfo]]:
    """The OVF descriptor's text and the OVA's members by name."""
    try:
        with tarfile.open(path, "r:") as ova:
            members = {m.name: m for m in ova.getmembers() if m.isfile()}
            descriptor = next((m for m in members.values() if m.name.endswith(".ovf")), None)
            if descriptor is None:
                raise SpecError("the OVA holds no .ovf descriptor", option="url")
            handle = ova.extractfile(descriptor)
            return (handle.read().decode("utf-8") if handle else ""), members
    except tarfile.TarError as err:
        raise SpecError("the file is no OVA (a tar archive): %s" % err, option="url") from None


class OvaImport:
    """One OVA into one resource pool, folder and datastore, as the template ``spec.name``."""

    def __init__(self, content: Any, session_cookie: str, host: str, validate_certs: bool) -> None:
        self.content = content
        self.cookie = session_cookie
        self.host = host
        self.validate_certs = validate_certs

    def deploy(self, spec: ImageSpec, local: LocalImage, where: tuple[Any, Any, Optional[Any], Any]) -> Any:
        """The template made from the OVA; the lease is aborted on any failure."""
        folder, pool, host, datastore = where
        descriptor, members = read_ova(local.path)
        params = vim.OvfManager.CreateImportSpecParams(entityName=spec.name, diskProvisioning="thin")
        result = self.content.ovfManager.CreateImportSpec(descriptor, pool, datastore, params)
        if result.error:
            raise SpecError("vCenter refused the OVF descriptor: %s" % "; ".join(
                e.localizedMessage or type(e).__name__ for e in result.error), option=spec.source_option)
        lease = pool.ImportVApp(result.importSpec, folder, host)
        try:
            self._wait_ready(lease)
            # vCenter forgets a lease once it is complete: read the new VM first.
            vm = lease.info.entity
            files = {item.deviceId: item for item in result.fileItem or []}
            for device in lease.info.deviceUrl:
                item = files.get(device.importKey)
                if item is not None:
                    self._upload(local.path, members, item.path, device.url)
            lease.HttpNfcLeaseProgress(100)
            lease.HttpNfcLeaseComplete()
        except BaseException:
            _abort(lease)
            raise
        vm.MarkAsTemplate()
        return vm

    @staticmethod
    def _wait_ready(lease: Any) -> None:
        def ready() -> Optional[bool]:
            if lease.state == vim.HttpNfcLease.State.error:
                fault = lease.error
                raise ProviderError("the import lease failed: %s" % (
                    (getattr(fault, "msg", None) or type(fault).__name__) if fault else "no reason given"))
            return True if lease.state == vim.HttpNfcLease.State.ready else None

        poll(ready, Deadline(LEASE_SECONDS), "the import lease", interval=0.2, max_interval=2.0)

    def _upload(self, path: str, members: dict[str, tarfile.TarInfo], name: str, url: str) -> None:
        member = members.get(name)
        if member is None:
            raise SpecError("the OVF references '%s', which the OVA lacks" % name, option="url")
        target = url.replace("://*", "://%s" % self.host, 1)
        with tarfile.open(path, "r:") as ova:
            handle = ova.extractfile(member)
            request = urllib.request.Request(target, data=handle, method="PUT", headers={
                "Content-Type": "application/x-vnd.vmware-streamVmdk", "Content-Length": str(member.size),
                "Cookie": self.cookie})
            try:
                urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls_context(self.validate_certs))).open(
                    request, timeout=UPLOAD_SECONDS).close()
            except urllib.error.HTTPError as err:
                raise ProviderError("uploading %s to the import lease: HTTP %d %s" % (name, err.code, err.reason)) \
                    from None
            except (urllib.error.URLError, OSError) as err:
                raise PreconditionError("uploading %s to the import lease: %s" % (
                    name, getattr(err, "reason", err))) from None


def _abort(lease: Any) -> None:
    try:
        lease.HttpNfcLeaseAbort()
    except Exception:  # pylint: disable=broad-exception-caught  # the first failure is the one to report
        pass
