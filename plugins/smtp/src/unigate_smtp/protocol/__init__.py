"""Sans-I/O SMTP/LMTP protocol cores: bytes in, frozen events out, bytes out (h11 style).

`ServerConnection` parses what a client sends and answers protocol errors itself;
`ClientConnection` builds commands and parses replies for the delivery module. Neither does
I/O, keeps time or logs: the anyio session loop and the delivery module drive them.
`harness.drive()` runs a server core over scripted input (tests, examples).
"""

from .client import ClientConnection, ClientState, ServerReply
from .dotstuff import DotReader, dot_stuff
from .errors import LocalProtocolError, RemoteProtocolError, SMTPProtocolError
from .events import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthResponse,
    Chunk,
    ConnectionClosed,
    DataStart,
    Event,
    Expn,
    Helo,
    Help,
    MailFrom,
    MessageData,
    Noop,
    OtherCommand,
    ProtocolError,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
    Status,
    Vrfy,
)
from .limits import Extensions, Limits
from .params import (
    Body,
    MailParams,
    Notify,
    RcptParams,
    Ret,
    xtext_decode,
    xtext_encode,
)
from .replies import Reply
from .server import ServerConnection
from .state import ServerState

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "Auth",
    "AuthResponse",
    "Body",
    "Chunk",
    "ClientConnection",
    "ClientState",
    "ConnectionClosed",
    "DataStart",
    "DotReader",
    "Event",
    "Expn",
    "Extensions",
    "Helo",
    "Help",
    "Limits",
    "LocalProtocolError",
    "MailFrom",
    "MailParams",
    "MessageData",
    "Noop",
    "Notify",
    "OtherCommand",
    "ProtocolError",
    "Quit",
    "RcptParams",
    "RcptTo",
    "RemoteProtocolError",
    "Reply",
    "Ret",
    "Rset",
    "SMTPProtocolError",
    "ServerConnection",
    "ServerReply",
    "ServerState",
    "StartTLS",
    "Status",
    "Vrfy",
    "dot_stuff",
    "xtext_decode",
    "xtext_encode",
]
