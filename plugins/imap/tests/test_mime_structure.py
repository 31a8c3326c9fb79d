"""ENVELOPE / BODYSTRUCTURE golden tests on hand-written messages, sections and BINARY."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unigate_imap.mime import (
    Message,
    MessageStructure,
    SectionError,
    UnknownEncodingError,
    binary,
    binary_size,
    bodystructure,
    envelope,
    message_item,
    parse_addresses,
    section,
)
from unigate_imap.protocol import FetchAtt, Section


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


SIMPLE = crlf(
    "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
    "From: Terry Gray <gray@cac.washington.edu>\n"
    "Subject: IMAP4rev1 WG mtg summary and minutes\n"
    "To: imap@cac.washington.edu\n"
    "cc: minutes@CNRI.Reston.VA.US,\n"
    "  John Klensin <KLENSIN@MIT.EDU>\n"
    "Message-Id: <B27397-0100000@cac.washington.edu>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
    "\n"
    "Hello Joe, do you think we can meet at 3:30 tomorrow?\n"
)


def test_simple_envelope_matches_rfc_example() -> None:
    assert envelope(SIMPLE) == (
        b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
        b'NIL NIL "<B27397-0100000@cac.washington.edu>")'
    )


def test_simple_bodystructure() -> None:
    body = b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
    assert bodystructure(SIMPLE) == (
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" %d 1 NIL NIL NIL NIL)' % len(body)
    )
    assert bodystructure(SIMPLE, extensible=False) == (
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" %d 1)' % len(body)
    )


def test_missing_headers_and_default_type() -> None:
    raw = b"Subject: x\r\n\r\nline1\r\nline2"
    assert envelope(raw) == b'(NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL)'
    assert bodystructure(raw) == (
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 12 2 NIL NIL NIL NIL)'
    )


def test_groups_encoded_words_and_routes() -> None:
    raw = crlf(
        "From: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>\n"
        "Sender: \n"
        'Reply-To: "Smith, J." <js@x.org> (comment)\n'
        "To: undisclosed-recipients:;\n"
        'Cc: Team: a@b.c, "Q R" <q@r.s>;, solo@host\n'
        "Bcc: <@relay.net,@r2.net:bob@z.org>, local\n"
        "Subject: =?UTF-8?B?w6nDqQ==?=\n"
        "In-Reply-To: <a@b>\n"
        "\n"
        "x\n"
    )
    keld = b'(("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=" NIL "keld" "dkuug.dk"))'
    assert envelope(raw) == (
        b'(NIL "=?UTF-8?B?w6nDqQ==?=" ' + keld + b" " + keld + b" "
        b'(("Smith, J." NIL "js" "x.org")) '
        b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) '
        b'((NIL NIL "Team" NIL)(NIL NIL "a" "b.c")("Q R" NIL "q" "r.s")(NIL NIL NIL NIL)'
        b'(NIL NIL "solo" "host")) '
        b'((NIL "@relay.net,@r2.net" "bob" "z.org")(NIL NIL "local" "")) '
        b'"<a@b>" NIL)'
    )


def test_parse_addresses_quoted_local_part() -> None:
    assert parse_addresses(b'"john doe"@example.com') == [
        (None, None, b'"john doe"', b"example.com")
    ]
    assert parse_addresses(b"") == []


ALTERNATIVE = crlf(
    "From: a@b.c\n"
    "Subject: alt\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/alternative; boundary="=_b1"\n'
    "\n"
    "This is a preamble.\n"
    "--=_b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Gr=C3=BC=C3=9Fe\n"
    "--=_b1\n"
    'Content-Type: text/html; charset="utf-8"\n'
    "\n"
    "<p>Hi</p>\n"
    "\n"
    "--=_b1--\n"
    "epilogue\n"
)


def test_multipart_alternative() -> None:
    plain = b"Gr=C3=BC=C3=9Fe"
    html = b"<p>Hi</p>\r\n"
    assert bodystructure(ALTERNATIVE) == (
        b'(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" %d 1 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "utf-8") NIL NIL "7BIT" %d 1 NIL NIL NIL NIL)'
        b' "alternative" ("boundary" "=_b1") NIL NIL NIL)' % (len(plain), len(html))
    )
    assert section(ALTERNATIVE, Section((1,))) == plain
    assert section(ALTERNATIVE, Section((2,))) == html
    assert binary(ALTERNATIVE, (1,)) == "Grüße".encode()
    assert binary_size(ALTERNATIVE, (1,)) == len("Grüße".encode())
    assert (
        section(ALTERNATIVE, Section((2,), "MIME"))
        == b'Content-Type: text/html; charset="utf-8"\r\n\r\n'
    )
    with pytest.raises(SectionError):
        section(ALTERNATIVE, Section((3,)))
    # HEADER/TEXT of a non-message part is the empty string (Crispin, imap-protocol 2011)
    assert section(ALTERNATIVE, Section((1,), "HEADER")) == b""
    assert section(ALTERNATIVE, Section((1,), "TEXT")) == b""


NESTED = crlf(
    "From: outer@x.org\n"
    "Subject: fwd\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "\n"
    "see attached\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "Content-Description: forwarded\n"
    "\n"
    "From: inner@y.org\n"
    "To: Group:;\n"
    "Subject: inner subject\n"
    "Message-ID: <inner@y.org>\n"
    "Content-Type: multipart/mixed; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "inner text\n"
    "--inner\n"
    'Content-Type: application/octet-stream; name="f.bin"\n'
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=f.bin; size=3\n"
    "Content-Language: en, de\n"
    "Content-Location: http://x/f.bin\n"
    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
    "Content-ID: <part2@y>\n"
    "\n"
    "AAEC\n"
    "--inner--\n"
    "--outer--\n"
)


def test_nested_message_rfc822() -> None:
    msg = Message(NESTED)
    inner_msg = section(msg, Section((2,)))
    assert inner_msg.startswith(b"From: inner@y.org\r\n") and inner_msg.endswith(b"--inner--")
    inner_lines = inner_msg.count(b"\n") + 1
    text = b"inner text"
    inner_env = (
        b'(NIL "inner subject" ((NIL NIL "inner" "y.org")) ((NIL NIL "inner" "y.org")) '
        b'((NIL NIL "inner" "y.org")) ((NIL NIL "Group" NIL)(NIL NIL NIL NIL)) NIL NIL NIL '
        b'"<inner@y.org>")'
    )
    assert bodystructure(msg) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)'
        b'("message" "rfc822" NIL NIL "forwarded" "7BIT" %d '
        % len(inner_msg)
        + inner_env
        + b' (("text" "plain" NIL NIL NIL "7BIT" %d 1 NIL NIL NIL NIL)' % len(text)
        + b'("application" "octet-stream" ("name" "f.bin") "<part2@y>" NIL "base64" 4 '
        b'"Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename" "f.bin" "size" "3")) '
        b'("en" "de") "http://x/f.bin") "mixed" ("boundary" "inner") NIL NIL NIL)'
        b" %d NIL NIL NIL NIL)" % inner_lines + b' "mixed" ("boundary" "outer") NIL NIL NIL)'
    )
    assert section(msg, Section((2,), "HEADER")).startswith(b"From: inner@y.org\r\n")
    assert section(msg, Section((2,), "HEADER")).endswith(b"\r\n\r\n")
    assert section(msg, Section((2,), "TEXT")).startswith(b"--inner\r\n")
    assert section(msg, Section((2, 1))) == text
    assert section(msg, Section((2, 2))) == b"AAEC"
    assert binary(msg, (2, 2)) == b"\x00\x01\x02"
    assert section(msg, Section((2, 2), "MIME")).startswith(b"Content-Type: application/")
    assert section(msg, Section((1,))) == b"see attached"
    assert section(msg, Section((2,), "HEADER.FIELDS", ("SUBJECT",))) == (
        b"Subject: inner subject\r\n\r\n"
    )
    assert envelope(msg) == (
        b'(NIL "fwd" ((NIL NIL "outer" "x.org")) ((NIL NIL "outer" "x.org")) '
        b'((NIL NIL "outer" "x.org")) NIL NIL NIL NIL NIL)'
    )


def test_header_sections_and_partial() -> None:
    header_end = SIMPLE.index(b"\r\n\r\n") + 4
    assert section(SIMPLE, Section((), "HEADER")) == SIMPLE[:header_end]
    assert section(SIMPLE, Section((), "TEXT")) == SIMPLE[header_end:]
    assert section(SIMPLE, Section((1,))) == SIMPLE[header_end:]
    assert section(SIMPLE, None) == SIMPLE
    assert section(SIMPLE, Section(), (0, 4)) == b"Date"
    assert section(SIMPLE, Section(), (len(SIMPLE) + 5, 4)) == b""
    assert section(SIMPLE, Section((), "HEADER.FIELDS", ("CC", "FROM"))) == (
        b"From: Terry Gray <gray@cac.washington.edu>\r\n"
        b"cc: minutes@CNRI.Reston.VA.US,\r\n  John Klensin <KLENSIN@MIT.EDU>\r\n\r\n"
    )
    not_fields = section(
        SIMPLE, Section((), "HEADER.FIELDS.NOT", ("DATE", "CC", "SUBJECT", "TO", "MESSAGE-ID"))
    )
    assert not_fields == (
        b"From: Terry Gray <gray@cac.washington.edu>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
    )
    assert section(SIMPLE, Section((), "HEADER.FIELDS", ("X-NONE",))) == b"\r\n"
    with pytest.raises(SectionError):
        section(SIMPLE, Section((2,)))


def test_digest_default_and_unknown_cte() -> None:
    raw = crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody\n--d--\n")
    assert bodystructure(raw, extensible=False) == (
        b'(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 20 (NIL "one" NIL NIL NIL NIL NIL NIL NIL NIL) '
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 4 1) 3) "digest")'
    )
    odd = crlf("Content-Transfer-Encoding: x-uuencode\n\nabc\n")
    with pytest.raises(UnknownEncodingError):
        binary(odd, (1,))


def test_lf_only_message_and_cache_roundtrip() -> None:
    raw = ALTERNATIVE.replace(b"\r\n", b"\n")
    msg = Message(raw)
    assert section(msg, Section((2,))) == b"<p>Hi</p>\n"
    data = msg.structure.dumps()
    again = Message(raw, MessageStructure.loads(data))
    assert again.structure == msg.structure
    assert bodystructure(again) == bodystructure(msg)
    stale = Message(raw + b"x", MessageStructure.loads(data))
    assert stale.structure.size == len(raw) + 1


def test_8bit_subject_becomes_literal() -> None:
    raw = "Subject: Grüße\r\n\r\n".encode()
    assert envelope(raw) == b"(NIL {7}\r\nGr\xc3\xbc\xc3\x9fe NIL NIL NIL NIL NIL NIL NIL NIL)"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    msg = Message(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + raw)
    bodystructure(msg)
    envelope(msg)
    for path in ((), (1,), (1, 1), (2,)):
        try:
            section(msg, Section(path))
            binary(msg, path)
        except SectionError:
            pass


def test_header_fields_without_body_has_no_blank_line() -> None:
    assert section(b"Subject: a\r\nX: y\r\n", Section((), "HEADER.FIELDS", ("X",))) == (b"X: y\r\n")


def test_message_items() -> None:
    msg = Message(NESTED)
    assert message_item(msg, FetchAtt("FLAGS")) is None
    assert message_item(msg, FetchAtt("RFC822.SIZE")) == (b"RFC822.SIZE", b"%d" % len(NESTED))
    assert message_item(msg, FetchAtt("ENVELOPE")) == (b"ENVELOPE", envelope(msg))
    assert message_item(msg, FetchAtt("BODY")) == (b"BODY", bodystructure(msg, False))
    assert message_item(msg, FetchAtt("BODY", Section((2, 1)), (0, 5), True)) == (
        b"BODY[2.1]<0>",
        b"{5}\r\ninner",
    )
    assert message_item(msg, FetchAtt("BODY", Section((9,)))) == (b"BODY[9]", b"NIL")
    assert message_item(msg, FetchAtt("BINARY", Section((2, 2)))) == (
        b"BINARY[2.2]",
        b"~{3}\r\n\x00\x01\x02",
    )
    assert message_item(msg, FetchAtt("BINARY", Section((2, 2)), (1, 9))) == (
        b"BINARY[2.2]",
        b"{2}\r\n\x01\x02",  # literal8 only when a NUL is present
    )
    assert message_item(msg, FetchAtt("BINARY.SIZE", Section((2, 2)))) == (
        b"BINARY.SIZE[2.2]",
        b"3",
    )
    header = message_item(msg, FetchAtt("RFC822.HEADER"))
    assert header is not None and header[1].endswith(b"boundary=outer\r\n\r\n")
    odd = Message(b"Content-Transfer-Encoding: x-uuencode\r\n\r\nabc\r\n")
    with pytest.raises(UnknownEncodingError):
        message_item(odd, FetchAtt("BINARY", Section((1,))))
