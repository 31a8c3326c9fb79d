"""Resource bounds of one IMAP connection's parser (constructor arguments, never globals)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied to client input.

    :param max_line_length: longest line segment (between literals), CRLF included.
    :param max_literal_size: largest single literal; bigger ones get ``NO [TOOBIG]``.
    :param max_command_size: all lines and literals of one command together.
    :param max_depth: deepest parenthesis nesting (SEARCH programs, lists).
    :param max_tokens: most syntactic tokens in one command.
    :param max_literal_plus: RFC 7888 LITERAL- bound for ``{n+}`` (None = LITERAL+, no bound
        beyond ``max_literal_size``).
    """

    max_line_length: int = 64 * 1024
    max_literal_size: int = 64 * 1024 * 1024
    max_command_size: int = 80 * 1024 * 1024
    max_depth: int = 32
    max_tokens: int = 100_000
    max_literal_plus: int | None = None
