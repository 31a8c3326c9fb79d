"""Byte layout of the sliced (``.mslc``) format: every struct in one place.

Data files and the journal are at `VERSION` 1, the index at `INDEX_VERSION` 2 (an
index of another version is rebuilt from the data files and the journal).

All integers are little-endian. See the plugin README for the prose description.

* ``dataNNNN``: ``DATA_HEADER`` then frames. A frame is ``FRAME`` + keyword names
  (UTF-8, space separated) + the message bytes. ``header_crc`` covers the frame header
  fields before it and the keyword names; ``body_crc`` covers the message.
* ``index.bdx`` (its own version, `INDEX_VERSION`): ``INDEX_HEADER`` (padded to
  ``HEADER_SIZE``), a JSON meta area (data file lengths, keyword table) whose size the
  header gives (at least ``META_MIN``; doubled when the JSON outgrows half of it), then
  ``RECORD`` rows of eight int64 each, the committed ``count`` of them covered by
  ``records_crc``.
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
INDEX_VERSION = 2
#: magic, version, uidvalidity, uidnext, generation, highestmodseq, record count,
#: records crc32, meta length, meta crc32, meta area size, header crc32 (of
#: everything before it)
INDEX_HEADER = struct.Struct("<8sIIIIqqIIIII")
INDEX_HEADER_PREFIX = struct.Struct("<8sIIIIqqIIII")
HEADER_SIZE = 128
#: the smallest meta area (about 800 data files); the largest a reader accepts
META_MIN = 16384
META_MAX = 1 << 28


def records_offset(meta_area: int) -> int:
    """Where the rows start in an index whose meta area has ``meta_area`` bytes."""
    return HEADER_SIZE + meta_area


#: where the rows start in an index with the smallest meta area
RECORDS_OFFSET = records_offset(META_MIN)
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
