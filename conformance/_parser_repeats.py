"""The event-stream parser's fast path: many events of one framing read at once.

A server frames every event of a stream alike: ``data: VALUE`` and a blank line (most
APIs); ``event: NAME``, ``id: N``, ``data: VALUE`` (Anthropic, OpenAI Responses); perhaps
with a keep-alive comment. A piece of such a stream holding dozens of events is read
here with C loops (``str.split``, ``str.join``, ``map``, ``accumulate``), no Python code
running per event. Each reader takes ASCII text, or its lines, that no line ending is
inside (the parser checks that), and returns None, having read nothing, when the text
does not have the framing it reads; the parser then goes line by line. What a reader
returns is exactly what the spec's steps make of the same lines, for the reasons its
comments give; the differential tests hold the two paths to the same events.

Spec: HTML Living Standard, section 9.2.6 "Interpreting an event stream".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import add
from typing import NamedTuple

# A framing is read at once if a piece repeats it this often. Reading at once costs about
# as much, besides, as reading 10 named events line by line, or 20 with keep-alives
# (measured on the benchmark's corpora): fewer go as fast, or faster, line by line.
REPEATS_MIN = 12
# A piece shorter than this (in characters) goes line by line unexamined: looking for a
# framing costs more than it saves on a few events (pieces of 128 to 512 bytes went up to
# twice as fast so).
READ_AT_ONCE_MIN = 1024
PLAIN = ("data: ", "")  # the framing plain() reads
# A framing longer than this many lines (an event of many data lines, say) goes line by line.
SHAPE_LINES = 16


class Repeats(NamedTuple):
    """Events read at once, the first starting where the parser stands: what each
    dispatches, and its bytes. The parser adds the offsets, times and indexes."""

    data: list[str]
    types: Iterable[str]
    ids: Iterable[str] | None  # None: no id line, the last event ID stays as it is
    lead: int  # bytes before the first event's first line (blocks of comments)
    steps: Iterable[int]  # bytes from each event's first line to the next one's; if ``spans``,
    # alternately from its first line to its blank line and from there to the next one's first line
    spans: bool  # False: the next event's first line follows the blank line that ends an event
    shape: tuple[str, ...]  # the kinds of a repeat's lines (see shape())


def plain(text: str, eol: str, at_block: bool) -> tuple[list[str], Repeats, list[str]] | None:
    """Plain events, each ``data: VALUE`` and a blank line: the lines before the first of
    them, the events, and the lines after the last (the final one unfinished). None if
    the text is not plain events from its first blank line on (or its start, if
    ``at_block``: the text starts a block).

    Split at "blank line, then ``data: ``", a stream of plain events falls apart into
    the values themselves. A part between the first and the last that holds no line
    ending is one plain event: its line is the field "data" ("data", a colon, the one
    space the spec removes, the value), and the blank line after it dispatches it with
    the type "message" and the last event ID as it stands.
    """
    separator = eol + eol + "data: "
    # A glance at the first two blocks after a blank line spares a split of other framings.
    first = text.find(eol + eol)
    if first < 0 or not text.startswith(separator, first):
        return None
    second = text.find(eol + eol, first + len(separator))
    if second < 0 or not text.startswith(separator, second):
        return None
    parts = text.split(separator)  # three at least: the glance found two separators
    if at_block and parts[0][:6] == "data: ":
        values = parts[:-1]  # the text starts with one too
        values[0] = values[0][6:]
        before = []
    else:
        values = parts[1:-1]
        before = parts[0].split(eol)
        before.append("")  # the blank line the first separator ends
    middle = "".join(values)
    if "\r" in middle or "\n" in middle:
        return None
    # An event's bytes: "data: ", the value, a line ending, and a blank line.
    steps = map(add, map(len, values), repeat(6 + 2 * len(eol)))
    after = ("data: " + parts[-1]).split(eol)
    return before, Repeats(values, repeat("message"), None, 0, steps, False, PLAIN), after


def split_run(
    lines: list[str], eol: int, framing: tuple[str, ...] | None, at_block: bool
) -> tuple[list[str], Repeats | None, list[str]]:
    """``lines`` (the last one unfinished) as the lines before a run of one framing, the
    run, and the lines after; or no run, all lines after. ``framing`` is that of the last
    piece's run, if any; ``at_block``: the first line starts a block.
    """
    if len(lines) <= 2 * REPEATS_MIN:
        return [], None, lines
    end = len(lines) - 1
    if framing is not None and at_block:
        # Most likely a repeat of the last piece's framing starts here (after lines held back).
        repeats = columns(lines, 0, end, framing, eol)
        if repeats is not None:
            return [], repeats, lines[len(repeats.data) * len(framing) :]
    i = 0
    if not at_block:
        # The first lines end a block the previous piece began: a run starts after it.
        try:
            i = lines.index("") + 1
        except ValueError:
            return [], None, lines
    kinds = shape(lines, i)
    if kinds is None:
        return [], None, lines
    following = shape(lines, i + len(kinds))
    if following is not None and following != kinds:
        # Read from i, the shape ran from a block inside a repeat (after a keep-alive
        # block, say); a repeat starts after the blank line that dispatched an event.
        i += len(kinds)
        kinds = following
    repeats = columns(lines, i, end, kinds, eol)
    if repeats is None:
        return [], None, lines
    return lines[:i], repeats, lines[i + len(repeats.data) * len(kinds) :]


def shape(lines: list[str], i: int) -> tuple[str, ...] | None:
    """The kinds of ``lines[i:]`` up to the first blank line that dispatches an event.

    A line's kind is the prefix that gives it its meaning: "data: ", "event: ", "id: "
    (the field name, its colon and the one space the spec removes), ":" (a comment) or
    "" (a blank line). None if a line is of another kind (a field without the space,
    ``retry``, an unknown field), if a block without data holds a field (it would
    change state but dispatch nothing), or if no event ends within SHAPE_LINES lines.
    """
    kinds: list[str] = []
    data = fields = False
    for line in lines[i : i + SHAPE_LINES]:
        if not line:
            kinds.append("")
            if data:
                return tuple(kinds)
            if fields:
                return None
        elif line[0] == ":":
            kinds.append(":")
        elif line[:6] == "data: ":
            kinds.append("data: ")
            data = True
        elif line[:7] == "event: ":
            kinds.append("event: ")
            fields = True
        elif line[:4] == "id: ":
            kinds.append("id: ")
            fields = True
        else:
            return None
    return None


def columns(lines: list[str], i: int, end: int, kinds: tuple[str, ...], eol: int) -> Repeats | None:
    """The events of as many whole repeats of ``kinds`` (a :func:`shape`) as
    ``lines[i:end]`` holds, ``lines[i]`` starting a block; None if any repeat differs,
    or there are fewer than REPEATS_MIN. ``eol`` is the size of a line ending in bytes.

    The lines of n repeats of a shape of p lines fall into p columns, ``lines[i + j::p]``;
    each column is checked and read with a few C loops. A blank column: every line is
    empty. A column of one line throughout (a keep-alive, an event name): checked and
    read once. Any other: joined with LF (which no line holds) and split at LF and the
    kind's prefix, it falls into one part per line iff every line starts with the prefix
    (the first is checked on its own), each part what the spec's step takes from its
    line: ":" a comment, ignored; "data: " the value appended to the data buffer;
    "event: " the event type buffer; "id: " the last event ID buffer (an id with NUL,
    ignored and noticed, is left to the line-by-line path). The blocks before the one
    with data are comments alone (:func:`shape`), so each repeat dispatches one event,
    at its blank line: its data lines joined with LF ("remove the last character from
    the data buffer"), its event type or "message", its own id line's value or the last
    event ID as it stood, and no retry (a shape has no ``retry`` line). The widths of a
    column's lines make the events' offsets; a column whose lines are all of one width (where
    the LFs of its joined text fall shows it) adds that width once, not line by line.
    """
    size = len(kinds)
    n = (end - i) // size
    if n < REPEATS_MIN:
        return None
    stop = i + n * size
    # The event's first line (a comment counts) follows the shape's last blank line before its end.
    head = size - kinds[::-1].index("", 1) if "" in kinds[:-1] else 0
    data: list[list[str]] = []
    types: Iterable[str] = repeat("message")  # "or "message" if the event type buffer is empty"
    ids: Iterable[str] | None = None
    lead: list[Iterator[int]] = []  # per column before the event's first line, each repeat's line width
    body: list[Iterator[int]] = []  # the same from the event's first line on
    fixed = (size - head - 1) * eol  # bytes alike in every repeat's body: line endings, identical lines
    lead_fixed = head * eol  # the same before the event's first line
    for j, kind in enumerate(kinds):
        column = lines[i + j : stop : size]
        if not kind:
            if column.count("") != n:
                return None
            continue
        first = column[0]
        if kind != "data: " and column[-1] == first and column.count(first) == n and first.startswith(kind):
            # The same line in every repeat (a keep-alive, an event name): read it once.
            if kind == "event: ":
                types = repeat(first[7:] or "message")
            elif kind == "id: ":
                if "\0" in first:
                    return None
                ids = repeat(first[4:])
            if j < head:
                lead_fixed += len(first)
            else:
                fixed += len(first)
            continue
        if not first.startswith(kind):
            return None
        joined = "\n".join(column)
        width = len(first)
        if len(joined) == n * (width + 1) - 1 and joined[width :: width + 1] == "\n" * (n - 1):
            # Every line of the first one's width (a counter of fixed digits, a timestamp): the
            # n - 1 LFs, which no line holds, fall where lines of that width put them. Counted once.
            if j < head:
                lead_fixed += width
            else:
                fixed += width
        else:
            (lead if j < head else body).append(map(len, column))
        if kind == ":":
            if joined.count("\n:") != n - 1:
                return None
            continue
        values = joined.split("\n" + kind)
        if len(values) != n or kind == "id: " and "\0" in joined:
            return None
        values[0] = first[len(kind) :]
        if kind == "data: ":
            data.append(values)
        elif kind == "event: ":
            types = [value or "message" for value in values] if "" in values else values
        else:
            ids = values
    # "remove the last character from the data buffer" (its LF): the lines joined with LF.
    joined_data = data[0] if len(data) == 1 else list(map("\n".join, zip(*data)))
    if not head:
        # From one event's first line to the next one's: its body and its blank line.
        steps = map(add, _rows(body), repeat(fixed + eol)) if body else repeat(fixed + eol, n)
        return Repeats(joined_data, types, ids, 0, steps, False, kinds)
    # Blocks of comments before each event: its blank line does not end where the next event
    # starts. Each event's body and the gap after it (its blank line, the next lead), one list,
    # give the parser both the starts and the ends in one accumulate (a pass fewer per event
    # than steps and bodies apart).
    spans = [eol + lead_fixed] * (2 * n - 1)
    spans[::2] = map(add, _rows(body), repeat(fixed)) if body else repeat(fixed, n)
    if not lead:
        return Repeats(joined_data, types, ids, lead_fixed, spans, True, kinds)
    widths = _rows(lead)
    first_lead = next(widths)
    spans[1::2] = map(add, widths, repeat(eol + lead_fixed))
    return Repeats(joined_data, types, ids, first_lead + lead_fixed, spans, True, kinds)


def opening(lines: list[str], kinds: tuple[str, ...]) -> bool:
    """Whether ``lines`` are the first lines of a repeat of ``kinds``, short of its last
    (the blank line that dispatches its event), and hold no NUL in an id: lines that,
    read, dispatch nothing and note nothing; they only fill the event's buffers."""
    if len(lines) >= len(kinds):
        return False
    for line, kind in zip(lines, kinds):
        if kind:
            if line[: len(kind)] != kind or kind == "id: " and "\0" in line:
                return False
        elif line:
            return False
    return True


def _rows(columns: list[Iterator[int]]) -> Iterator[int]:
    """Row by row, the sums of columns of numbers (at least one)."""
    total = columns[0]
    for column in columns[1:]:
        total = map(add, total, column)
    return total
