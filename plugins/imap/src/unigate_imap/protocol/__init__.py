"""Sans-I/O IMAP4rev2/IMAP4rev1 protocol core: framing, command grammar, response encoding.

Bytes in (`ServerConnection.receive_data`), events out (`ServerConnection.next_event`),
bytes out (`encoder`).  No sockets, clocks or logging here.
"""

from __future__ import annotations

from . import commands, encoder, responses
from .commands import *  # noqa: F403
from .connection import (
    NEED_DATA,
    ConnectionClosed,
    ContinuationRequest,
    Event,
    IdleDone,
    LocalProtocolError,
    ParseError,
    ReadState,
    SaslResponse,
    ServerConnection,
)
from .encoder import (
    bad,
    continuation,
    encode_astring,
    encode_datetime,
    encode_flags,
    encode_list,
    encode_literal,
    encode_mailbox,
    encode_nstring,
    encode_quoted,
    encode_string,
    no,
    ok,
    tagged,
    untagged,
)
from .limits import Limits
from .parser import CommandSyntaxError, parse_command, parse_tag
from .responses import *  # noqa: F403
from .seqset import STAR, SequenceSet, SequenceSetError
from .utf7 import MUTF7Error, decode_mutf7, encode_mutf7

__all__ = [
    *commands.__all__,
    *responses.__all__,
    "responses",
    "NEED_DATA",
    "ConnectionClosed",
    "ContinuationRequest",
    "Event",
    "IdleDone",
    "LocalProtocolError",
    "ParseError",
    "ReadState",
    "SaslResponse",
    "ServerConnection",
    "bad",
    "continuation",
    "encode_astring",
    "encode_datetime",
    "encode_flags",
    "encode_list",
    "encode_literal",
    "encode_mailbox",
    "encode_nstring",
    "encode_quoted",
    "encode_string",
    "no",
    "ok",
    "tagged",
    "untagged",
    "encoder",
    "commands",
    "Limits",
    "CommandSyntaxError",
    "parse_command",
    "parse_tag",
    "STAR",
    "SequenceSet",
    "SequenceSetError",
    "MUTF7Error",
    "decode_mutf7",
    "encode_mutf7",
]
