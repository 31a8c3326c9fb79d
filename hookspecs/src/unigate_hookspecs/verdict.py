"""The one Verdict type that every judging hook returns.

Hooks that judge a transaction -- a connection, a sender, a recipient, a message, a
login, a signal -- answer with a :class:`Verdict`. The semantics are Haraka's, typed
and shared by every protocol:

* ``CONTINUE``   no opinion; ask the next plugin (the default when a hook returns None)
* ``ACCEPT``     accept and stop asking the other plugins
* ``REJECT``     permanent refusal, carrying the protocol's code and text (SMTP 5xx, IMAP NO)
* ``DEFER``      temporary refusal (SMTP 4xx, IMAP NO [UNAVAILABLE])
* ``DISCONNECT`` refuse and close the connection

A protocol plugin maps a verdict onto its own wire reply. ``code`` and ``status`` are
hints in the protocol's terms (for SMTP, ``550`` and ``"5.7.1"``); a plugin that
judges for several protocols may leave them unset and let each protocol choose.
The kernel fills :attr:`Verdict.plugin` with the name of the plugin that decided,
and logs every decision.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Decision(enum.Enum):
    """What a judging hook decided."""

    CONTINUE = "continue"
    ACCEPT = "accept"
    REJECT = "reject"
    DEFER = "defer"
    DISCONNECT = "disconnect"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A typed decision about a transaction; see the module docstring."""

    decision: Decision
    code: int | None = None
    status: str | None = None
    text: str = ""
    plugin: str | None = None

    @classmethod
    def proceed(cls) -> Verdict:
        """No opinion: let the next plugin decide."""
        return cls(Decision.CONTINUE)

    @classmethod
    def accept(cls, text: str = "") -> Verdict:
        """Accept and stop asking further plugins."""
        return cls(Decision.ACCEPT, text=text)

    @classmethod
    def reject(cls, text: str, code: int | None = None, status: str | None = None) -> Verdict:
        """Refuse permanently."""
        return cls(Decision.REJECT, code=code, status=status, text=text)

    @classmethod
    def defer(cls, text: str, code: int | None = None, status: str | None = None) -> Verdict:
        """Refuse temporarily: the client should try again later."""
        return cls(Decision.DEFER, code=code, status=status, text=text)

    @classmethod
    def disconnect(cls, text: str = "", code: int | None = None) -> Verdict:
        """Refuse and close the connection."""
        return cls(Decision.DISCONNECT, code=code, text=text)

    @property
    def final(self) -> bool:
        """True when this verdict ends the asking (anything but CONTINUE)."""
        return self.decision is not Decision.CONTINUE

    def by(self, plugin: str) -> Verdict:
        """A copy naming the plugin that decided (the kernel calls this)."""
        return replace(self, plugin=plugin)


CONTINUE = Verdict(Decision.CONTINUE)
