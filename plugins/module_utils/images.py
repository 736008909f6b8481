# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Images as the collection sees them: what to prepare (:class:`ImageSpec`), where it ended up
(:class:`PreparedImage`), parsed from module options or from upstream's VMImageSpec (ImagePrepare's
``image_json``), and the plan that turns one into the other.  Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from .errors import ProviderError, SpecError, UnsupportedError
from .spec import parse_quantity

CHECKSUM_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
IMAGE_FORMATS = ("qcow2", "raw", "vmdk")
SOURCE_OPTIONS = ("url", "path", "template")
# A container image in a registry, as CDI's DataVolume names one: only backends that pull images take it.
REGISTRY_SCHEME = "docker://"
# The options of an import every backend that imports takes, unless it says otherwise; ``size`` is none of them.
IMPORT_OPTIONS = ("url", "path", "checksum", "format", "storage")
# An image's phases, VMImage's own (status.phase): an import the backend runs is waited for, a failed one reported.
READY, IMPORTING, FAILED = "Ready", "Importing", "Failed"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_IMAGE_REFERENCE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*"
                              r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[0-9a-f]{64})?$")


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: str

    def __str__(self) -> str:
        return "%s:%s" % (self.algorithm, self.digest)


@dataclass(frozen=True)
class ImageSpec:
    """One image to have on a backend, under ``name``, from one of ``url``, ``path`` (a file where the caller
    runs) or ``template`` (an image the backend holds already, by name or id)."""

    name: str
    url: Optional[str] = None
    path: Optional[str] = None
    template: Optional[str] = None
    checksum: Optional[Checksum] = None
    format: Optional[str] = None
    storage: Optional[str] = None
    retries: int = 3
    size_bytes: Optional[int] = None

    @property
    def registry(self) -> bool:
        """Whether the image is a container image that the backend pulls from a registry."""
        return bool(self.url and self.url.startswith(REGISTRY_SCHEME))

    @property
    def source_option(self) -> str:
        """The option that says where the image comes from; ``name`` when none does (state=absent)."""
        return next((o for o in SOURCE_OPTIONS if getattr(self, o)), "name")

    @property
    def imports(self) -> bool:
        """Whether preparing it copies bytes into the backend (else the backend holds it already)."""
        return bool(self.url or self.path)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "path": self.path, "template": self.template,
                "checksum": str(self.checksum) if self.checksum else None, "format": self.format,
                "storage": self.storage, "size_bytes": self.size_bytes}


@dataclass(frozen=True)
class PreparedImage:
    """An image present on a backend: ``id`` is what a VM's ``image`` names, ``path`` where it lies.  ``phase``
    is READY when a VM can use it; an import the backend runs by itself (KubeVirt's CDI) can be found IMPORTING
    or FAILED, ``message`` then saying how far it got or why it failed."""

    name: str
    id: str
    path: str = ""
    format: str = ""
    size_bytes: int = 0
    storage: str = ""
    phase: str = READY
    message: str = ""

    @property
    def ready(self) -> bool:
        return self.phase == READY

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def not_ready(image: PreparedImage) -> str:
    """What a check-mode run says of an import it found in flight, which a real run waits for."""
    return "image %s is not usable yet (%s); a real run waits until it is" % (image.name, image.message)


def failed_import(message: str) -> ProviderError:
    """The failure of an import found failed.  A later task does not remove it, unlike the task that started an
    import and saw it fail: it did not start it, another task may still be waiting for it with more ``retries``,
    and what CDI left says why it failed."""
    return ProviderError("%s; it is left as it is: remove the image (state=absent) to import it again"
                         % message, option="name")


def parse_checksum(text: Any, algorithm: Optional[str] = None, option: str = "checksum") -> Optional[Checksum]:
    """``ALGORITHM:HEX`` (as ansible.builtin.get_url takes it), or bare HEX with ``algorithm`` given apart."""
    if not text:
        return None
    text = str(text).strip()
    if ":" in text:
        algorithm, text = text.split(":", 1)
    algorithm = (algorithm or "").lower()
    if algorithm not in CHECKSUM_LENGTHS:
        raise SpecError("give the checksum as ALGORITHM:HEX with ALGORITHM one of %s"
                        % ", ".join(CHECKSUM_LENGTHS), option=option)
    digest = text.lower()
    if not re.fullmatch("[0-9a-f]{%d}" % CHECKSUM_LENGTHS[algorithm], digest):
        raise SpecError("a %s checksum is %d hexadecimal digits" % (algorithm, CHECKSUM_LENGTHS[algorithm]),
                        option=option)
    return Checksum(algorithm, digest)


