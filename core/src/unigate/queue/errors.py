"""Errors the Queue raises to its callers."""

from __future__ import annotations


class QueueError(Exception):
    """Base of the Queue's errors."""


class SubmitRejected(QueueError):
    """The Enqueuer refused a message; ``status``/``text`` are for the submitter's reply."""

    def __init__(self, status: str, text: str):
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text


class QueueFull(SubmitRejected):
    """The Queue Size Limit is reached: modules refuse new mail (temporarily)."""

    def __init__(self) -> None:
        super().__init__("4.3.1", "queue is full, try again later")


class UnknownMessage(QueueError, KeyError):
    """No queued message has this id."""


class QueueLocked(QueueError):
    """Another process (a running server) holds the Queue directory."""


class CorruptFile(QueueError):
    """A spool file cannot be parsed; it goes to BadFiles."""
