"""Self-tests for the event-stream parser, ``conformance._parser``.

The authority is the WHATWG HTML Living Standard, section 9.2.6 "Interpreting an event
stream" (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
The test vectors of the parametrized table come from web-platform-tests, directory
``eventsource/`` (the ``format-*`` tests and the bodies their ``resources/*.py`` servers
send); the bodies are written out here as bytes, the code around them is ours.
"""

from __future__ import annotations

from collections import Counter
from itertools import accumulate

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance._parser import (
    NOTICES_KEPT_PER_KIND,
    RETRY_CAP,
    Event,
    EventStreamParser,
    LimitExceeded,
    Unterminated,
)

BOM = b"\xef\xbb\xbf"


# -- helpers ----------------------------------------------------------------------


def run(chunks, **limits) -> tuple[list[Event], EventStreamParser]:
    """Feed ``chunks`` (piece ``i`` arriving at time ``i``), close, return events and parser."""
    if isinstance(chunks, bytes):
        chunks = [chunks]
    parser = EventStreamParser(**limits)
    events: list[Event] = []
    for i, chunk in enumerate(chunks):
        events += parser.feed(chunk, time=float(i))
    parser.close()
    return events, parser


def parse(chunks, **limits) -> list[Event]:
    return run(chunks, **limits)[0]


