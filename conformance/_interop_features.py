"""The stream features a client may trip on, found in a stretch of the body: what an interop
finding names as the cause (``BOM at byte 0``, ``retry-only block at byte 212``).

Where a client first delivers something other than the WHATWG parse, the bytes from the end of
the last event it got right to the end of the first it got wrong hold the cause; this module
reads those lines as the parser does and names whatever in them is legal but unusual, the
rarest first. It names; it does not judge (the rules do that).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Feature", "features_between"]

BOM = b"\xef\xbb\xbf"
# Characters inside a line that some line splitters (Python's str.splitlines, say) break at,
# though the event-stream format ends lines only at CR and LF.
SPLITTERS = {"\u2028": "U+2028", "\u2029": "U+2029", "\u0085": "U+0085 (NEL)", "\x0b": "U+000B (VT)",
             "\x0c": "U+000C (FF)", "\x1c": "U+001C", "\x1d": "U+001D", "\x1e": "U+001E"}
# Most telling first: a finding names the first few of these found.
RANK = ("bom", "splitter", "no-data-block", "blank-after-id", "lone-cr", "not-utf8", "data-no-space",
        "multiline-data", "unknown-field", "no-colon", "comment", "crlf", "retry", "id", "event")
NAMED = 3  # features a finding names at most
FIELDS = ("retry", "id", "event")  # ordinary fields: named only when nothing rarer is found


@dataclass(frozen=True)
class Feature:
    kind: str  # one of RANK
    offset: int  # byte offset in the body
    text: str  # as a finding names it: "retry-only block at byte 212"

    def __str__(self) -> str:
        return self.text


def _lines(body: bytes, start: int, stop: int) -> list[tuple[int, bytes, bytes]]:
    """(offset, line, line ending) of the lines that start in [start, stop), the body read from
    the line start at or before ``start``."""
    begin = max(body.rfind(b"\n", 0, start), body.rfind(b"\r", 0, start)) + 1 if start > 0 else 0
    out, i = [], begin
    while i < len(body) and i < stop:
        cr, lf = body.find(b"\r", i), body.find(b"\n", i)
        ends = [x for x in (cr, lf) if x >= 0]
        if not ends:
            out.append((i, body[i:], b""))
            break
        end = min(ends)
        eol = b"\r\n" if body[end : end + 2] == b"\r\n" else body[end : end + 1]
        out.append((i, body[i:end], eol))
        i = end + len(eol)
    return out


def features_between(body: bytes, start: int, stop: int, id_set_before: bool = False) -> list[Feature]:
    """The features of the lines starting in [start, stop), rarest first, at most NAMED of
    them (each kind once). ``id_set_before``: an ``id`` was set earlier in the stream, so a
    blank line with nothing to dispatch still resets something in some clients' eyes."""
    found: dict[str, Feature] = {}

    def add(kind: str, offset: int, text: str) -> None:
        found.setdefault(kind, Feature(kind, offset, f"{text} at byte {offset}"))

    if start == 0 and body.startswith(BOM):
        add("bom", 0, "BOM")
    block: list[str] = []  # the fields of the block under way
    block_at = -1
    data_lines = 0
    id_set = id_set_before
    for offset, raw, eol in _lines(body, start, stop):
        if offset == 0 and raw.startswith(BOM):
            raw, offset = raw[3:], 3
        if eol == b"\r":
            add("lone-cr", offset + len(raw), "lone CR line ending")
        elif eol == b"\r\n":
            add("crlf", offset + len(raw), "CRLF line ending")
        if not raw:
            if block and data_lines == 0:
                add("no-data-block", block_at, f"{'+'.join(dict.fromkeys(block))}-only block (no data)")
            elif not block and id_set:
                add("blank-after-id", offset, "blank line with nothing to dispatch, after an id was set,")
            block, block_at, data_lines = [], -1, 0
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            add("not-utf8", offset + exc.start, f"byte 0x{raw[exc.start]:02x} that is not UTF-8")
            line = raw.decode("utf-8", "replace")
        for char, name in SPLITTERS.items():
            if (at := line.find(char)) >= 0:
                add("splitter", offset + len(line[:at].encode("utf-8", "replace")), f"{name} inside a line")
        if line.startswith(":"):
            add("comment", offset, "comment line")
            continue
        name, colon, value = line.partition(":")
        if block_at < 0:
            block_at = offset
        block.append(name if name in ("data", "event", "id", "retry") else "unknown-field")
        if not colon:
            add("no-colon", offset, f"field {name[:20]!r} with no colon")
        if name == "data":
            data_lines += 1
            if colon and not value.startswith(" "):
                add("data-no-space", offset, "'data:' with no space after the colon")
            if data_lines == 2:
                add("multiline-data", offset, "data over several lines")
        elif name == "id":
            id_set = "\x00" not in value
            add("id", offset, "id field")
        elif name in ("retry", "event"):
            add(name, offset, f"{name} field")
        else:
            add("unknown-field", offset, f"unknown field {name[:20]!r}")
    ranked = sorted(found.values(), key=lambda f: RANK.index(f.kind))
    unusual = [f for f in ranked if f.kind not in FIELDS]
    return (unusual or ranked)[:NAMED]  # plain fields are named only when nothing else is there
