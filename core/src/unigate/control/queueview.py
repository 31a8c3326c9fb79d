"""Queue admin views as data-format objects, and back.

The manual's CLI has no per-message queue listing (its Queue monitor is a WebAdmin
page), so ``LISTQUEUEMESSAGES`` and ``GETQUEUEMESSAGEINFO`` are Unigate extensions;
their output is a dictionary per message, named in the manual's CLI style::

    {ID="1764072034123-0"; returnPath="a@b"; source=SMTP; size=#120;
     received=#T25-11-2026_12:00:34; recipients=({address="d@x"; module=SMTP;
     queue="x"; state=delayed; attempts=#1; retryAt=#T...; lastError="...";});
     headers="...";}

(``envid``, ``authAccount``, ``retryAt``, ``lastError`` and ``headers`` only when
they have a value.) :func:`entry_from_value` rebuilds the
:class:`unigate.queue.QueueEntry` the in-process admin calls return, so
``unigate queue`` prints the same either way (times at whole seconds).
"""

from __future__ import annotations

from typing import Any

from unigate.dataformat import Timestamp, Value
from unigate.queue.model import QueueEntry, RecipientEntry

__all__ = ["entry_from_value", "entry_to_value"]


def _stamp(seconds: float) -> Timestamp:
    return Timestamp.from_epoch(int(seconds))


def entry_to_value(entry: QueueEntry) -> dict[str, Value]:
    """The CLI dictionary of a queue entry."""
    recipients: list[Value] = []
    for r in entry.recipients:
        item: dict[str, Value] = {
            "index": r.index,
            "address": r.address,
            "module": r.module,
            "queue": r.queue,
            "state": r.state,
            "attempts": r.attempts,
        }
        if r.retry_at:
            item["retryAt"] = _stamp(r.retry_at)
        if r.last_error:
            item["lastError"] = r.last_error
        recipients.append(item)
    value: dict[str, Value] = {
        "ID": entry.id,
        "returnPath": entry.return_path,
        "source": entry.source,
        "size": entry.size,
        "received": _stamp(entry.received_at),
    }
    if entry.envid:
        value["envid"] = entry.envid
    if entry.auth_account:
        value["authAccount"] = entry.auth_account
    value["recipients"] = recipients
    if entry.headers:
        value["headers"] = entry.headers
    return value


def _get(value: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    item = value.get(key, default)
    if item is not default and not isinstance(item, kind):
        raise ValueError(f"queue entry: {key} is not a {kind.__name__}")
    return item


def entry_from_value(value: Value) -> QueueEntry:
    """Rebuild a queue entry from its CLI dictionary (ValueError if it is not one)."""
    if not isinstance(value, dict):
        raise ValueError("queue entry: a dictionary expected")
    recipients = []
    for item in _get(value, "recipients", list, []):
        if not isinstance(item, dict):
            raise ValueError("queue entry: a recipient is not a dictionary")
        retry = _get(item, "retryAt", Timestamp)
        recipients.append(
            RecipientEntry(
                index=_get(item, "index", int, 0),
                address=_get(item, "address", str, ""),
                module=_get(item, "module", str, ""),
                queue=_get(item, "queue", str, ""),
                state=_get(item, "state", str, ""),
                attempts=_get(item, "attempts", int, 0),
                retry_at=float(retry.epoch) if retry is not None else None,
                last_error=_get(item, "lastError", str, ""),
            )
        )
    received = _get(value, "received", Timestamp)
    return QueueEntry(
        id=_get(value, "ID", str, ""),
        return_path=_get(value, "returnPath", str, ""),
        source=_get(value, "source", str, ""),
        envid=_get(value, "envid", str),
        auth_account=_get(value, "authAccount", str),
        size=_get(value, "size", int, 0),
        received_at=float(received.epoch) if received is not None else 0.0,
        recipients=tuple(recipients),
        headers=_get(value, "headers", str, ""),
    )