def bytewise(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def triples(events) -> list[tuple[str, str, str]]:
    """What a browser's listener sees: (type, data, lastEventId)."""
    return [(e.type, e.data, e.last_event_id) for e in events]


def sans_time(events) -> list[tuple]:
    """Every field but ``time``, which depends on how the body was cut by design."""
    return [(e.data, e.type, e.last_event_id, e.retry, e.offset, e.end, e.index) for e in events]


def message_py(message: bytes, newline: bool = True) -> bytes:
    """The body WPT's ``resources/message.py`` (and ``message.php``) sends.

    ``body = message + newline + "\\n"`` where newline is ``"\\n\\n"``, or ``""`` when
    the test asks for ``newline=none``.
    """
    return message + (b"\n\n" if newline else b"") + b"\n"


def last_event_id_py(idvalue: bytes = "\u2026".encode()) -> bytes:
    """First-connection body of WPT's ``resources/last-event-id.py``."""
    return b"id: " + idvalue + b"\nretry: 200\ndata: hello\n\n"


# -- 1. the examples of WHATWG HTML 9.2.6 -------------------------------------------


def test_whatwg_example_yhoo_multiline_data():
    # "The following event stream, once followed by a blank line: data: YHOO / data: +2 /
    # data: 10 ...would cause an event message ... The event's data attribute would
    # contain the string "YHOO\n+2\n10"".
    lines = b"data: YHOO\ndata: +2\ndata: 10\n"
    events = parse(lines + b"\n")
    assert triples(events) == [("message", "YHOO\n+2\n10", "")]
    # The spec's consumer splits on "\n" into symbol, delta, value.
    assert events[0].data.split("\n") == ["YHOO", "+2", "10"]
    # "once followed by a blank line": without it nothing fires.
    assert parse(lines) == []


def test_whatwg_example_four_blocks_comment_id_and_leading_space():
    body = (
        b": test stream\n"
        b"\n"
        b"data: first event\n"
        b"id: 1\n"
        b"\n"
        b"data:second event\n"
        b"id\n"
        b"\n"
        b"data:  third event\n"
        b"\n"
    )
    events, parser = run(body)
    # "The first block has just a comment, and will fire nothing", the second fires
    # "first event" with the last event ID "1", the third fires "second event" and its
    # bare "id" "resets the last event ID to the empty string", the last fires
    # " third event" "(with a single leading space character)".
    assert triples(events) == [
        ("message", "first event", "1"),
        ("message", "second event", ""),
        ("message", " third event", ""),
    ]
    assert parser.unterminated is None and parser.notices == []


def test_whatwg_example_four_blocks_end_of_stream_does_not_dispatch():
    # "Note that the last still has to end with a blank line, the end of the stream is
    # not enough to trigger the dispatch of the last event."
    body = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
    events, parser = run(body)
    assert triples(events) == [("message", "first event", "1"), ("message", "second event", "")]
    start = body.index(b"data:  third event")
    assert parser.unterminated == Unterminated(offset=start, data=" third event", partial_line="")


@pytest.mark.parametrize("last_line", [b"data:", b"data:\n"], ids=["no-eol", "eol"])
def test_whatwg_example_two_events_last_block_discarded(last_line):
    # "The following stream fires two events: data / (blank) / data / data / (blank) /
    # data: ... The first block fires events with the data set to the empty string, ...
    # The middle block fires an event with the data set to a single newline character.
    # The last block is discarded because it is not followed by a blank line."
    events, parser = run(b"data\n\ndata\ndata\n\n" + last_line)
    assert triples(events) == [("message", "", ""), ("message", "\n", "")]
    assert parser.unterminated is not None


def test_whatwg_example_two_events_last_block_fires_if_followed_by_blank_line():
    # "... as would the last block if it was followed by a blank line."
    events = parse(b"data\n\ndata\ndata\n\ndata:\n\n")
    assert triples(events) == [("message", "", ""), ("message", "\n", ""), ("message", "", "")]


def test_whatwg_example_space_after_colon_is_ignored():
    # "The following stream fires two identical events: data:test / data: test. This is
    # because the space after the colon is ignored if present."
    first, second = parse(b"data:test\n\ndata: test\n\n")
    assert (first.type, first.data, first.last_event_id) == ("message", "test", "")
    assert (second.type, second.data, second.last_event_id) == (first.type, first.data, first.last_event_id)


# -- 2. web-platform-tests eventsource/format-* vectors -------------------------------

_LONG = b"x" * 2048  # format-comments: (new Array(2*1024+1)).join("x")

WPT_FORMAT = [
    pytest.param(
        message_py(BOM + b"data:1\n\n" + BOM + b"data:2\n\ndata:3"),
        [("message", "1", ""), ("message", "3", "")],
        {"notices": {"unknown-field": 1}},  # "\ufeffdata" is not "data"
        id="format-bom",
    ),
    pytest.param(
        message_py(BOM + BOM + b"data:1\n\ndata:2\n\ndata:3"),
        [("message", "2", ""), ("message", "3", "")],
        {"notices": {"unknown-field": 1}},
        id="format-bom-2",
    ),
    pytest.param(
        message_py(
            b"data:1\r:\0\n:\r\ndata:2\n:" + _LONG + b"\rdata:3\n:data:fail\r:" + _LONG + b"\ndata:4\n",
            newline=False,
        ),
        [("message", "1\n2\n3\n4", "")],
        {},
        id="format-comments",
    ),
    pytest.param(
        message_py(b"data:\n\ndata\ndata\n\ndata:test"),
        [("message", "", ""), ("message", "\n", ""), ("message", "test", "")],
        {},
        id="format-field-data",
    ),
    pytest.param(
        message_py(
            b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\n"
            b"data:3\rdata:\r\n data:32\ndata:4\n",
            newline=False,
        ),
        [("message", "\0\n 2\n1\n3\n\n4", "")],
        # Data, data\0, \0data, da-ta, data_5 and " data" are all unknown names.
        {"notices": {"unknown-field": 6}},
        id="format-field-parsing",
    ),
    pytest.param(
        # The trailing "\r" plus message.py's final "\n" is one CRLF: one blank line.
        message_py(b"data:test\r\ndata\ndata:test\r\n\r", newline=False),
        [("message", "test\n\ntest", "")],
        {},
        id="format-newlines",
    ),
    pytest.param(
        message_py(b"data:\ttest\rdata: \ndata:test"),
        [("message", "\ttest\n\ntest", "")],
        {},
        id="format-leading-space",
    ),
    pytest.param(
        message_py(b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test"),
        [("message", "test\n\ntest", "")],
        {"notices": {"unknown-field": 3}},
        id="format-field-unknown",
    ),
    pytest.param(
        message_py(b"retry:1000\ndata:test1\n\nid:test\ndata:test2", newline=False),
        [("message", "test1", "")],
        {"retry": 1000, "unterminated": Unterminated(offset=23, data="test2", partial_line="")},
        id="format-data-before-final-empty-line",
    ),
    pytest.param(
        message_py(b"data:\0\n\n"),
        [("message", "\0", "")],
        {},
        id="format-null-character",
    ),
    pytest.param(
        message_py(b"retry:2000\nretry:1000x\ndata:x"),
        [("message", "x", "")],
        {"retry": 2000, "notices": {"bogus-retry": 1}},
        id="format-field-retry-bogus",
    ),
    pytest.param(
        message_py(b"retry\ndata:test"),
        [("message", "test", "")],
        {"retry": None, "notices": {"bogus-retry": 1}},
        id="format-field-retry-empty",
    ),
    pytest.param(
        # "02000": base ten, not octal.
        message_py(b"retry:02000\ndata:x"),
        [("message", "x", "")],
        {"retry": 2000},
        id="format-field-retry",
    ),
    pytest.param(
        message_py(b"event:test\ndata:x\n\ndata:x"),
        [("test", "x", ""), ("message", "x", "")],
        {},
        id="format-field-event",
    ),
    pytest.param(
        message_py(b"event: \ndata:data"),
        [("message", "data", "")],
        {},
        id="format-field-event-empty",
    ),
    pytest.param(
        last_event_id_py(),
        [("message", "hello", "\u2026")],
        {"retry": 200},
        id="format-field-id",
    ),
    # format-field-id-null: U+0000 anywhere in the value means the field is ignored.
    # (An older revision of this WPT test expected "\0\0" to be kept; the spec says
    # "If the field value does not contain U+0000 NULL, then set the last event ID buffer".)
    *[
        pytest.param(
            last_event_id_py(idvalue),
            [("message", "hello", "")],
            {"retry": 200, "notices": {"id-nul": 1}},
            id=f"format-field-id-null-{name}",
        )
        for name, idvalue in [("00", b"\0\0"), ("x0", b"x\0"), ("0x", b"\0x"), ("x0x", b"x\0x"), ("sp0", b" \0")]
    ],
    pytest.param(
        b"id: 1\ndata: 1\n\ndata:2\n\n",
        [("message", "1", "1"), ("message", "2", "1")],
        {},
        id="format-field-id-3-persists",
    ),
    pytest.param(
        b"id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n",
        [("message", "1", "1"), ("message", "2", "2"), ("message", "3", "2")],
        {},
        id="format-field-id-3-changes-and-persists",
    ),
    pytest.param(
        b"id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n",
        [("message", "1", "1"), ("message", "2", ""), ("message", "3", "")],
        {},
        id="format-field-id-3-resets",
    ),
    pytest.param(
        # Served as charset=windows-1252; the stream is UTF-8 regardless.
        message_py(b"data:ok\xe2\x80\xa6"),
        [("message", "ok\u2026", "")],
        {},
        id="format-utf-8",
    ),
    pytest.param(
        # One loop of resources/message2.py, which writes it in these pieces.
        b"".join(
            [b"data:msg", b"\n", b"data: msg", b"\n\n", b":", b"\n", b"falsefield:msg", b"\n\n",
             b"falsefield:msg", b"\n", b"Data:data", b"\n\n", b"data", b"\n\n", b"data:end", b"\n\n"]
        ),
        [("message", "msg\nmsg", ""), ("message", "", ""), ("message", "end", "")],
        {"notices": {"unknown-field": 3}},
        id="event-data",
    ),
]


@pytest.mark.parametrize(("body", "expected", "extra"), WPT_FORMAT)
def test_wpt_format(body, expected, extra):
    events, parser = run(body)
    assert triples(events) == expected
    assert parser.retry == extra.get("retry")
    assert parser.notice_counts == Counter(extra.get("notices", {}))
    assert parser.unterminated == extra.get("unterminated")
    # The same body dribbled in one byte at a time must mean exactly the same.
    events_b, parser_b = run(bytewise(body))
    assert sans_time(events_b) == sans_time(events)
    assert parser_b.notices == parser.notices
    assert parser_b.unterminated == parser.unterminated


# -- 3. targeted rules ------------------------------------------------------------------

# "a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a single U+000A LINE
# FEED (LF) character not preceded by a U+000D CARRIAGE RETURN (CR) character, and a
# single U+000D CARRIAGE RETURN (CR) character not followed by a U+000A LINE FEED (LF)
# character being the ways in which a line can end."


@pytest.mark.parametrize("eol", [b"\r", b"\n", b"\r\n"], ids=["CR", "LF", "CRLF"])
def test_line_endings(eol):
    body = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    events = parse(body)
    assert triples(events) == [("message", "a\nb", ""), ("message", "c", "")]
    blank1 = len(b"data: a" + eol + b"data: b" + eol)
    assert [(e.offset, e.end) for e in events] == [(0, blank1), (blank1 + len(eol), len(body) - len(eol))]


def test_mixed_line_endings_in_one_stream():
    # LF, CR, CRLF ending consecutive lines; "\r\r\n" is CR then a CRLF blank line.
    events = parse(b"data: a\ndata: b\rdata: c\r\n\r\ndata: d\r\r\n")
    assert triples(events) == [("message", "a\nb\nc", ""), ("message", "d", "")]


@pytest.mark.parametrize(
    "chunks",
    [
        [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"],
        [b"data: a\r", b"\n", b"data: b\r", b"\n", b"\r", b"\n"],
    ],
    ids=["cr|lf-inside-pieces", "cr|lf-as-own-pieces"],
)
def test_crlf_split_across_feeds_is_one_line_ending(chunks):
    parser = EventStreamParser()
    returned = [parser.feed(c, time=float(i)) for i, c in enumerate(chunks)]
    events = [e for r in returned for e in r]
    # Were the LF after a piece-final CR taken as a blank line, "a" would be dispatched
    # alone and "b" would follow as a second event.
    assert triples(events) == [("message", "a\nb", "")]
    assert parser.events_dispatched == 1
    assert (events[0].offset, events[0].end) == (0, len(b"data: a\r\ndata: b\r\n"))
    # The CR of the blank line dispatched; the LF that completes its CRLF adds nothing.
    assert returned[-1] == []


@pytest.mark.parametrize(
    "chunks",
    [[b"data: a\r", b"\r"], [b"data: a\n", b"\n"], [b"data: a\r\n", b"\n"], [b"data: a\r", b"\n", b"\n"]],
    ids=["CR|CR", "LF|LF", "CRLF|LF", "CR|LF|LF"],
)
def test_only_lf_right_after_cr_is_swallowed(chunks):
    # A blank line that starts a piece must still dispatch unless it is the LF of a CRLF.
    events = parse(chunks)
    assert triples(events) == [("message", "a", "")]
    assert events[0].time == float(len(chunks) - 1)


def test_lone_cr_as_last_byte_of_a_feed_ends_its_line_immediately():
    parser = EventStreamParser()
    # The final CR is a blank line already: no need to wait and see whether an LF follows.
    (event,) = parser.feed(b"data: x\n\r", time=1.0)
    assert (event.data, event.offset, event.end, event.time) == ("x", 0, 8, 1.0)
    # The LF that turns out to follow completes a CRLF: no second blank line, nothing new.
    assert parser.feed(b"\n", time=2.0) == []
    (event2,) = parser.feed(b"data: y\n\n", time=3.0)
    assert (event2.data, event2.offset, event2.index) == ("y", 10, 1)


def test_only_cr_and_lf_end_lines():
    # str.splitlines() would also break on VT, FF, FS, GS, RS, NEL, LS and PS: they are data.
    value = "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i"
    events = parse(b"data: " + value.encode() + b"\n\n")
    assert triples(events) == [("message", value, "")]


# "The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any."


@pytest.mark.parametrize("cut", ["whole", "bytewise"])
def test_exactly_one_leading_bom_is_stripped(cut):
    body = BOM + b"data: x\n\n"
    events, parser = run(body if cut == "whole" else bytewise(body))
    assert triples(events) == [("message", "x", "")]
    assert parser.notices == []
    assert events[0].offset == 3  # offsets count the stripped BOM


@pytest.mark.parametrize("cut", ["whole", "bytewise"])
def test_second_bom_is_not_stripped(cut):
    body = BOM + BOM + b"data: x\n\ndata: y\n\n"
    events, parser = run(body if cut == "whole" else bytewise(body))
    assert triples(events) == [("message", "y", "")]
    ((kind, offset, line),) = [(n.kind, n.offset, n.line) for n in parser.notices]
    assert (kind, offset, line) == ("unknown-field", 3, "\ufeffdata: x")


def test_bom_after_the_start_is_data():
    events, parser = run(b"data: x\n\n" + BOM + b"data: y\n\ndata: " + BOM + b"z\n\n")
    assert triples(events) == [("message", "x", ""), ("message", "\ufeffz", "")]
    assert parser.notice_counts == Counter({"unknown-field": 1})


def test_truncated_bom_is_not_a_bom():
    # EF BB then "d": one U+FFFD for the truncated sequence, which is not a BOM.
    events, parser = run(b"\xef\xbbdata: x\n\ndata: y\n\n")
    assert triples(events) == [("message", "y", "")]
    assert [(n.kind, n.offset) for n in parser.notices] == [("invalid-utf8", 0), ("unknown-field", 0)]
    assert parser.notices[1].line == "\ufffddata: x"


def test_field_names_are_case_sensitive():
    # "Field names must be compared literally, with no case folding performed."
    body = b"Data: x\nDATA: y\nEvent: e\nID: 1\nRetry: 5\n\ndata: z\n\n"
    events, parser = run(body)
    assert triples(events) == [("message", "z", "")]
    assert parser.retry is None
    assert parser.notice_counts == Counter({"unknown-field": 5})
    assert [n.detail for n in parser.notices] == ["Data", "DATA", "Event", "ID", "Retry"]


def test_no_dispatch_with_empty_data_buffer_and_event_type_is_reset():
    # "If the data buffer is an empty string, set the data buffer and the event type
    # buffer to the empty string and return." The id, set when its field was processed,
    # stays.
    events = parse(b"event: ping\nid: 7\nretry: 10\n\ndata: x\n\n")
    assert triples(events) == [("message", "x", "7")]
    assert events[0].retry is None  # the retry belonged to the block that fired nothing
    assert parse(b"event: ping\n\n: only a comment\n\nid: 3\n\n") == []


@pytest.mark.parametrize("line", [b"data:", b"data: ", b"data"])
def test_empty_data_value_dispatches_an_event_with_empty_data(line):
    # The data buffer is "\n", not empty; its last LF is removed: data is "".
    assert triples(parse(line + b"\n\n")) == [("message", "", "")]


def test_data_lines_are_joined_with_lf():
    events = parse(b"data: a\ndata:\ndata: b\ndata\n\n")
    # Buffer "a\n\nb\n\n" less its final LF.
    assert triples(events) == [("message", "a\n\nb\n", "")]


def test_only_one_leading_space_is_removed_and_later_colons_are_value():
    events = parse(b"data:  two\ndata:\tt\ndata:a:b: c\n\nevent:x:y\ndata :z\ndata:1\n\n")
    assert triples(events) == [("message", " two\n\tt\na:b: c", ""), ("x:y", "1", "")]


def test_valid_retry_sets_reconnection_time_and_tags_its_event():
    events, parser = run(b"retry: 0\ndata: a\n\nretry:007\ndata: b\n\ndata: c\n\n")
    assert [e.retry for e in events] == [0, 7, None]
    assert parser.retry == 7
    assert parser.notices == []


@pytest.mark.parametrize(
    "value",
    ["+5", "1.5", "-1", "5 ", " 5", "1e3", "0x10", "\u0663", "\uff15", "\u00b2", ""],
    ids=["plus", "decimal", "negative", "trailing-space", "two-spaces", "exponent", "hex",
         "arabic-indic-3", "fullwidth-5", "superscript-2", "empty"],
)
def test_retry_that_is_not_only_ascii_digits_is_ignored(value):
    # "If the field value consists of only ASCII digits, then ... Otherwise, ignore the field."
    body = b"retry: 100\n\nretry: " + value.encode() + b"\ndata: x\n\n"
    events, parser = run(body)
    assert triples(events) == [("message", "x", "")]
    assert parser.retry == 100
    assert events[0].retry is None
    ((kind, offset, detail),) = [(n.kind, n.offset, n.detail) for n in parser.notices]
    assert (kind, offset, detail) == ("bogus-retry", 12, value)


def test_retry_with_thousands_of_digits_is_clamped_not_a_crash():
    # All ASCII digits: "interpret the field value as an integer in base ten". Converting
    # 5000 digits exactly would raise (or take quadratic time), so the value is clamped.
    events, parser = run(b"retry: " + b"9" * 5000 + b"\ndata: x\n\n")
    assert triples(events) == [("message", "x", "")]
    assert parser.retry == RETRY_CAP == 10**18 - 1
    assert run(b"retry: 123456789012345678\n\n")[1].retry == 123456789012345678


def test_id_with_nul_is_ignored_and_noticed():
    body = b"id: a\ndata: 1\n\nid: b\0c\ndata: 2\n\n"
    events, parser = run(body)
    assert triples(events) == [("message", "1", "a"), ("message", "2", "a")]
    ((kind, offset, line),) = [(n.kind, n.offset, n.line) for n in parser.notices]
    assert (kind, offset, line) == ("id-nul", 15, "id: b\0c")


def test_id_persists_across_events_until_set_again():
    # "The buffer does not get reset, so the last event ID string of the event source
    # remains set to this value until the next time it is set by the server."
    body = b"id: 1\ndata: a\n\ndata: b\n\nevent: t\ndata: c\n\nid: 2\n\ndata: d\n\nid\ndata: e\n\n"
    assert [e.last_event_id for e in parse(body)] == ["1", "1", "1", "2", ""]


# Invalid UTF-8 and characters cut between pieces.


def test_invalid_utf8_is_replaced_and_noticed_at_its_byte_offset():
    body = BOM + b"data: ok\n\ndata: \xc3\x28\n\n"
    for chunks in (body, bytewise(body)):
        events, parser = run(chunks)
        assert triples(events) == [("message", "ok", ""), ("message", "\ufffd(", "")]
        ((kind, offset),) = [(n.kind, n.offset) for n in parser.notices]
        assert (kind, offset) == ("invalid-utf8", 19)  # 3 (BOM) + 9 + 1 + len("data: ")


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b"\xff", "\ufffd"),
        (b"\xc0\xaf", "\ufffd\ufffd"),  # overlong: C0 is never a lead byte
        (b"\xe0\x80\x80", "\ufffd" * 3),
        (b"\xed\xa0\x80", "\ufffd" * 3),  # an encoded surrogate
        (b"\xf0\x9f\x98a", "\ufffda"),  # truncated 4-byte sequence: one U+FFFD
        (b"\xf4\x90\x80\x80", "\ufffd" * 4),  # above U+10FFFF
    ],
    ids=["ff", "overlong", "e0-80-80", "surrogate", "truncated", "too-big"],
)
def test_invalid_utf8_gets_one_replacement_per_maximal_subpart(raw, decoded):
    # The Encoding Standard's UTF-8 decoder: each maximal invalid subpart becomes one U+FFFD.
    events, parser = run(b"data: <" + raw + b">\n\n")
    assert triples(events) == [("message", "<" + decoded + ">", "")]
    assert [(n.kind, n.offset) for n in parser.notices] == [("invalid-utf8", 7)]


