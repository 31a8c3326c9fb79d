"""The sans-I/O POP3 server core: bytes in, frozen events out, replies to bytes.

See :mod:`.server` for the pull loop. Public names are re-exported here.
"""

from .content import dot_stuff, normalize_crlf, top_of
from .errors import LocalProtocolError, POPProtocolError
from .events import (
    NEED_DATA,
    PAUSED,
    Apop,
    Auth,
    AuthList,
    AuthResponse,
    Capa,
    ConnectionClosed,
    Dele,
    Event,
    Last,
    List,
    Noop,
    Pass,
    ProtocolError,
    Quit,
    Retr,
    Rset,
    Stat,
    Status,
    Stls,
    Top,
    Uidl,
    Unknown,
    User,
)
from .limits import Limits
from .replies import Challenge, Reply, ResponseCode, content, err, listing, ok
from .server import ServerConnection
from .state import PopState

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "Apop",
    "Auth",
    "AuthList",
    "AuthResponse",
    "Capa",
    "Challenge",
    "ConnectionClosed",
    "Dele",
    "Event",
    "Last",
    "Limits",
    "List",
    "LocalProtocolError",
    "Noop",
    "POPProtocolError",
    "Pass",
    "PopState",
    "ProtocolError",
    "Quit",
    "Reply",
    "ResponseCode",
    "Retr",
    "Rset",
    "ServerConnection",
    "Stat",
    "Status",
    "Stls",
    "Top",
    "Uidl",
    "Unknown",
    "User",
    "content",
    "dot_stuff",
    "err",
    "listing",
    "normalize_crlf",
    "ok",
    "top_of",
]
