# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Kubernetes list answer read as it arrives: its items one at a time, never the whole body at once.

A list of 10,000 VMs is tens of megabytes of JSON; decoded at once, the body, its text and every item are in
memory together.  Read here, only the item being decoded and a chunk of the body are.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, Iterable, Iterator

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\r\n"


class ListBodyError(ValueError):
    """The body is not a JSON object, or ends before it is whole."""


class _Text:
    """The body's text from its chunks: a window that grows by a chunk when a value runs past its end."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.window = ""
        self.at = 0
        self.ended = False

    def more(self) -> bool:
        """Read one more chunk into the window, dropping what was read before; False once the body ended."""
        if self.ended:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self.ended = True
            text = self._utf8.decode(b"", final=True)
        else:
            text = self._utf8.decode(chunk)
        self.window = self.window[self.at:] + text
        self.at = 0
        return True

    def next_char(self) -> str:
        """The next character that is not whitespace, not consumed; "" at the end of the body."""
        while True:
            while self.at < len(self.window) and self.window[self.at] in _WHITESPACE:
                self.at += 1
            if self.at < len(self.window):
                return self.window[self.at]
            if not self.more():
                return ""

    def expect(self, wanted: str) -> str:
        found = self.next_char()
        if not found or found not in wanted:
            raise ListBodyError("expected one of %r in a list body, found %r" % (wanted, found or "its end"))
        self.at += 1
        return found

    def value(self) -> Any:
        """The JSON value that starts here, read whole."""
        self.next_char()
        while True:
            try:
                found, end = _DECODER.raw_decode(self.window, self.at)
            except json.JSONDecodeError:
                if not self.more():
                    raise ListBodyError("a list body ended inside a value") from None
                continue
            if end == len(self.window) and not self.ended and isinstance(found, (int, float)):
                self.more()  # a number at the window's end may go on in the next chunk
                continue
            self.at = end
            return found


def read_list(chunks: Iterable[bytes], fields: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The items of a list body given as chunks of bytes, each as soon as it is whole; the body's other
    top-level fields (``metadata`` and its ``continue``, ``kind``) go to ``fields`` as they are read."""
    text = _Text(chunks)
    text.expect("{")
    if text.next_char() == "}":
        return
    while True:
        key = text.value()
        text.expect(":")
        if key == "items" and text.next_char() == "[":
            yield from _items(text)
        else:
            fields[key] = text.value()
        if text.expect(",}") == "}":
            return


def _items(text: _Text) -> Iterator[dict[str, Any]]:
    text.expect("[")
    if text.next_char() == "]":
        text.at += 1
        return
    while True:
        yield text.value()
        if text.expect(",]") == "]":
            return