@pytest.mark.parametrize("char", ["\u00e9", "\u20ac", "\U0001f600"], ids=["e-acute", "euro", "emoji"])
def test_multibyte_character_split_across_feeds_decodes_intact(char):
    body = ("data: " + char + "\nid: " + char + "\n\n").encode()
    cuts = [bytewise(body)] + [[body[:i], body[i:]] for i in range(1, len(body))]
    for chunks in cuts:
        events, parser = run(chunks)
        assert triples(events) == [("message", char, char)], chunks
        assert parser.notices == []


# Offsets and times.

_OFFSETS_BODY = BOM + b": hi\r\ndata: a\r\n\r\n\n\nid: 1\rdata: b\r\rdata: c\ndata: d\n\n"


def test_event_offsets_and_ends():
    events = parse(_OFFSETS_BODY)
    assert [(e.data, e.offset, e.end) for e in events] == [("a", 3, 18), ("b", 22, 36), ("c\nd", 37, 53)]
    # The event's bytes are body[offset:end], first line (a comment counts) to blank line.
    assert _OFFSETS_BODY[3:18] == b": hi\r\ndata: a\r\n"
    assert _OFFSETS_BODY[22:36] == b"id: 1\rdata: b\r"
    assert _OFFSETS_BODY[37:53] == b"data: c\ndata: d\n"


