# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Images as CDI DataVolumes: the object sent, what counts as the same image, CDI's failures and progress."""

from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.images import (
    FAILED,
    IMPORT_OPTIONS,
    IMPORTING,
    READY,
    ImageSpec,
    check_import_options,
    not_ready,
    parse_image,
    parse_vmimage,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import plan_image
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.kubevirt import images as kvi

GIB = 1024 ** 3
URL = "http://images.example/tiny.qcow2"


def test_an_http_image_is_a_data_volume_of_its_name_sized_as_asked():
    spec = parse_image({"name": "tiny.qcow2", "url": URL, "size": "1536Mi"})
    dv = kvi.data_volume(spec, "vms", "fast")
    assert dv["metadata"]["name"] == "tiny.qcow2" and dv["metadata"]["namespace"] == "vms"
    assert dv["metadata"]["labels"][kvi.IMAGE_LABEL] == "tiny.qcow2"
    assert dv["spec"] == {"source": {"http": {"url": URL}},
                          "storage": {"resources": {"requests": {"storage": "1536Mi"}}, "storageClassName": "fast"}}
    assert kvi.source_url(dv) == URL


def test_a_registry_image_is_a_registry_source():
    spec = parse_image({"name": "fedora", "url": "docker://quay.io/containerdisks/fedora:40", "size": "5Gi"})
    dv = kvi.data_volume(spec, "vms", None)
    assert dv["spec"]["source"] == {"registry": {"url": "docker://quay.io/containerdisks/fedora:40"}}
    assert dv["spec"]["storage"] == {"resources": {"requests": {"storage": "5Gi"}}}


def test_a_vmimage_registry_source_is_a_docker_url():
    spec = parse_vmimage('{"source": {"registry": {"image": "quay.io/containerdisks/fedora:40"}}}', "fedora", "")
    assert spec.url == "docker://quay.io/containerdisks/fedora:40" and spec.registry


@pytest.mark.parametrize("params, option", [
    ({"name": "Tiny_Image", "url": URL, "size": "1Gi"}, "name"),
    ({"name": "tiny", "url": URL}, "size"),
])
def test_what_cdi_cannot_take_is_refused_by_name(params, option):
    with pytest.raises(errors.SpecError) as err:
        kvi.check_importable(parse_image(params))
    assert err.value.option == option


@pytest.mark.parametrize("params, option", [
    ({"checksum": "sha256:" + "0" * 64}, "checksum"),
    ({"format": "qcow2"}, "format"),
])
def test_options_kubevirt_would_ignore_are_refused(params, option):
    spec = parse_image(dict({"name": "tiny", "url": URL, "size": "1Gi"}, **params))
    with pytest.raises(errors.UnsupportedError) as err:
        check_import_options(spec, kvi.ACCEPTED_OPTIONS, "kubevirt")
    assert err.value.option == option


@pytest.mark.parametrize("params, option", [
    ({"url": "docker://quay.io/containerdisks/fedora:40"}, "url"),
    ({"url": URL, "size": "1Gi"}, "size"),
])
def test_other_backends_refuse_registry_images_and_sizes(params, option):
    with pytest.raises(errors.UnsupportedError) as err:
        check_import_options(parse_image(dict({"name": "tiny"}, **params)), IMPORT_OPTIONS, "libvirt")
    assert err.value.option == option


@pytest.mark.parametrize("url", ["docker://", "docker://Quay.io/x", "docker://quay.io/x:"])
def test_malformed_registry_urls_are_refused(url):
    with pytest.raises(errors.SpecError) as err:
        parse_image({"name": "x", "url": url})
    assert err.value.option == "url"


def test_a_template_is_no_kubevirt_image():
    with pytest.raises(errors.UnsupportedError) as err:
        kvi.check_importable(parse_image({"name": "base", "template": "base"}))
    assert err.value.option == "template"


def test_another_source_under_the_name_is_a_conflict():
    dv = kvi.data_volume(ImageSpec("tiny", url=URL, size_bytes=GIB), "vms", None)
    kvi.check_same_source(ImageSpec("tiny", url=URL), dv)
    kvi.check_same_source(ImageSpec("tiny"), dv)  # state=absent names no source
    with pytest.raises(errors.ConflictError) as err:
        kvi.check_same_source(ImageSpec("tiny", url=URL + ".other"), dv)
    assert err.value.option == "name" and "state=absent" in err.value.message


def test_the_image_reports_the_pvc():
    pvc = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}},
           "status": {"capacity": {"storage": "2Gi"}}}
    dv = dict(_dv("Succeeded"), spec={"storage": {}})
    image = kvi.prepared("tiny", "vms", pvc, dv)
    assert image.to_dict() == {"name": "tiny", "id": "tiny", "path": "vms/tiny", "format": "raw",
                               "size_bytes": 2 * GIB, "storage": "fast", "phase": "Ready", "message": ""}
    assert kvi.prepared("base", "vms", pvc).format == ""


