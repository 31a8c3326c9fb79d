"""STORE / UID STORE (FLAGS, +FLAGS, -FLAGS, .SILENT, CONDSTORE UNCHANGEDSINCE).

Why thin: the manager applies the change with the user's rights (a reader without
``s`` silently keeps ``\\Seen``), assigns MODSEQs and tells the other sessions; this
module picks the messages and writes the FETCH answers and ``[MODIFIED]``.
"""

from __future__ import annotations

from .. import protocol as p
from ..protocol import responses as r
from .core import ImapSession, register

__all__: list[str] = []

_MODES = {"": "replace", "+": "add", "-": "remove"}


@register(p.Store, "selected")
async def store(s: ImapSession, cmd: p.Store) -> bytes:
    sel = s.selected
    assert sel is not None
    if sel.readonly:
        return p.no(cmd.tag, "Mailbox is read-only", "READ-ONLY")
    box = sel.box
    uids = sel.resolve(cmd.sequence_set, uid=cmd.uid)
    if cmd.unchangedsince is not None:
        s.enabled.add("CONDSTORE")
    flags = [f for f in cmd.flags if f.upper() != "\\RECENT"]
    changed, failed = await box.store(uids, flags, _MODES[cmd.mode], cmd.unchangedsince)
    changed_uids = {rec.uid for rec in changed}
    if any(s.note_keywords(sel, rec.flags) for rec in changed):
        s.write(s.flags_lines(sel))
    failed_set = set(failed)
    for uid in uids:
        if uid in failed_set:
            continue
        seq = box.seq_of(uid)
        rec = box.record(uid)
        if seq is None or rec is None:
            continue
        if cmd.silent:
            if s.condstore and uid in changed_uids:
                items = [(b"MODSEQ", b"(%d)" % rec.modseq)]
                if cmd.uid:
                    items.insert(0, (b"UID", b"%d" % uid))
                s.write(r.fetch_response(seq, items))
            continue
        s.write(r.fetch_response(seq, s.flag_items(rec, uid=cmd.uid)))
        await s.maybe_flush()
    if failed:
        if cmd.uid:
            numbers = sorted(failed)
        else:
            numbers = sorted(n for n in (box.seq_of(u) for u in failed) if n is not None)
        modified = str(p.SequenceSet.from_numbers(numbers))
        return p.ok(cmd.tag, "Conditional STORE failed for some messages", f"MODIFIED {modified}")
    return p.ok(cmd.tag, "STORE completed")
