"""DATA transparency (RFC 5321 §4.5.2): end-of-data detection, unstuffing and stuffing.

`DotReader` is the server side. It appends incoming bytes to one buffer that starts with a
virtual CRLF (the one ending the DATA command), so the terminator is always the five octets
CRLF "." CRLF and a message starting with "." needs no special case. Each search resumes four
octets before the previous end, so a terminator split across reads is found and the whole scan
stays O(n). Only CRLF counts as a line end: a bare LF before "." does not end the message
(the "SMTP smuggling" class of bugs).

Size and line-length checks run per received chunk with C-level `bytes.count`/`bytes.find`,
never per line in Python. Once a limit is exceeded the reader stops storing content but keeps
scanning for the terminator, so a 10 MB line or an oversized message costs no memory.

`dot_stuff` is the client side.
"""

from __future__ import annotations

from .replies import Reply

_TERM = b"\r\n.\r\n"
_STUFFED = b"\r\n."


def _has_long_run(buf: bytearray, start: int, end: int, limit: int) -> bool:
    """Is there a run of >= `limit` non-LF octets in buf[start:end]?

    The run boundaries are LFs or the region edges. Probes windows of `limit // 2` octets:
    any run that long fully contains a window without LF, which is then measured exactly.
    Costs O((end - start) / limit) C-level finds, not one Python step per line.
    """
    step = max(1, limit // 2)
    p = start
    while p + step <= end:
        if buf.find(b"\n", p, p + step) >= 0:
            p += step
            continue
        lo = max(start, buf.rfind(b"\n", start, p) + 1)
        hi = buf.find(b"\n", p + step, min(end, lo + limit))
        if hi < 0:
            hi = min(end, lo + limit)
        if hi - lo >= limit:
            return True
        p = hi + 1
    return False


LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")


class DotReader:
    """Incremental reader of one DATA message.

    `feed(data)` returns None while the terminator has not been seen, else the bytes that
    followed it (pipelined commands). Then `message` holds the unstuffed content (final CRLF
    kept, terminator removed), or `error` the reply explaining why the content was dropped.
    """

    __slots__ = (
        "_raw",
        "_scan",
        "_counted",
        "_stuffed",
        "_run",
        "_max_size",
        "_max_line",
        "error",
        "message",
    )

    def __init__(self, *, max_size: int | None, max_line: int | None) -> None:
        self._raw = bytearray(b"\r\n")
        self._scan = 0  # where the next terminator search starts
        self._counted = 0  # stuffed dots have been counted in _raw[:_counted]
        self._stuffed = 0
        self._run = 0  # non-LF octets at the end of the line-checked region
        self._max_size = max_size
        self._max_line = max_line
        self.error: Reply | None = None
        self.message: bytes | None = None

    def feed(self, data: bytes | bytearray) -> bytes | None:
        raw = self._raw
        start = len(raw)
        raw += data
        i = raw.find(_TERM, self._scan)
        end = i + 2 if i >= 0 else len(raw)  # content is raw[2:end], final CRLF included
        if self.error is None:
            self._check(start, end, final=i >= 0)
        if i < 0:
            self._scan = max(0, len(raw) - 4)
            if self.error is not None and len(raw) > 4:
                del raw[:-4]
                self._scan = 0
            return None
        leftover = bytes(raw[i + 5 :])
        if self.error is None:
            del raw[end:]
            body = raw.replace(_STUFFED, b"\r\n")
            self.message = bytes(memoryview(body)[2:])
        self._raw = bytearray()
        return leftover

    def _check(self, start: int, end: int, *, final: bool) -> None:
        raw = self._raw
        if self._max_size is not None:
            # Without the terminator, the last octets may still turn into it: count only
            # patterns followed by two more octets (under-estimates the size by <= 2).
            count_end = end if final else end - 2
            if count_end > self._counted:
                self._stuffed += raw.count(_STUFFED, self._counted, count_end)
                self._counted = count_end - 2
            if count_end - 2 - self._stuffed > self._max_size:
                self.error = MESSAGE_TOO_BIG
                return
        limit = self._max_line
        if limit is None or end <= start:
            return
        first = raw.find(b"\n", start, end)
        if first < 0:
            self._run += end - start
            if self._run > limit:
                self.error = LINE_TOO_LONG
            return
        last = raw.rfind(b"\n", first, end)
        if self._run + (first - start) > limit or _has_long_run(raw, first + 1, last, limit + 1):
            self.error = LINE_TOO_LONG
            return
        self._run = end - last - 1


def dot_stuff(message: bytes) -> bytes:
    """Client side: the DATA payload for `message`, terminator included.

    Line ends are normalised to CRLF first (a bare CR or LF never reaches the wire, so no
    server can be tricked into a different end of data), a missing final CRLF is added, and
    every line starting with "." gets a second one.
    """
    if b"\r" in message or b"\n" in message:
        message = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if message.startswith(b"."):
        message = b"." + message
    message = message.replace(b"\r\n.", b"\r\n..")
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    return message + b".\r\n"