def parse_image_name(name: Any, option: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError("an image name is 1-255 letters, digits, '.', '_' or '-', starting with a letter or digit",
                        option=option)
    return name


def _parse_url(url: str, option: str) -> str:
    """An http(s) URL, or a registry image as ``docker://REGISTRY/NAME[:TAG|@DIGEST]``."""
    if url.startswith(REGISTRY_SCHEME):
        reference = url[len(REGISTRY_SCHEME):]
        if not _IMAGE_REFERENCE.match(reference):
            raise SpecError("'%s' is no registry image: docker://REGISTRY/NAME[:TAG] or @sha256:DIGEST" % url,
                            option=option)
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SpecError("'%s' is no http://, https:// or docker:// URL" % url, option=option)
    return url


def _parse_size(size: Any, option: str) -> Optional[int]:
    if size in (None, ""):
        return None
    size_bytes = parse_quantity(size, option)
    if size_bytes <= 0:
        raise SpecError("a size is more than nothing", option=option)
    return size_bytes


def check_import_options(spec: ImageSpec, accepted: tuple[str, ...], backend: str) -> None:
    """Refuse by name what of ``spec`` the backend's import does not carry out; ``accepted`` names the options it
    does (``registry`` for a docker:// URL).

    Raises:
        UnsupportedError: naming the first option the backend would ignore.
    """
    given = [("registry" if spec.registry else "url", "url", spec.url), ("path", "path", spec.path),
             ("checksum", "checksum", spec.checksum), ("format", "format", spec.format),
             ("storage", "storage", spec.storage), ("size", "size", spec.size_bytes)]
    for what, option, value in given:
        if value is not None and what not in accepted:
            text = "a registry image" if what == "registry" else option
            raise UnsupportedError("the %s backend's image import does not take %s" % (backend, text), option=option)


def _parse_format(fmt: Any, option: str) -> Optional[str]:
    if not fmt:
        return None
    if fmt not in IMAGE_FORMATS:
        raise SpecError("'%s' is not one of: %s" % (fmt, ", ".join(IMAGE_FORMATS)), option=option)
    return str(fmt)


def parse_image(params: Mapping[str, Any]) -> ImageSpec:
    """The module's options as an ImageSpec; ``state=present`` needs exactly one source.

    Raises:
        SpecError: naming the offending option.
    """
    name = parse_image_name(params.get("name"))
    given = [o for o in SOURCE_OPTIONS if params.get(o)]
    if len(given) > 1:
        raise SpecError("give only one of %s" % ", ".join(given), option=given[1])
    if not given and params.get("state", "present") == "present":
        raise SpecError("say where the image comes from with url, path or template", option="url")
    if params.get("template") and (params.get("checksum") or params.get("format")):
        raise SpecError("a template is used as the backend holds it: it is neither verified nor converted",
                        option="checksum" if params.get("checksum") else "format")
    retries = params.get("retries", 3)
    if not isinstance(retries, int) or not 0 <= retries <= 10:
        raise SpecError("retries is a whole number from 0 to 10", option="retries")
    return ImageSpec(
        name=name,
        url=_parse_url(params["url"], "url") if params.get("url") else None,
        path=params.get("path") or None,
        template=str(params["template"]) if params.get("template") else None,
        checksum=parse_checksum(params.get("checksum")),
        format=_parse_format(params.get("format"), "format"),
        storage=params.get("storage") or None,
        retries=retries,
        size_bytes=_parse_size(params.get("size"), "size"),
    )


def parse_vmimage(image_json: str, target_name: str, storage_hint: str = "") -> ImageSpec:
    """ImagePrepare's request: upstream's VMImageSpec (camelCase JSON), the VMImage's name, a storage hint.

    Raises:
        SpecError: naming the field of the VMImageSpec at fault.
    """
    if not image_json:
        raise SpecError("is empty: ImagePrepare needs the VMImage's spec as JSON", option="image_json")
    try:
        document = json.loads(image_json)
    except ValueError:
        raise SpecError("is not JSON", option="image_json") from None
    return vmimage_spec(document, parse_image_name(target_name, "target_name"), storage_hint, "image_json")


def vmimage_spec(document: Any, name: str, storage_hint: str, where: str) -> ImageSpec:
    """Upstream's VMImageSpec (camelCase), for the image ``name``; ``where`` names the spec in errors.

    Raises:
        SpecError: naming the field of the VMImageSpec at fault.
    """
    source = document.get("source") if isinstance(document, dict) else None
    if not isinstance(source, dict) or not source:
        raise SpecError("a VMImageSpec needs a source", option=where + ".source")
    kind, body = _one_source(source, where + ".source")
    where = "%s.source.%s" % (where, kind)
    checksum = parse_checksum(body.get("checksum"), body.get("checksumType") or "sha256", where + ".checksum")
    storage = storage_hint or body.get("storagePool") or body.get("storage") or None
    if kind in ("libvirt", "http") and (body.get("url") or body.get("path")):
        url = _parse_url(body["url"], where + ".url") if body.get("url") else None
        fmt = _parse_format(body.get("format"), where + ".format") if kind == "libvirt" else None
        return ImageSpec(name, url=url, path=None if url else body.get("path"), checksum=checksum, format=fmt,
                         storage=storage)
    if kind == "proxmox" and (body.get("templateID") or body.get("templateName")):
        return ImageSpec(name, template=str(body.get("templateID") or body["templateName"]), storage=storage)
    if kind == "vsphere" and body.get("ovaURL"):
        return ImageSpec(name, url=_parse_url(body["ovaURL"], where + ".ovaURL"), checksum=checksum, storage=storage)
    if kind == "vsphere" and body.get("templateName"):
        return ImageSpec(name, template=body["templateName"])
    if kind == "registry" and body.get("image"):
        return ImageSpec(name, url=_parse_url(REGISTRY_SCHEME + str(body["image"]), where + ".image"),
                         storage=storage)
    raise SpecError("images are prepared from a libvirt url or path, an http url, a registry image, a vSphere ovaURL, "
                    "or a Proxmox or vSphere template", option=where)


def _one_source(source: Mapping[str, Any], where: str) -> tuple[str, Mapping[str, Any]]:
    kinds = [k for k, v in source.items() if isinstance(v, dict) and v]
    if len(kinds) != 1:
        raise SpecError("give exactly one source kind, not %s" % (", ".join(sorted(kinds)) or "none"),
                        option=where)
    return kinds[0], source[kinds[0]]