def test_event_offsets_are_identical_however_the_body_is_cut():
    reference = sans_time(parse(_OFFSETS_BODY))
    body = _OFFSETS_BODY
    assert sans_time(parse(bytewise(body))) == reference
    for i in range(1, len(body)):
        for j in range(i, len(body), 7):
            assert sans_time(parse([body[:i], body[i:j], body[j:]])) == reference, (i, j)


def test_time_is_that_of_the_feed_that_completed_the_event():
    parser = EventStreamParser()
    assert parser.feed(b"data: a\n", time=1.0) == []
    (a,) = parser.feed(b"\ndata: b\r", time=2.5)
    (b,) = parser.feed(b"\r", time=4.0)
    assert parser.feed(b"\n", time=5.0) == []
    assert [(e.data, e.time, e.index) for e in (a, b)] == [("a", 2.5, 0), ("b", 4.0, 1)]


# End of stream: "any pending data must be discarded".


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"data: a\ndata: b\n", Unterminated(offset=0, data="a\nb", partial_line="")),
        (b"data: a\n\ndata: b", Unterminated(offset=9, data="", partial_line="data: b")),
        (b"data: a\ndata: b", Unterminated(offset=0, data="a", partial_line="data: b")),
        (b"data: a\n\n: c\ndata: b\r", Unterminated(offset=9, data="b", partial_line="")),
    ],
    ids=["data-pending", "partial-line", "both", "cr-ended"],
)
def test_close_reports_what_it_discards(body, expected):
    events, parser = run(body)
    assert all(e.data == "a" for e in events)
    assert parser.unterminated == expected
    assert run(bytewise(body))[1].unterminated == expected


