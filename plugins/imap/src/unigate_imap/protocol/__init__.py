"""Sans-I/O IMAP4rev2/IMAP4rev1 protocol core: framing, command grammar, response encoding.

Bytes in (`ServerConnection.receive_data`), events out (`ServerConnection.next_event`),
bytes out (`encoder`, `responses`).  No sockets, clocks or logging here.

A session loop drives it like this::

    conn = ServerConnection(Limits(max_literal_size=50 << 20))
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            conn.receive_data(await stream.receive())      # b"" on EOF
        elif isinstance(event, ContinuationRequest | ParseError):
            await stream.send(event.data if isinstance(event, ContinuationRequest)
                              else event.response)
        elif isinstance(event, Idle):
            await stream.send(continuation("idling")); conn.start_idle()
        elif isinstance(event, IdleDone):
            await stream.send(ok(idle_tag, "IDLE terminated"))
        elif isinstance(event, ConnectionClosed):
            break
        else:                                               # a Command
            await stream.send(handle(event))

Set ``conn.utf8 = True`` once the client enabled IMAP4rev2 or UTF8=ACCEPT, call
``conn.discard_buffered()`` after STARTTLS/COMPRESS, and ``conn.expect_sasl_response()``
after each AUTHENTICATE challenge.
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
