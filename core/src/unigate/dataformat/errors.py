"""The one exception of the text data format codec.

Parsing errors carry the character offset into the text and the 1-based line and
column, so a broken settings file can be pointed at precisely.  Serialization
errors (a value the format cannot represent) use the same class with no position.
"""

from __future__ import annotations

__all__ = ["DataFormatError"]


class DataFormatError(ValueError):
    """Text is not a valid data format object, or a value cannot be written as one.

    :ivar msg: what went wrong, naming what was expected.
    :ivar position: 0-based character offset into the parsed text, or None.
    :ivar line: 1-based line number of ``position``, or None.
    :ivar column: 1-based column (in characters) of ``position``, or None.
    """

    def __init__(
        self,
        msg: str,
        position: int | None = None,
        text: str | None = None,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.msg = msg
        self.position = position
        if position is not None and text is not None and line is None:
            line, column = _line_column(text, position)
        self.line = line
        self.column = column
        if line is not None and column is not None:
            full = f"{msg} (line {line}, column {column})"
        elif position is not None:
            full = f"{msg} (offset {position})"
        else:
            full = msg
        super().__init__(full)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild,
            (self.msg, self.position, self.line, self.column),
        )


def _rebuild(
    msg: str, position: int | None, line: int | None, column: int | None
) -> DataFormatError:
    return DataFormatError(msg, position, line=line, column=column)


def _line_column(text: str, position: int) -> tuple[int, int]:
    """Return the 1-based (line, column) of ``position``; CR, LF and CRLF end lines."""
    head = text[:position]
    # Count CRLF as one line break, lone CR and lone LF as one each.
    line = head.count("\n") + head.count("\r") - head.count("\r\n") + 1
    last = max(head.rfind("\n"), head.rfind("\r"))
    return line, position - last
