"""Byte layout of the sliced (``.mslc``) format, version 1: every struct in one place.

All integers are little-endian. See the plugin README for the prose description.

* ``dataNNNN``: ``DATA_HEADER`` then frames. A frame is ``FRAME`` + keyword names
  (UTF-8, space separated) + the message bytes. ``header_crc`` covers the frame header
  fields before it and the keyword names; ``body_crc`` covers the message.
* ``index.bdx``: ``INDEX_HEADER`` (padded to ``HEADER_SIZE``), a JSON meta area of
  ``META_SIZE`` bytes (data file lengths, keyword table), then ``RECORD`` rows of eight
  int64 each, the committed ``count`` of them covered by ``records_crc``.
* ``journal.G``: ``LOG_HEADER`` then entries ``LOG_ENTRY`` (payload length, crc32)
  + payload; the payload's first byte is the operation.
"""

from __future__ import annotations

import struct

VERSION = 1

DATA_MAGIC = b"UGSLDATA"
#: magic, version, uidvalidity, file number, generation, reserved
DATA_HEADER = struct.Struct("<8sIIIII4x")

FRAME_MAGIC = b"UGM1"
#: magic, uid, system flag bits, keyword-names length, internal date, modseq,
#: body length, body crc32, header crc32 (of the preceding 44 bytes + keyword names)
FRAME = struct.Struct("<4sIIIqqqII")
FRAME_PREFIX = struct.Struct("<4sIIIqqqI")

INDEX_MAGIC = b"UGSLCBDX"
#: magic, version, uidvalidity, uidnext, generation, highestmodseq, record count,
#: records crc32, meta length, meta crc32, header crc32 (of everything before it)
INDEX_HEADER = struct.Struct("<8sIIIIqqIIII")
INDEX_HEADER_PREFIX = struct.Struct("<8sIIIIqqIII")
HEADER_SIZE = 128
META_SIZE = 16384
RECORDS_OFFSET = HEADER_SIZE + META_SIZE
#: uid, data file number, body offset, body length, internal date, modseq,
#: system flag bits, keyword-id bits -- eight int64, decoded column-wise
RECORD = struct.Struct("<8q")
RECORD_FIELDS = 8

LOG_MAGIC = b"UGSLCLOG"
#: magic, version, generation
LOG_HEADER = struct.Struct("<8sII")
LOG_ENTRY = struct.Struct("<II")
OP_FLAGS = 1  # count:u32 then count x "<4q" (uid, system bits, keyword bits, modseq)
OP_EXPUNGE = 2  # modseq:q count:u32 then count x q uid
OP_KEYWORD = 3  # id:u32 then the name (UTF-8)
OP_STATE = 4  # uidvalidity:q uidnext:q highestmodseq:q
OP_FILES = 5  # JSON {"retire": [numbers], "new": {"number": length}}
FLAG_ROW = struct.Struct("<4q")

#: system flags and their bits (the order is part of the format)
SYSTEM_FLAGS: tuple[str, ...] = (
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Draft",
    "\\Deleted",
    "$Forwarded",
    "$MDNSent",
    "$Hidden",
    "$Service",
    "$Media",
    "Junk",
)
SYSTEM_BITS = {name.lower(): 1 << i for i, name in enumerate(SYSTEM_FLAGS)}
MAX_KEYWORDS = 63


def data_name(number: int) -> str:
    """``data0001`` ... (at least four digits)."""
    return f"data{number:04d}"


def parse_data_name(name: str) -> int | None:
    """The number of a ``dataNNNN`` file name, None for anything else."""
    if name.startswith("data") and name[4:].isdigit() and len(name) >= 8:
        return int(name[4:])
    return None