@pytest.mark.parametrize("body", [b"", BOM, b"data: a\n\n", b"data: a\r\n\r\n", b"data: a\r\r"])
def test_close_reports_nothing_for_a_clean_stream(body):
    for chunks in (body, bytewise(body)):
        assert run(chunks)[1].unterminated is None


@pytest.mark.parametrize("body", [b"\xef", b"\xef\xbb"], ids=["ef", "ef-bb"])
def test_close_reports_a_truncated_bom_as_a_partial_line(body):
    # feed() treats the same bytes followed by "\n" as a line "\ufffd" (and notices it);
    # at end of stream the UTF-8 decoder also yields U+FFFD for them.
    assert run(body)[1].unterminated == Unterminated(offset=0, data="", partial_line="\ufffd")


# Limits: the parser stops rather than buffer without bound.


@pytest.mark.parametrize("piece", [1, 3, 1000], ids=["bytewise", "3-byte-pieces", "one-piece"])
def test_line_longer_than_max_line_stops_the_parser(piece):
    body = b"data: ok\n\ndata: " + b"x" * 20 + b"\n\ndata: later\n\n"
    chunks = [body[i : i + piece] for i in range(0, len(body), piece)]
    events, parser = run(chunks, max_line=16)
    assert triples(events) == [("message", "ok", "")]
    assert parser.exceeded == LimitExceeded("line", 16, 10)
    assert parser.feed(b"data: more\n\n") == []


def test_line_of_exactly_max_line_is_accepted():
    line = b"data: " + b"x" * 10  # 16 bytes
    for chunks in ([line + b"\n\n"], bytewise(line + b"\n\n")):
        events, parser = run(chunks, max_line=16)
        assert triples(events) == [("message", "x" * 10, "")] and parser.exceeded is None


def test_event_outgrowing_max_event_over_many_data_lines_stops_the_parser():
    # Each line adds 10 characters and an LF: the third passes 32.
    body = b"data: first\n\n" + b"data: 0123456789\n" * 5 + b"\ndata: later\n\n"
    for chunks in (body, bytewise(body)):
        events, parser = run(chunks, max_event=32)
        assert triples(events) == [("message", "first", "")]
        assert parser.exceeded == LimitExceeded("event", 32, 13)


def test_max_event_counts_bytes():
    events, parser = run(("data: " + "\u00e9" * 10 + "\n\n").encode(), max_event=16)
    assert parser.exceeded == LimitExceeded("event", 16, 0)


def test_notices_are_bounded_but_counted():
    events, parser = run(b"foo: bar\n" * 10_000 + b"data: x\n\n")
    assert triples(events) == [("message", "x", "")]
    assert parser.notice_counts["unknown-field"] == 10_000
    assert len(parser.notices) == NOTICES_KEPT_PER_KIND <= 20
    assert [(n.offset, n.line) for n in parser.notices[:2]] == [(0, "foo: bar"), (9, "foo: bar")]


# -- 4. property: any cut of any well-formed stream parses as the whole ----------------

_SPECIAL = ["\u00e9", "\u20ac", "\U0001f600", "\U0010fffd", "\ufeff", ":", " ", "\t", "\u2028", "\x85"]
_CHAR = st.characters(exclude_categories=("Cs",), exclude_characters="\r\n") | st.sampled_from(_SPECIAL + ["\0"])
_CHAR_NO_NUL = st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\0") | st.sampled_from(_SPECIAL)
_VALUE = st.text(_CHAR, max_size=8)
_NAME_VALUE = st.text(_CHAR_NO_NUL, max_size=8)  # event types and ids: no CR, LF, NUL
_RETRY = st.text("0123456789", min_size=1, max_size=7)
_EOL = st.sampled_from(["\r", "\n", "\r\n"])


def _field(draw, name: str, value: str) -> str:
    if value == "":
        sep = draw(st.sampled_from(["", ":", ": "]))  # a bare name means an empty value
    elif value.startswith(" "):
        sep = ": "  # the one space after the colon is eaten, so it must be written
    else:
        sep = draw(st.sampled_from([":", ": "]))
    return name + sep + value


def _insert_anywhere(draw, lines: list[str], extras: list[str]) -> None:
    for extra in extras:
        lines.insert(draw(st.integers(0, len(lines))), extra)


@st.composite
def event_streams(draw):
    """A body, the events it must give (all fields but time), and what close() finds."""
    blocks: list[tuple[list[str], dict | None]] = []  # (lines, expected event or None)
    last_id, last_retry = "", None
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["event", "event", "event", "no-data", "comments", "blank"]))
        if kind == "blank":
            blocks.append(([], None))  # an extra blank line between blocks
        elif kind == "comments":
            blocks.append(([":" + c for c in draw(st.lists(_VALUE, min_size=1, max_size=2))], None))
        elif kind == "no-data":
            # Sets the id (and the stream's retry) but dispatches nothing; its event type
            # must not leak into the next event.
            last_id = draw(_NAME_VALUE)
            lines = [_field(draw, "id", last_id), _field(draw, "event", draw(_NAME_VALUE))]
            retry = draw(st.none() | _RETRY)
            if retry is not None:
                lines.append(_field(draw, "retry", retry))
                last_retry = int(retry)
            blocks.append((draw(st.permutations(lines)), None))
        else:
            values = draw(st.lists(_VALUE, min_size=1, max_size=3))
            lines = [_field(draw, "data", v) for v in values]
            etype, eid, retry = draw(st.none() | _NAME_VALUE), draw(st.none() | _NAME_VALUE), draw(st.none() | _RETRY)
            extras = [":" + c for c in draw(st.lists(_VALUE, max_size=2))]
            if etype is not None:
                extras.append(_field(draw, "event", etype))
            if eid is not None:
                extras.append(_field(draw, "id", eid))
                last_id = eid
            if retry is not None:
                extras.append(_field(draw, "retry", retry))
                last_retry = int(retry)
            _insert_anywhere(draw, lines, extras)
            expected = {
                "data": "\n".join(values),
                "type": etype or "message",
                "last_event_id": last_id,
                "retry": None if retry is None else int(retry),
            }
            blocks.append((lines, expected))

    body = bytearray(BOM if draw(st.booleans()) else b"")
    events: list[tuple] = []
    prev_eol = None

    def put(line: str, eol: str | None) -> None:
        nonlocal prev_eol
        if line == "" and prev_eol == "\r" and eol == "\n":
            eol = "\r\n"  # CR then an LF blank line would read as one CRLF: keep it a blank line
        body.extend((line + (eol or "")).encode())
        prev_eol = eol

    for lines, expected in blocks:
        start = len(body)
        for line in lines:
            put(line, draw(_EOL))
        end = len(body)
        put("", draw(_EOL))
        if expected is not None:
            e = expected
            events.append((e["data"], e["type"], e["last_event_id"], e["retry"], start, end, len(events)))

    unterminated = None
    tail = draw(st.none() | _VALUE)
    if tail is not None:
        # A last block the stream never ends: with or without its line's own ending.
        start, line, eol = len(body), _field(draw, "data", tail), draw(st.none() | _EOL)
        put(line, eol)
        if eol is None:
            unterminated = Unterminated(offset=start, data="", partial_line=line)
        else:
            unterminated = Unterminated(offset=start, data=tail, partial_line="")
    return bytes(body), events, unterminated, last_retry