def _dv(phase, restarts=0, running=None):
    conditions = [{"type": "Running", "status": "False", "reason": reason, "message": message}
                  for reason, message in ([running] if running else [])]
    return {"metadata": {"name": "tiny", "namespace": "vms"}, "spec": {"source": {"http": {"url": URL}}},
            "status": {"phase": phase, "restartCount": restarts, "conditions": conditions, "progress": "42.5%"}}


MESSAGE = "Unable to connect to http data source: expected status code 200, got 404. Status: 404 Not Found"


def test_an_import_fails_once_the_importer_restarted_more_than_retries():
    failing = _dv("ImportInProgress", 1, ("Error", MESSAGE))
    assert kvi.import_failure(failing, 1) is None
    assert kvi.import_failure(failing, 0) == MESSAGE + " (the importer failed once)"
    assert kvi.import_failure(_dv("Failed", 0, ("Error", "boom")), 3) == "boom"
    assert kvi.import_failure(_dv("ImportInProgress", 4, ("Pending", "")), 0) is None
    assert kvi.import_failure(_dv("Succeeded", 2, ("Completed", "Import Complete")), 0) is None


def test_progress_is_cdis_percentage():
    assert kvi.progress_of(_dv("ImportInProgress")) == "42.5%"
    assert kvi.progress_of({"status": {"progress": "N/A"}}) is None
    assert kvi.succeeded(_dv("Succeeded")) and not kvi.succeeded(_dv("ImportInProgress"))


def test_a_data_volume_found_is_ready_only_once_cdi_succeeded():
    assert kvi.import_state(_dv("Succeeded", 2, ("Completed", "Import Complete")), 0) == (READY, "")
    assert kvi.import_state(_dv("ImportInProgress"), 3) == (
        IMPORTING, "DataVolume vms/tiny is ImportInProgress, 42.5% imported")
    scheduled = dict(_dv("ImportScheduled"), status={"phase": "ImportScheduled", "progress": "N/A"})
    assert kvi.import_state(scheduled, 3) == (IMPORTING, "DataVolume vms/tiny is ImportScheduled")
    assert kvi.import_state(dict(_dv(""), status={}), 3) == (IMPORTING, "DataVolume vms/tiny is Pending")
    # Still retrying, but within what this task's retries allow: in flight, not failed.
    assert kvi.import_state(_dv("ImportInProgress", 1, ("Error", MESSAGE)), 1)[0] == IMPORTING


def test_a_data_volume_found_failed_names_itself_and_cdis_message():
    phase, message = kvi.import_state(_dv("ImportInProgress", 2, ("Error", MESSAGE)), 1)
    assert phase == FAILED
    assert message == "CDI could not import %s into DataVolume vms/tiny: %s (the importer failed 2 times)" % (
        URL, MESSAGE)
    assert kvi.import_state(_dv("Failed", 0, ("Error", "boom")), 3) == (
        FAILED, "CDI could not import %s into DataVolume vms/tiny: boom" % URL)


def test_the_image_carries_its_import_phase():
    importing = kvi.prepared("tiny", "vms", None, _dv("ImportInProgress"), 3)
    assert not importing.ready and importing.phase == IMPORTING and "42.5%" in importing.message
    assert "not usable yet" in not_ready(importing)
    assert kvi.prepared("base", "vms", {"spec": {}}).ready  # a PVC of its own, no DataVolume


def test_a_later_task_waits_for_an_import_in_flight_and_refuses_a_failed_one_by_name():
    spec = ImageSpec("tiny", url=URL, size_bytes=GIB)
    importing = kvi.prepared("tiny", "vms", None, _dv("ImportInProgress"), 3)
    assert not plan_image("present", spec, importing).changed
    failed = kvi.prepared("tiny", "vms", None, _dv("Failed", 0, ("Error", "boom")), 3)
    with pytest.raises(errors.ProviderError) as err:
        plan_image("present", spec, failed)
    assert err.value.option == "name" and "DataVolume vms/tiny: boom" in err.value.message
    assert "state=absent" in err.value.message
    assert [a.action for a in plan_image("absent", spec, failed).actions] == ["image_delete"]
