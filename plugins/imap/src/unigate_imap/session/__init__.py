"""IMAP sessions: the anyio loop (`core`) and one handler module per command family.

`handle_connection` is the listener handler of ``imap`` and ``imaps``; everything
protocol-level comes from the sans-I/O core in :mod:`unigate_imap.protocol`, MIME from
:mod:`unigate_imap.mime`, SEARCH/SORT/THREAD from :mod:`unigate_imap.query`, and
mailboxes from the kernel's mailbox manager.
"""

from __future__ import annotations

from .core import ImapSession, handle_connection
from .state import Selected, State

__all__ = ["ImapSession", "Selected", "State", "handle_connection"]