def _pieces(body: bytes, cuts) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(body)]
    return [body[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=event_streams(), data=st.data())
def test_property_any_cut_parses_like_the_whole_and_as_serialised(stream, data):
    body, expected, unterminated, last_retry = stream
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=max(0, len(body) - 1)), label="cuts")
    whole_events, whole = run(body)
    assert sans_time(whole_events) == expected
    assert whole.unterminated == unterminated
    assert whole.retry == last_retry
    assert whole.notices == [] and whole.exceeded is None

    for chunks in (_pieces(body, cuts), bytewise(body)):
        events, parser = run(chunks)
        assert sans_time(events) == expected
        assert parser.unterminated == unterminated
        assert parser.retry == last_retry
        assert parser.notices == []
        # Each event is stamped with the time (here: the index) of the piece holding the
        # first byte of its blank line, the byte that completed it.
        starts = [0, *accumulate(map(len, chunks))][:-1]
        for event in events:
            assert event.time == max(i for i, s in enumerate(starts) if s <= event.end)


# -- 5. the fast path: ASCII pieces with one kind of line ending --------------------------
#
# feed() takes an ASCII piece through a fast path (decoded once, plain "data: ..." events
# made in C loops) and anything else line by line, through bytes. Both must agree exactly:
# the oracle below is the same parser with the fast path switched off.


class LineByLineParser(EventStreamParser):
    """The parser without its fast path: every piece goes line by line, through bytes."""

    def _text(self, text, time):
        return None


def both_ways(chunks, **limits):
    """Feed the same pieces to the parser and to the oracle; return both, closed."""
    fast, slow = EventStreamParser(**limits), LineByLineParser(**limits)
    fast_events, slow_events = [], []
    for i, chunk in enumerate(chunks):
        fast_events += fast.feed(chunk, time=float(i))
        slow_events += slow.feed(chunk, time=float(i))
    fast.close()
    slow.close()
    return (fast_events, fast), (slow_events, slow)


def assert_same(chunks, **limits):
    (fast_events, fast), (slow_events, slow) = both_ways(chunks, **limits)
    assert fast_events == slow_events
    assert [type(e) for e in fast_events] == [Event] * len(fast_events)
    for attr in ("notices", "notice_counts", "unterminated", "exceeded", "retry", "events_dispatched"):
        assert getattr(fast, attr) == getattr(slow, attr), attr
    return fast_events


def plain_stream(n: int, eol: bytes) -> bytes:
    return b"".join(b'data: {"id":"msg_1","n":%d}' % i + eol + eol for i in range(n))


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("piece", [1, 7, 64, 4096, 1 << 20])
def test_plain_events_are_the_same_however_cut(eol, piece):
    body = plain_stream(300, eol)
    events = assert_same([body[i : i + piece] for i in range(0, len(body), piece)])
    assert len(events) == 300
    blank = len(b'data: {"id":"msg_1","n":0}' + eol)
    assert (events[0].offset, events[0].end) == (0, blank)
    assert events[-1].end == len(body) - len(eol)


def test_plain_events_carry_the_last_event_id_and_type_message():
    body = b"id: 7\nevent: first\ndata: a\n\n" + plain_stream(5, b"\n") + b"event: last\ndata: z\n\n"
    events = assert_same([body])
    assert [(e.type, e.last_event_id) for e in events] == [("first", "7")] + [("message", "7")] * 5 + [("last", "7")]


@pytest.mark.parametrize(
    "odd",
    [
        b"data: a\nb\r\n\r\n",  # a lone LF inside a CRLF stream's event: two lines, one of them unknown
        b"data: a\rb\r\n\r\n",  # a lone CR likewise
        b"data: a\r\ndata: b\r\n\r\n",  # two data lines
        b": ping\r\n\r\n",  # a comment between events
        b"data:no-space\r\n\r\n",
        b"data: caf\xc3\xa9\r\n\r\n",  # not ASCII
        b"data: \xff\r\n\r\n",  # not UTF-8
        b"\r\n\r\n",  # extra blank lines
    ],
)
def test_a_block_of_another_shape_among_plain_events(odd):
    body = plain_stream(40, b"\r\n")
    body = body[: len(body) // 2] + odd + body[len(body) // 2 :]
    for piece in (len(body), 100, 13):
        assert_same([body[i : i + piece] for i in range(0, len(body), piece)])


def test_piece_ending_in_the_cr_of_a_crlf():
    body = plain_stream(10, b"\r\n")
    cut = body.index(b"\r\n", 100) + 1  # between the CR and the LF
    events = assert_same([body[:cut], body[cut:]])
    assert len(events) == 10


def test_fast_path_respects_limits_set_below_a_piece():
    body = plain_stream(20, b"\n") + b"data: " + b"x" * 100 + b"\n\n" + plain_stream(5, b"\n")
    assert_same([body], max_line=64)
    assert_same([body], max_event=50)
    assert_same([body[i : i + 30] for i in range(0, len(body), 30)], max_event=50)


_FRAGMENTS = [
    b"data: v", b"data: {\"k\": 1}", b"data:v", b"data: ", b"data", b": c", b":", b"event: t", b"event:",
    b"id: 1", b"id", b"id: a\0b", b"retry: 5", b"retry: x5", b"Data: x", b"foo: bar", b"data: \xc3\xa9",
    b"data: \xff", b"\xef\xbb\xbfdata: bom",
]


@st.composite
def ascii_heavy_streams(draw):
    """Bodies mostly of plain events, with any other line mixed in, and line endings that
    are one kind per stream, or now and then mixed."""
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    mixed = draw(st.booleans()) and draw(st.booleans())
    out = bytearray(b"\xef\xbb\xbf" if draw(st.booleans()) else b"")
    for _ in range(draw(st.integers(0, 40))):
        end = draw(st.sampled_from([b"\n", b"\r\n", b"\r"])) if mixed else eol
        if draw(st.integers(0, 3)) == 0:
            out += draw(st.sampled_from([b"data", b"data:", b"data: x"])) + end  # a line of a longer event
        elif draw(st.integers(0, 2)):
            value = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)).encode()
            out += b"data: " + value + end + end
        else:
            out += draw(st.sampled_from(_FRAGMENTS)) + end
    if draw(st.booleans()):
        out += draw(st.sampled_from(_FRAGMENTS))  # an unfinished last line
    return bytes(out)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=ascii_heavy_streams(), data=st.data())
