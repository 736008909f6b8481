# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError, UnsupportedError
from ansible_collections.virtrigaud.core.plugins.module_utils.images import ImageSpec
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.proxmox.images import (
    check_importable,
    content_type,
    image_node,
)


@pytest.mark.parametrize("name, content", [("a.iso", "iso"), ("a.IMG", "iso"), ("a.qcow2", "import"),
                                           ("a.raw", "import"), ("a.vmdk", "import"), ("a.ova", "import")])
def test_the_extension_picks_the_content_type(name, content):
    assert content_type(ImageSpec(name, url="http://h/x")) == content


@pytest.mark.parametrize("spec, error, option", [
    (ImageSpec("disk", url="http://h/x"), SpecError, "name"),
    (ImageSpec("a.qcow2", path="/x.qcow2"), UnsupportedError, "path"),
    (ImageSpec("a.qcow2", url="http://h/x", format="raw"), UnsupportedError, "format"),
])
def test_what_download_url_cannot_do_is_refused_by_name(spec, error, option):
    with pytest.raises(error) as err:
        check_importable(spec)
    assert err.value.option == option


def test_the_downloading_node_is_the_same_on_every_run():
    assert image_node(["pve3", "pve1"], None) == "pve1"
    assert image_node(["pve3", "pve1"], "pve3") == "pve3"
    with pytest.raises(SpecError) as err:
        image_node(["pve1"], "pve9")
    assert err.value.option == "default_node"
