"""THREAD ORDEREDSUBJECT and REFERENCES (RFC 5256 §2.2, §4), and the response syntax.

Threads are trees of `ThreadNode`; ``message`` None marks a dummy (a message
referenced but not in the search result).  `format_threads` renders the
``thread-list`` of an untagged THREAD response using sequence numbers or UIDs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .message import MessageView, SearchableMessage
from .subject import base_subject

__all__ = ["ThreadNode", "thread_orderedsubject", "thread_references", "format_threads", "thread"]

_MSGID = re.compile(rb"<[^<>]*>")


@dataclass(eq=False)
class ThreadNode:
    message: SearchableMessage | None
    children: list[ThreadNode] = field(default_factory=list)
    parent: ThreadNode | None = field(default=None, repr=False)
    view: MessageView | None = field(default=None, repr=False)

    @property
    def is_dummy(self) -> bool:
        return self.message is None

    def add_child(self, child: ThreadNode) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def has_descendant(self, other: ThreadNode) -> bool:
        stack = list(self.children)
        while stack:
            node = stack.pop()
            if node is other:
                return True
            stack.extend(node.children)
        return False


def _date_key(node: ThreadNode) -> tuple[datetime, int]:
    """Sent date (UTC) then sequence number; a dummy takes its first child's."""
    while node.view is None and node.children:
        node = node.children[0]
    if node.view is None:
        return datetime.min.replace(tzinfo=UTC), 0
    return node.view.sent_date().astimezone(UTC), node.view.msg.seq


# ------------------------------------------------------------------ ORDEREDSUBJECT
def thread_orderedsubject(messages: Iterable[SearchableMessage]) -> list[ThreadNode]:
    """Group by base subject; each group's first (by sent date) message parents the rest."""
    views = [MessageView(m) for m in messages]
    views.sort(
        key=lambda v: (
            base_subject(v.header("subject"))[0],
            v.sent_date().astimezone(UTC),
            v.msg.seq,
        )
    )
    roots: list[ThreadNode] = []
    current: str | None = None
    for v in views:
        subject = base_subject(v.header("subject"))[0]
        node = ThreadNode(v.msg, view=v)
        if roots and subject == current:
            roots[-1].add_child(node)
        else:
            roots.append(node)
            current = subject
    roots.sort(key=_date_key)
    return roots


# ------------------------------------------------------------------ REFERENCES
def _ids(value: bytes | None) -> list[bytes]:
    return _MSGID.findall(value) if value else []


def thread_references(messages: Iterable[SearchableMessage]) -> list[ThreadNode]:
    """The RFC 5256 REFERENCES algorithm (JWZ threading, steps 1-7)."""
    table: dict[bytes, ThreadNode] = {}
    serial = 0
    for msg in messages:
        view = MessageView(msg)
        ids = _ids(view.header("message-id"))
        msgid = ids[0] if ids else None
        if msgid is None or (msgid in table and not table[msgid].is_dummy):
            serial += 1
            msgid = b"<unigate-dummy-%d>" % serial  # missing or duplicate Message-ID
        node = table.get(msgid)
        if node is None:
            node = table[msgid] = ThreadNode(msg, view=view)
        else:
            node.message, node.view = msg, view
        refs = _ids(view.header("references"))
        if not refs:
            refs = _ids(view.header("in-reply-to"))[:1]
        # 1A: link the references chain
        prev: ThreadNode | None = None
        for ref in refs:
            container = table.get(ref)
            if container is None:
                container = table[ref] = ThreadNode(None)
            if (
                prev is not None
                and container.parent is None
                and container is not prev
                and not container.has_descendant(prev)
            ):
                prev.add_child(container)
            prev = container
        # 1B: parent of this message is the last reference
        if prev is not None and prev is not node and not node.has_descendant(prev):
            if node.parent is not prev:
                prev.add_child(node)
        elif prev is None and node.parent is not None:
            node.parent.children.remove(node)  # no references: link to NULL (RFC 5256 1B)
            node.parent = None
    # 2: root set
    roots = [n for n in table.values() if n.parent is None]
    # 4: prune dummies
    roots = _prune(roots, at_root=True)
    # 5: sort
    _sort_tree(roots)
    # 6: merge by base subject
    roots = _merge_subjects(roots)
    # 7: sort children again
    _sort_tree(roots)
    return roots


def _prune(nodes: list[ThreadNode], *, at_root: bool) -> list[ThreadNode]:
    out: list[ThreadNode] = []
    for node in nodes:
        node.children = _prune(node.children, at_root=False)
        for child in node.children:
            child.parent = node
        if node.is_dummy:
            if not node.children:
                continue
            if not at_root or len(node.children) == 1:
                for child in node.children:
                    child.parent = None if at_root else node.parent
                out.extend(node.children)
                continue
        out.append(node)
    return out


def _sort_tree(nodes: list[ThreadNode]) -> None:
    for node in nodes:
        _sort_tree(node.children)
    nodes.sort(key=_date_key)


def _subject_of(node: ThreadNode) -> tuple[str, bool]:
    target = node if node.view is not None else (node.children[0] if node.children else None)
    if target is None or target.view is None:
        return "", False
    return base_subject(target.view.header("subject"))


def _merge_subjects(roots: list[ThreadNode]) -> list[ThreadNode]:
    table: dict[str, ThreadNode] = {}
    for node in roots:
        subject, refwd = _subject_of(node)
        if not subject:
            continue
        old = table.get(subject)
        if (
            old is None
            or (node.is_dummy and not old.is_dummy)
            or (_subject_of(old)[1] and not refwd and not old.is_dummy and not node.is_dummy)
        ):
            table[subject] = node
    out: list[ThreadNode] = []
    removed: set[int] = set()
    for node in roots:
        if id(node) in removed:
            continue
        subject, refwd = _subject_of(node)
        other = table.get(subject) if subject else None
        if other is None or other is node:
            out.append(node)
            continue
        if other.is_dummy and node.is_dummy:
            for child in list(node.children):
                other.add_child(child)
        elif other.is_dummy or refwd:  # join the dummy, or a reply joins the table message
            other.add_child(node)
        else:
            dummy = ThreadNode(None)
            index = out.index(other) if other in out else None
            dummy.add_child(other)
            dummy.add_child(node)
            table[subject] = dummy
            if index is not None:
                out[index] = dummy
            else:
                removed.add(id(other))
                out.append(dummy)
    return [n for n in out if id(n) not in removed and n.parent is None]


# ------------------------------------------------------------------ output
def _members(node: ThreadNode, number: Callable[[SearchableMessage], int]) -> str:
    parts: list[str] = []
    while True:
        if node.message is not None:
            parts.append(str(number(node.message)))
        kids = node.children
        if len(kids) == 1 and node.message is not None:
            node = kids[0]
            continue
        if kids:
            parts.append("".join("(" + _members(k, number) + ")" for k in kids))
        return " ".join(parts)


def format_threads(roots: list[ThreadNode], *, uid: bool = False) -> bytes:
    """The ``thread-list`` part of ``* THREAD ...`` (empty when there are no messages)."""

    def number(m: SearchableMessage) -> int:
        return m.uid if uid else m.seq

    return "".join("(" + _members(r, number) + ")" for r in roots).encode("ascii")


def thread(messages: Iterable[SearchableMessage], algorithm: str) -> list[ThreadNode]:
    """Dispatch on the THREAD algorithm name."""
    if algorithm.upper() == "ORDEREDSUBJECT":
        return thread_orderedsubject(messages)
    if algorithm.upper() == "REFERENCES":
        return thread_references(messages)
    raise ValueError(f"unknown thread algorithm {algorithm}")