def test_property_fast_path_agrees_with_line_by_line(body, data):
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=12), label="cuts")
    limits = data.draw(st.sampled_from([{}, {"max_line": 24}, {"max_event": 40}, {"max_event": 12}]), label="limits")
    step = data.draw(st.integers(1, 16), label="step")
    assert_same(_pieces(body, cuts), **limits)
    assert_same([body[i : i + step] for i in range(0, len(body), step)], **limits)


def test_event_size_is_counted_once_for_bare_data_lines_fed_in_pieces():
    # A bare "data" line is a field of the fast path's rare kind: its byte must count once.
    body = b"data\n" * 30 + b"\n"
    events = assert_same([body[i : i + 5] for i in range(0, len(body), 5)], max_event=40)
    assert [e.data for e in events] == ["\n" * 29]


_TOKENS = [b"data: ", b"data:", b"data", b"id: ", b"event: ", b"retry: 1", b": ", b":", b"x", b"[DONE]", b" ",
           b"\xc3\xa9", b"\xff", b"\x00", b"\xef\xbb\xbf", b"\r", b"\n", b"\r\n", b"\n\n", b"\r\n\r\n"]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(_TOKENS), max_size=60), data=st.data())
def test_property_fast_path_agrees_on_any_bytes(parts, data):
    # Not streams at all: line endings of every kind, BOMs, NULs, bad UTF-8, anywhere.
    body = b"".join(parts)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=10), label="cuts")
    limits = data.draw(st.sampled_from([{}, {"max_line": 8}, {"max_event": 10}]), label="limits")
    assert_same(_pieces(body, cuts), **limits)


# -- 6. many events of one framing, read at once ----------------------------------------
#
# A piece that repeats one framing (plain events; named events, with or without ids;
# keep-alive comments before or inside events) is read column by column, and the first
# lines of the next event may be held back to the next piece. The line-by-line parser is
# the oracle again: same events, notices, limits and end of stream, however cut.


def framed_stream(n: int, lines_of, eol: bytes = b"\n", first: int = 0) -> bytes:
    """``n`` blocks, block ``i`` the lines ``lines_of(i)`` (a list of str) then a blank line."""
    return b"".join(
        eol.join(line.encode() for line in lines_of(i)) + eol + eol for i in range(first, first + n)
    )


def value(i: int) -> str:
    return '{"type":"delta","text":"' + "token "[: i % 7] + str(i) + '"}'


FRAMINGS = {
    "plain": lambda i: [f"data: {value(i)}"],
    "named": lambda i: ["event: content_block_delta", f"data: {value(i)}"],
    "named with id": lambda i: ["event: delta", f"id: {i}", f"data: {value(i)}"],
    "named, names vary": lambda i: [f"event: {('start', 'delta', 'delta', 'stop')[i % 4]}", f"data: {value(i)}"],
    "comment block before": lambda i: [f": keep-alive {i:08d}", "", f"data: {value(i)}"],
    "comment line inside": lambda i: [f": keep-alive {i:08d}", f"data: {value(i)}"],
    "same comment inside": lambda i: [": ping", "event: delta", f"id: {i}", f"data: {value(i)}"],
    "two data lines": lambda i: [f"id: {i}", f"data: {value(i)}", "data: "],
    "blank line before": lambda i: ["", f"data: {value(i)}"],
    "one id throughout": lambda i: ["id: 7", f"data: {value(i)}"],
    # Lines of one width are counted once; these vary so that a run's widths add up as if they did.
    "comment widths that balance": lambda i: [":" + "k" * (4 + (0, 1, -1)[i % 3]), "", f"data: {value(i)}"],
    "id widths that balance": lambda i: ["event: delta", "id: " + "7" * (3 + (0, 1, -1)[i % 3]), f"data: {value(i)}"],
}


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("framing", FRAMINGS)
def test_framed_events_read_at_once_are_the_events_line_by_line(framing, eol):
    body = framed_stream(300, FRAMINGS[framing], eol)
    for piece in (4096, 1000, 333, 64):
        events = assert_same([body[i : i + piece] for i in range(0, len(body), piece)])
        assert len(events) == 300
    assert events[7].data == value(7) + ("\n" if framing == "two data lines" else "")


def test_named_events_carry_their_names_ids_and_offsets():
    body = framed_stream(100, FRAMINGS["named with id"])
    events = assert_same([body[i : i + 4096] for i in range(0, len(body), 4096)])
    block = len(b"event: delta\nid: 0\ndata: " + value(0).encode() + b"\n")
    assert (events[0].type, events[0].last_event_id, events[0].offset, events[0].end) == ("delta", "0", 0, block)
    assert [e.last_event_id for e in events] == [str(i) for i in range(100)]
    assert all(body[e.end - 1 : e.end + 1] == b"\n\n" for e in events)  # the data line's LF, the blank line


@pytest.mark.parametrize(
    "odd",
    [
        "id: a\0b",  # an id with NUL: ignored, noticed
        "event: ",  # an empty event name: type "message"
        "retry: 250",
        "retry: 2x",
        "data:no-space",
        "event:no-space",
        "id:",
        "foo: bar",
        ": a comment",
        "",  # an extra blank line
        "data: caf\u00e9",  # not ASCII
    ],
)
@pytest.mark.parametrize("framing", ["named with id", "comment block before", "plain"])
def test_an_odd_line_among_framed_events(framing, odd):
    lines_of = FRAMINGS[framing]
    body = (
        framed_stream(60, lines_of)
        + "\n".join(lines_of(60)[:-1] + [odd, lines_of(60)[-1]]).encode() + b"\n\n"
        + framed_stream(60, lines_of, first=61)
    )
    for piece in (len(body), 4096, 700):
        assert_same([body[i : i + piece] for i in range(0, len(body), piece)])


def test_framing_changes_between_pieces():
    body = (framed_stream(50, FRAMINGS["named with id"]) + framed_stream(50, FRAMINGS["plain"], first=50)
            + framed_stream(50, FRAMINGS["comment block before"], first=100) + framed_stream(50, FRAMINGS["named"]))
    for piece in (4096, 1500, 999):
        events = assert_same([body[i : i + piece] for i in range(0, len(body), piece)])
        assert len(events) == 200


@pytest.mark.parametrize("framing", FRAMINGS)
def test_end_of_stream_inside_a_framed_event_reports_it_as_line_by_line(framing):
    # Read at once, the first lines of the last event may be held back for the next piece:
    # close() must still report the event the stream left unfinished, exactly.
    body = framed_stream(40, FRAMINGS[framing])
    last = "\n".join(FRAMINGS[framing](40)).encode()
    for cut in range(1, len(last) + 1):
        stream = body + last[:cut]
        assert_same([stream[:2000], stream[2000:]])
        assert_same([stream])


