"""Server logs in the manual's record shape, written without ever blocking a session.

A record is ``hh:mm:ss.fff L TAG-NNNNNN(context) text``: local time with millisecond
precision, the level digit (0 crash, 1 failure, 2 major, 3 problems, 4 low level,
5 all info), the tag (component, optionally with the session number and context), and
the text. Producers put records on a bounded in-memory queue and return at once; one
writer thread formats and writes them to ``SystemLogs/<yyyy-mm-dd>`` (and the console).
When the queue is full, records are dropped and a ``***`` line marks the gap, as the
manual's logger does. Each component has its own level; a debug address forces 5.
A JSON-lines option writes ``{"time", "level", "tag", "text"}`` objects for shippers.

Records from the stdlib ``logging`` module under the ``unigate`` logger are bridged in,
so library-style modules can log with ``logging.getLogger("unigate.queue")``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

CRASH, FAILURE, MAJOR, PROBLEM, LOW, ALL = range(6)
LEVEL_NAMES = ("Crash", "Failure", "Major", "Problems", "Low Level", "All Info")

_STD_TO_LEVEL = {
    logging.CRITICAL: CRASH,
    logging.ERROR: FAILURE,
    logging.WARNING: PROBLEM,
    logging.INFO: LOW,
    logging.DEBUG: ALL,
}


def _std_level(level: int) -> int:
    """The most verbose stdlib level whose records map to ``level`` or below."""
    allowed = [std for std, ours in _STD_TO_LEVEL.items() if ours <= level]
    return min(allowed, default=logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class Record:
    when: float
    level: int
    tag: str
    text: str


class LogHub:
    """The server's log sink: level filtering per component, a queue, one writer thread."""

    def __init__(
        self,
        *,
        directory: Path | None,
        level: int = PROBLEM,
        components: dict[str, int] | None = None,
        console: bool = True,
        json_lines: bool = False,
        limit: int = 100_000,
        stream: TextIO | None = None,
    ) -> None:
        self.directory = directory
        self.level = level
        self.components = {k.upper(): v for k, v in (components or {}).items()}
        self.console = console
        self.json_lines = json_lines
        self._queue: queue.Queue[Record | None] = queue.Queue(maxsize=limit)
        self._dropped = 0
        self._stream = stream
        self._thread: threading.Thread | None = None
        self._file: TextIO | None = None
        self._file_day = ""

    # -- producers ---------------------------------------------------------------------

    def enabled(self, component: str, level: int) -> bool:
        """True when a record of ``level`` from ``component`` would be written."""
        return level <= self.components.get(component, self.level)

    def write(
        self, level: int, tag: str, text: str, *, component: str | None = None, force: bool = False
    ) -> None:
        """Queue one record (never blocks; drops and marks ``***`` when the queue is full)."""
        if not force and not self.enabled(component or tag.split("-", 1)[0], level):
            return
        try:
            self._queue.put_nowait(Record(time.time(), level, tag, text))
        except queue.Full:
            self._dropped += 1

    def logger(self, component: str, session: int | None = None, context: str = "") -> Logger:
        """A logger for a component, or for one session of it (``TAG-000123(context)``)."""
        return Logger(self, component.upper(), session, context)

    # -- the writer ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread and bridge the stdlib ``unigate`` logger."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="unigate-log", daemon=True)
        self._thread.start()
        bridge = _Bridge(self)
        std = logging.getLogger("unigate")
        std.handlers = [h for h in std.handlers if not isinstance(h, _Bridge)] + [bridge]
        # records no component would write are not even built (the hot path logs a lot)
        std.setLevel(_std_level(max([self.level, *self.components.values()])))
        std.propagate = False

    def stop(self) -> None:
        """Flush every queued record and stop the writer."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout=10)
        self._thread = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                break
            lines = []
            if self._dropped:
                self._dropped = 0
                lines.append(Record(record.when, CRASH, "***", ""))
            lines.append(record)
            for item in lines:
                self._emit(item)
            if self._queue.empty():
                self._flush()

    def _format(self, record: Record) -> str:
        local = time.localtime(record.when)
        stamp = time.strftime("%H:%M:%S", local) + f".{int(record.when * 1000) % 1000:03d}"
        if record.tag == "***":
            return "***"
        if self.json_lines:
            return json.dumps(
                {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S", local) + stamp[8:],
                    "level": record.level,
                    "tag": record.tag,
                    "text": record.text,
                }
            )
        return f"{stamp} {record.level} {record.tag} {record.text}"

    def _emit(self, record: Record) -> None:
        line = self._format(record)
        if self.console:
            stream = self._stream or sys.stdout
            with contextlib.suppress(OSError, ValueError):
                stream.write(line + "\n")
        if self.directory is not None:
            day = time.strftime("%Y-%m-%d", time.localtime(record.when))
            if day != self._file_day or self._file is None:
                if self._file is not None:
                    self._file.close()
                self.directory.mkdir(parents=True, exist_ok=True)
                suffix = ".jsonl" if self.json_lines else ""
                self._file = open(self.directory / f"{day}{suffix}", "a", encoding="utf-8")  # noqa: SIM115
                self._file_day = day
            self._file.write(line + "\n")

    def _flush(self) -> None:
        if self._file is not None:
            self._file.flush()
        if self.console:
            with contextlib.suppress(OSError, ValueError):
                (self._stream or sys.stdout).flush()


class Logger:
    """Writes records under one tag; cheap to create per session."""

    __slots__ = ("hub", "component", "tag", "force")

    def __init__(self, hub: LogHub, component: str, session: int | None, context: str) -> None:
        self.hub = hub
        self.component = component
        tag = component if session is None else f"{component}-{session:06d}"
        self.tag = f"{tag}({context})" if context else tag
        self.force = False

    def enabled(self, level: int) -> bool:
        return self.force or self.hub.enabled(self.component, level)

    def log(self, level: int, text: str) -> None:
        self.hub.write(level, self.tag, text, component=self.component, force=self.force)

    def crash(self, text: str) -> None:
        self.log(CRASH, text)

    def failure(self, text: str) -> None:
        self.log(FAILURE, text)

    def major(self, text: str) -> None:
        self.log(MAJOR, text)

    def problem(self, text: str) -> None:
        self.log(PROBLEM, text)

    def low(self, text: str) -> None:
        self.log(LOW, text)

    def info(self, text: str) -> None:
        self.log(ALL, text)

    def data(self, direction: str, data: bytes, limit: int = 200) -> None:
        """Log protocol data (``inp:``/``out:``) at level 5, truncated, CRLF shown as ``\\r\\n``."""
        if not self.enabled(ALL):
            return
        text = data[:limit].decode("utf-8", "replace").replace("\r", "\\r").replace("\n", "\\n")
        if len(data) > limit:
            text += f"...({len(data)} bytes)"
        self.log(ALL, f"{direction}: {text}")


class _Bridge(logging.Handler):
    """Feeds stdlib ``logging`` records of the ``unigate`` tree into the hub."""

    def __init__(self, hub: LogHub) -> None:
        super().__init__(logging.DEBUG)
        self.hub = hub

    def emit(self, record: logging.LogRecord) -> None:
        parts = record.name.split(".")
        component = (parts[1] if len(parts) > 1 else "SYSTEM").upper()
        level = _STD_TO_LEVEL.get(record.levelno, LOW)
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not kill the caller
            text = str(record.msg)
        if record.exc_info:
            text += " " + logging.Formatter().formatException(record.exc_info).replace("\n", " | ")
        self.hub.write(level, component, text, component=component)
