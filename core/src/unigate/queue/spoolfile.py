"""The spool file format: typed, length-prefixed, checksummed records.

One spool file holds the messages of one group commit (often just one message), so a
single fsync covers them all. Layout::

    b"UNIGATE-SPOOL 1\\n"
    record*                       -- each: kind (1 byte) | length (4, BE) | crc32 (4, BE) | payload
      E  envelope (JSON, with the message number "n" and the routed recipients)
      D  the message bytes, right after its E
      ...                         -- one E/D pair per message
      Z  END: {"count": k}; a file without it was never acknowledged
      S  a recipient's final result            \\
      T  a recipient's temporary failure        |  appended while the messages
      R  reports (DSNs) sent for recipients     |  are in the queue; a torn tail
      Y  "retry now" from the administrator    /   is cut off at the next open

The crc covers the kind and the payload. Everything before Z is written and fsynced
before the file is renamed from ``.tmp`` to ``.msg`` and before any submitter is
answered; the records after Z are appended later (and fsynced in groups too).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

from unigate.crc import crc32
from unigate.queue.errors import CorruptFile
from unigate_hookspecs.delivery import Destination, Envelope, Recipient

MAGIC = b"UNIGATE-SPOOL 1\n"
_HEAD = struct.Struct(">cII")

ENVELOPE = b"E"
DATA = b"D"
END = b"Z"
FINAL = b"S"
TEMPORARY = b"T"
REPORTED = b"R"
RETRY = b"Y"
_STATUS_KINDS = frozenset({FINAL, TEMPORARY, REPORTED, RETRY})


def encode_record(kind: bytes, payload: bytes) -> bytes:
    """One framed record."""
    crc = crc32(payload, crc32(kind))
    return _HEAD.pack(kind, len(payload), crc) + payload


def encode_json(kind: bytes, value: dict[str, Any]) -> bytes:
    """One framed record with a compact JSON payload."""
    return encode_record(kind, json.dumps(value, separators=(",", ":")).encode())


#: a status record, framed already or as (kind, JSON value) still to be encoded
StatusRecord = bytes | tuple[bytes, dict[str, Any]]


def encode_status(record: StatusRecord) -> bytes:
    """The framed bytes of a status record."""
    return record if isinstance(record, bytes) else encode_json(*record)


@dataclass(slots=True)
class SpooledMessage:
    """A message as found in a spool file: number, envelope and where its bytes are."""

    number: int
    envelope: Envelope
    offset: int
    size: int


@dataclass(slots=True)
class SpoolContents:
    """A parsed spool file: its messages, its status records, and its valid length."""

    messages: list[SpooledMessage] = field(default_factory=list)
    statuses: list[tuple[bytes, dict[str, Any]]] = field(default_factory=list)
    valid_length: int = 0
    torn_tail: bool = False


def build_spool(messages: list[tuple[int, Envelope, bytes]]) -> tuple[bytes, list[int]]:
    """The bytes of a new spool file, and the offset of each message's data."""
    parts = [MAGIC]
    position = len(MAGIC)
    offsets = []
    for number, envelope, data in messages:
        head = encode_json(ENVELOPE, {"n": number, "env": envelope_to_json(envelope)})
        parts.append(head)
        position += len(head)
        data_record = encode_record(DATA, data)
        offsets.append(position + _HEAD.size)
        parts.append(data_record)
        position += len(data_record)
    parts.append(encode_json(END, {"count": len(messages)}))
    return b"".join(parts), offsets


def parse_spool(raw: bytes) -> SpoolContents:
    """Parse a spool file; :class:`CorruptFile` when its committed part is damaged."""
    if not raw.startswith(MAGIC):
        raise CorruptFile("not a spool file (bad magic)")
    contents = SpoolContents()
    position = len(MAGIC)
    pending_envelope: tuple[int, Envelope] | None = None
    ended = False
    while position < len(raw):
        record = _read_record(raw, position)
        if record is None:
            if not ended:
                raise CorruptFile(f"damaged record at offset {position} before END")
            contents.torn_tail = True
            break
        kind, payload, next_position = record
        if not ended:
            if kind == ENVELOPE and pending_envelope is None:
                value = _json(payload)
                pending_envelope = (int(value["n"]), envelope_from_json(value["env"]))
            elif kind == DATA and pending_envelope is not None:
                number, envelope = pending_envelope
                contents.messages.append(
                    SpooledMessage(number, envelope, position + _HEAD.size, len(payload))
                )
                pending_envelope = None
            elif kind == END and pending_envelope is None:
                if int(_json(payload)["count"]) != len(contents.messages):
                    raise CorruptFile("END count does not match the messages")
                ended = True
            else:
                raise CorruptFile(f"unexpected record {kind!r} at offset {position}")
        elif kind in _STATUS_KINDS:
            contents.statuses.append((kind, _json(payload)))
        else:
            raise CorruptFile(f"unexpected record {kind!r} after END")
        position = next_position
    if not ended:
        raise CorruptFile("no END record: the file was never completed")
    contents.valid_length = position
    return contents


def _read_record(raw: bytes, position: int) -> tuple[bytes, bytes, int] | None:
    if position + _HEAD.size > len(raw):
        return None
    kind, length, crc = _HEAD.unpack_from(raw, position)
    start = position + _HEAD.size
    end = start + length
    if end > len(raw):
        return None
    payload = raw[start:end]
    if crc32(payload, crc32(kind)) != crc:
        return None
    return kind, payload, end


def _json(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError as error:
        raise CorruptFile(f"bad JSON record: {error}") from None
    if not isinstance(value, dict):
        raise CorruptFile("a JSON record is not an object")
    return value


def envelope_to_json(envelope: Envelope) -> dict[str, Any]:
    """The envelope as a JSON-able dict (recipients with their recorded routes)."""
    return {
        "from": envelope.return_path,
        "rcpt": [
            {
                "a": r.address,
                "o": r.orcpt,
                "n": sorted(r.notify) if r.notify is not None else None,
                "r": [r.route.module, r.route.queue, r.route.address, r.route.text]
                if r.route is not None
                else None,
            }
            for r in envelope.recipients
        ],
        "envid": envelope.envid,
        "ret": envelope.ret,
        "body": envelope.body,
        "utf8": envelope.smtputf8,
        "auth": envelope.auth_account,
        "src": envelope.source,
        "client": envelope.client_address,
        "at": envelope.received_at,
    }


def envelope_from_json(value: dict[str, Any]) -> Envelope:
    """The inverse of :func:`envelope_to_json`; :class:`CorruptFile` on nonsense."""
    try:
        recipients = tuple(
            Recipient(
                address=r["a"],
                orcpt=r["o"],
                notify=frozenset(r["n"]) if r["n"] is not None else None,
                route=Destination(*r["r"]) if r["r"] is not None else None,
            )
            for r in value["rcpt"]
        )
        return Envelope(
            return_path=value["from"],
            recipients=recipients,
            envid=value["envid"],
            ret=value["ret"],
            body=value["body"],
            smtputf8=bool(value["utf8"]),
            auth_account=value["auth"],
            source=value["src"],
            client_address=value["client"],
            received_at=float(value["at"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptFile(f"bad envelope: {error!r}") from None