def test_a_long_line_after_held_back_lines_is_reported_at_its_own_offset():
    body = framed_stream(40, FRAMINGS["named with id"])
    start = len(body) + len(b"event: delta\nid: 40\n")
    stream = body + b"event: delta\nid: 40\ndata: " + b"x" * 600 + b"\n\n"
    chunks = [stream[:start + 10]] + [stream[i : i + 50] for i in range(start + 10, len(stream), 50)]
    (events, fast), _ = both_ways(chunks, max_line=512)
    assert_same(chunks, max_line=512)
    assert fast.exceeded == LimitExceeded("line", 512, start)
    assert len(events) == 40


def test_a_crlf_piece_cut_between_cr_and_lf_is_read_as_text():
    class Counting(EventStreamParser):
        byte_pieces = 0

        def _byte_lines(self, buf, time):
            self.byte_pieces += 1
            return super()._byte_lines(buf, time)

    body = framed_stream(100, FRAMINGS["named with id"], b"\r\n")
    cut = body.index(b"\r\n", 3000) + 1
    parser = Counting()
    events = parser.feed(body[:cut]) + parser.feed(body[cut:])
    assert len(events) == 100 and parser.byte_pieces == 0
    assert_same([body[:cut], body[cut:]])


_ODD_LINES = ["id: 1\0", "event: ", "retry: 7", "retry: x", "data:x", "foo", "Data: x", ": c", "", "data: \u00e9",
              "\ufeffdata: x", "id: \u00e9", "event: \u00e9"]


@st.composite
def framed_streams(draw):
    """A stream that mostly repeats one framing, drawn: comment blocks before the event,
    event lines in any order (data, event, id, comment), names and ids alike or not, any
    line ending, values long enough that pieces hold dozens of events; now and then an
    odd line, stray bytes, a BOM; at the end, part of one more event, or not."""
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lead = [":" + draw(st.sampled_from(["", " keep-alive", " ping {i}"]))] * draw(st.sampled_from([0, 0, 1, 2]))
    kinds = draw(st.lists(st.sampled_from(["event", "id", "comment", "data"]), min_size=0, max_size=3))
    kinds = draw(st.permutations(kinds + ["data"]) | st.just(["data"]))
    name = draw(st.sampled_from(["delta", "", "message", "{i}"]))
    ident = draw(st.sampled_from(["{i}", "7", "", "a:b"]))
    sep = draw(st.sampled_from([": ", ": ", ":"]))
    pad = "v" * draw(st.integers(0, 60))

    def repeat_lines(i: int) -> list[str]:
        lines = []
        for kind in kinds:
            if kind == "data":
                lines.append("data" + sep + pad + str(i))
            elif kind == "event":
                lines.append("event" + sep + name.format(i=i))
            elif kind == "id":
                lines.append("id" + sep + ident.format(i=i))
            else:
                lines.append(": c" + str(i % 3))
        if draw(st.integers(0, 40)) == 0:
            lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(_ODD_LINES)))
        return [line for comment in lead for line in (comment.format(i=i), "")] + lines + [""]

    n = draw(st.integers(0, 120) | st.integers(40, 120))
    text = "".join(eol.join(repeat_lines(i)) + eol for i in range(n))
    # The end: part of one more event (lines of it, then perhaps part of a line), or not.
    last = repeat_lines(n)
    whole = draw(st.integers(0, len(last) - 1))
    text += "".join(line + eol for line in last[:whole]) + last[whole][: draw(st.integers(0, 5))]
    body = text.encode()
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(max_size=4)) + body[at:]
    if draw(st.integers(0, 9)) == 0:
        body = BOM + body
    return body


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=framed_streams(), data=st.data())
def test_property_framed_streams_agree_with_line_by_line(body, data):
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=2), label="cuts")
    step = data.draw(st.sampled_from([1, 7, 100, 1500, 4096]), label="step")
    limits = data.draw(st.sampled_from([{}, {}, {"max_line": 40}, {"max_event": 60}, {"max_line": 3000}]),
                       label="limits")
    assert_same(_pieces(body, cuts), **limits)
    assert_same([body[i : i + step] for i in range(0, len(body), step)], **limits)


@pytest.mark.parametrize(
    "odd",
    [
        b"data: a\r\ndata: b\n\r\n",  # a lone LF in a CRLF stream, where plain events are read at once
        b"event: x\r\n" + b"data: line\r\n" * 200 + b"\r\n",  # an event longer than any framing read at once
        b"id: 77\r\n\r\n",  # a block that sets the last event ID and dispatches nothing
        b": one\r\n: two\r\n\r\n",  # a keep-alive block of two lines among blocks of one
        b"id: same\0\r\ndata: x\r\n\r\n",  # a NUL in an id
        b": keep-alive\r\ndata: no blank line after the keep-alive\r\n\r\n",
    ],
)
@pytest.mark.parametrize("framing", ["plain", "comment block before", "named with id", "blank line before"])
def test_a_block_of_another_shape_among_framed_crlf_events(framing, odd):
    body = framed_stream(80, FRAMINGS[framing], b"\r\n")
    for cut in (len(body) // 2, len(body) // 3, 7000, 4500, body.index(b"\r\n\r\n", 3000) + 4):
        stream = body[:cut] + odd + body[cut:]
        for piece in (len(stream), 4096, 1500, 1111, 400):
            assert_same([stream[i : i + piece] for i in range(0, len(stream), piece)])


def test_identical_ids_with_nul_are_noticed_as_line_by_line():
    body = framed_stream(60, lambda i: ["event: delta", "id: a\0", f"data: {i}"])
    events = assert_same([body])
    assert {e.last_event_id for e in events} == {""}


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd=st.lists(ascii_heavy_streams(), min_size=1, max_size=3), data=st.data())
def test_property_long_plain_streams_agree_with_line_by_line(odd, data):
    # Pieces long enough to be read at once: runs of plain events between odd stretches.
    eol = data.draw(st.sampled_from([b"\n", b"\r\n", b"\r"]), label="eol")
    body = b"".join(plain_stream(data.draw(st.integers(0, 80), label="n"), eol) + part for part in odd)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=2), label="cuts")
    step = data.draw(st.sampled_from([700, 1500, 4096]), label="step")
    limits = data.draw(st.sampled_from([{}, {"max_line": 24}, {"max_event": 40}, {"max_line": 5000}]), label="limits")
    assert_same(_pieces(body, cuts), **limits)
    assert_same([body[i : i + step] for i in range(0, len(body), step)], **limits)
