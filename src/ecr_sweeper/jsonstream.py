"""Reading a large JSON document without loading it whole: the members of its top-level object
one at a time, and the elements of an array member one at a time, from where it starts in the
file. Any valid JSON is read (the layout `write_plan` writes, or a person's edit of it); only
the arrays a caller streams are never held whole.

Pure Python over the standard library's decoder (`raw_decode` of one value at a time): no
dependency, and the values come out exactly as `json.loads` gives them.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_PART = re.compile(r"[0-9.eE+-]*")
_CHUNK = 1 << 20
_DECODER = json.JSONDecoder()


class JSONStreamError(ValueError):
    """The document is not JSON (or not the object the caller expects)."""


class NotAnObjectError(JSONStreamError):
    """The document is JSON, but not an object."""


@dataclass(frozen=True, slots=True)
class ArrayAt:
    """An array member left in the file: where it starts (the byte offset of its `[`)."""

    offset: int


class Streamed:
    """An array member as `members` meets it: its offset, and its elements to iterate now,
    one at a time (what is not iterated is skipped): whole (iterate it), or, when they are
    objects, member by member with arrays of their own streamed (`objects`)."""

    def __init__(self, at: ArrayAt, reader: _Reader) -> None:
        self.at = at
        self._reader = reader
        self._items: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        if self._items is None:
            self._items = self._reader.elements()
        return self._items

    def objects(self, streamed: frozenset[str]) -> Iterator[Iterator[tuple[str, Any]]]:
        """The elements, each an object read member by member as `members` reads the
        document's (an array member named in `streamed` is `Streamed`): iterate each before
        the next (what is not iterated is skipped)."""
        if self._items is None:
            self._items = self._reader.objects(streamed)
        return self._items

    def skip(self) -> None:
        """Read past what the caller did not iterate."""
        for _ in self._items if self._items is not None else self:
            pass


class _Reader:
    """A window on a binary file, decoded as UTF-8, that grows as values need it."""

    def __init__(self, file: IO[bytes], offset: int = 0, chunk: int = _CHUNK) -> None:
        file.seek(offset)
        self._chunk = chunk
        self._file = file
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._text = ""
        self._pos = 0
        self._base = offset  # the byte offset of self._text[0]
        self._eof = False

    def _fill(self) -> bool:
        """Read more of the file (dropping what was consumed); False at its end."""
        if self._eof:
            return False
        chunk = self._file.read(self._chunk)
        self._eof = not chunk
        self._base += len(self._text[: self._pos].encode("utf-8"))
        self._text = self._text[self._pos :] + self._decoder.decode(chunk, final=self._eof)
        self._pos = 0
        return True

    def offset(self) -> int:
        """The byte offset in the file of the next character to read."""
        return self._base + len(self._text[: self._pos].encode("utf-8"))

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the file)."""
        while True:
            match = _WHITESPACE.match(self._text, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._text):
                return self._text[self._pos]
            if not self._fill():
                return ""

    def take(self, expected: str) -> str:
        """The next character, which must be one of `expected`."""
        char = self.peek()
        if not char or char not in expected:
            found = repr(char) if char else "the end of the file"
            raise JSONStreamError(
                f"expected {' or '.join(map(repr, expected))} at byte "
                f"{self.offset()}, found {found}"
            )
        self._pos += 1
        return char

    def value(self) -> Any:
        """The next JSON value, whole."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                raise JSONStreamError(f"{exc.msg} at byte {self.offset()}") from exc
            # A number may go on in the next chunk ("0." of "0.5"): it ends where the window
            # shows something after it that is no part of a number, or at the end of the file.
            if (
                isinstance(value, int | float)
                and _NUMBER_PART.fullmatch(self._text, end)
                and self._fill()
            ):
                continue
            self._pos = end
            return value

    def elements(self) -> Iterator[Any]:
        """The elements of the array that starts here, one at a time."""
        self.take("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            if self.take(",]") == "]":
                return

    def members(self, streamed: frozenset[str]) -> Iterator[tuple[str, Any]]:
        """The members of the object that starts here (see `members`)."""
        self.take("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise JSONStreamError(f"expected a key at byte {self.offset()}")
            self.take(":")
            if key in streamed and self.peek() == "[":
                array = Streamed(ArrayAt(self.offset()), self)
                yield key, array
                array.skip()
            else:
                yield key, self.value()
            if self.take(",}") == "}":
                return

    def objects(self, streamed: frozenset[str]) -> Iterator[Iterator[tuple[str, Any]]]:
        """The elements of the array that starts here, each an object read member by member
        (what the caller does not iterate of one is skipped before the next)."""
        self.take("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            element = self.members(streamed)
            yield element
            for _ in element:
                pass
            if self.take(",]") == "]":
                return


def members(
    file: IO[bytes], streamed: frozenset[str], chunk: int = _CHUNK
) -> Iterator[tuple[str, Any]]:
    """The members of the top-level object, in the file's order: (key, value), where an array
    member named in `streamed` is `Streamed` (its offset, and its elements one at a time), and
    every other value is whole."""
    reader = _Reader(file, 0, chunk)
    if reader.peek() in '["-0123456789tfn' and reader.peek():
        reader.value()  # valid JSON, or not JSON at all: which error says it
        raise NotAnObjectError("expected a JSON object")
    yield from reader.members(streamed)
    if reader.peek():
        raise JSONStreamError(f"extra data at byte {reader.offset()}")


def elements(file: IO[bytes], at: ArrayAt, chunk: int = _CHUNK) -> Iterator[Any]:
    """The elements of the array at `at`, one at a time (read `chunk` bytes at a time)."""
    return _Reader(file, at.offset, chunk).elements()
