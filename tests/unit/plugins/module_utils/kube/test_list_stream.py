# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A list answer read as it arrives, cut anywhere: the same items and fields as the whole body decoded."""

from __future__ import annotations

import json

import pytest

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.list_stream import ListBodyError, read_list

ITEMS = [{"metadata": {"name": "vm-%d" % n, "labels": {"owner": "é€😀"}},
          "spec": {"n": n, "ratio": 1.5e3, "on": True, "none": None, "list": [12345, "a\"b"]}} for n in range(40)]
LIST = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineList",
        "metadata": {"resourceVersion": "12", "remainingItemCount": 0}, "items": ITEMS}


def chunked(body, size):
    return [body[at:at + size] for at in range(0, len(body), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100000])
@pytest.mark.parametrize("indent", [None, 2])
def test_any_cut_of_the_body_gives_the_same_items_and_fields(size, indent):
    body = json.dumps(LIST, ensure_ascii=False, indent=indent).encode()
    fields = {}
    assert list(read_list(chunked(body, size), fields)) == ITEMS
    assert fields == {key: value for key, value in LIST.items() if key != "items"}


@pytest.mark.parametrize("body,items,fields", [
    (b"{}", [], {}),
    (b'{"items": []}', [], {}),
    (b'{"items": null, "kind": "X"}', [], {"items": None, "kind": "X"}),
    (b'{"metadata": {"continue": ""}, "items": [1]}', [1], {"metadata": {"continue": ""}}),
])
def test_short_and_empty_lists(body, items, fields):
    found = {}
    assert list(read_list(chunked(body, 3), found)) == items
    assert found == fields


@pytest.mark.parametrize("body", [b"", b"[]", b'{"items": [{"a": 1}', b'{"items": [{"a": 1}]', b'{"items": [1 2]}',
                                  b'{"items": [{"a": tru'])
def test_a_body_that_is_not_a_whole_list_is_refused(body):
    with pytest.raises(ListBodyError):
        list(read_list(chunked(body, 4), {}))
