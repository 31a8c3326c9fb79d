"""Reading a CLI command's arguments: data-format objects and keywords on one line.

The manual's CLI syntax (26034-26044): arguments are objects in the text data format
(``"quoted strings"``, atoms, ``#numbers``, ``(arrays)``, ``{dictionaries}``...),
separated by spaces, all on the command line; keywords (``QUEUE``, ``REPORT``,
``into``) are case-insensitive atoms. :class:`Arguments` finds where each object ends
(quotes, brackets and nesting), then parses that slice with
:func:`unigate.dataformat.loads_line`, so the grammar stays the data format's own.
"""

from __future__ import annotations

from unigate import dataformat

__all__ = ["ArgumentError", "Arguments"]

_OPEN = {"(": ")", "{": "}"}


class ArgumentError(ValueError):
    """The arguments do not fit the command (the reply is ``500 <text>``)."""


def _quoted_end(text: str, pos: int) -> int:
    """The index after the closing quote of the string starting at ``pos``."""
    i = pos + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        i += 1
    raise ArgumentError("unterminated quoted string")


def _object_end(text: str, pos: int) -> int:
    """The index where the object starting at ``pos`` ends (it may be invalid: loads decides)."""
    c = text[pos]
    if c == '"':
        return _quoted_end(text, pos)
    if c == "[":
        end = text.find("]", pos)
        if end < 0:
            raise ArgumentError("unterminated datablock")
        return end + 1
    if c in _OPEN:
        closers: list[str] = [_OPEN[c]]
        i = pos + 1
        while i < len(text):
            c = text[i]
            if c == '"':
                i = _quoted_end(text, i)
                continue
            if c == "[":
                end = text.find("]", i)
                if end < 0:
                    raise ArgumentError("unterminated datablock")
                i = end + 1
                continue
            if c in _OPEN:
                closers.append(_OPEN[c])
            elif c in ")}":
                if c != closers.pop():
                    raise ArgumentError(f"unbalanced {c!r}")
                if not closers:
                    return i + 1
            i += 1
        raise ArgumentError("unterminated array or dictionary")
    end = text.find(" ", pos)
    return len(text) if end < 0 else end


class Arguments:
    """A cursor over the arguments of one command line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip(self) -> int:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1
        return self.pos

    @property
    def at_end(self) -> bool:
        return self._skip() >= len(self.text)

    def value(self, what: str = "argument") -> dataformat.Value:
        """The next object; ArgumentError if there is none or it is malformed."""
        start = self._skip()
        if start >= len(self.text):
            raise ArgumentError(f"missing {what}")
        end = _object_end(self.text, start)
        try:
            value = dataformat.loads_line(self.text[start:end])
        except dataformat.DataFormatError as exc:
            raise ArgumentError(f"bad {what}: {exc}") from None
        self.pos = end
        return value

    def string(self, what: str = "argument") -> str:
        """The next object, which must be a string."""
        value = self.value(what)
        if not isinstance(value, str):
            raise ArgumentError(f"{what} must be a string")
        return value

    def number(self, what: str = "argument") -> int:
        """The next object as a number: ``#5``, or a string of digits (``5``) as clients send."""
        value = self.value(what)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        raise ArgumentError(f"{what} must be a number")

    def keyword(self, *words: str) -> str | None:
        """Consume the next argument if it is one of ``words`` (any case); return it upper-cased."""
        start = self._skip()
        if start >= len(self.text):
            return None
        end = _object_end(self.text, start)
        token = self.text[start:end].upper()
        if token in (w.upper() for w in words):
            self.pos = end
            return token
        return None

    def expect(self, word: str) -> None:
        """Consume the keyword ``word`` or fail."""
        if self.keyword(word) is None:
            raise ArgumentError(f"{word} expected")

    def end(self) -> None:
        """Fail if anything is left."""
        if not self.at_end:
            raise ArgumentError(f"unexpected {self.text[self.pos :]!r}")
