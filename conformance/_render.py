"""Text renderings of untrusted bytes and of verdicts, shared by the terminal and the reports."""

from __future__ import annotations

from ._rules import Outcome, Verdict

__all__ = ["visible", "visible_rows", "visible_text", "render_verdict"]

# Control characters made visible, so a reader sees the framing bytes themselves.
_SYMBOLS = {0x0D: "␍", 0x0A: "␊", 0x00: "␀", 0x09: "␉", 0x7F: "␡", 0xFEFF: "⟨BOM⟩"}
# Shown by code point: characters that hide or reorder text on screen (C1 controls, zero-width
# and bidi controls, line and paragraph separators), literal look-alikes of the symbols used
# here, so a rendering is never ambiguous and a stream cannot disguise its own bytes, and lone
# surrogates (JSON may escape one, "\ud800"; no UTF-8 text can hold it).
_BY_CODEPOINT = [
    *range(0x80, 0xA0),
    *range(0xD800, 0xE000),
    *range(0x200B, 0x2010),
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    *range(0x2400, 0x2427),
    0x27E8,
    0x27E9,
]
_TABLE = {c: f"⟨U+{c:04X}⟩" for c in _BY_CODEPOINT} | {c: chr(0x2400 + c) for c in range(0x20)} | _SYMBOLS


def _line(data: bytes) -> str:
    out = []
    while data:
        try:
            out.append(data.decode("utf-8").translate(_TABLE))
            break
        except UnicodeDecodeError as exc:
            out.append(data[: exc.start].decode("utf-8").translate(_TABLE))
            out.append("".join(f"⟨{b:02x}⟩" for b in data[exc.start : exc.end]))
            data = data[exc.end :]
    return "".join(out)


def visible(data: bytes, start: int | None = None) -> str:
    """Render raw bytes as text: CR, LF, NUL, BOM and other controls as symbols, invalid
    UTF-8 as ⟨hex⟩. With ``start``, one row per line, prefixed with its byte offset."""
    if start is None:
        return _line(data)
    return "\n".join(f"{offset:>8}  {text}" for offset, text in visible_rows(data, start))


def visible_rows(data: bytes, start: int) -> list[tuple[int, str]]:
    """``visible`` one line at a time: (byte offset of the line, the line made visible)."""
    rows = []
    for raw in data.splitlines(keepends=True):
        rows.append((start, _line(raw)))
        start += len(raw)
    return rows


def visible_text(text: str) -> str:
    """Text already decoded (a header value, a message quoting the stream), made visible alike."""
    return text.translate(_TABLE)


def render_verdict(v: Verdict) -> str:
    """The failure text of one requirement: what, expected, received, where, the bytes."""
    req = v.requirement
    lines = [f"{req.id} [{req.level.value}] {req.title}", f"  source: {req.source}" + (f" <{req.url}>" if req.url else "")]
    # Messages quote the target: made visible, so no escape sequence reaches a terminal.
    if v.outcome is not Outcome.FAILED:
        lines.append(f"  {visible_text(v.reason)}")
        return "\n".join(lines)
    for n, viol in enumerate(v.violations, 1):
        lines.append(f"  {n}. {visible_text(viol.message)}")
        if viol.expected:
            lines.append(f"     expected: {visible_text(viol.expected)}")
        if viol.received:
            lines.append(f"     received: {visible_text(viol.received)}")
        where = viol.where()
        if where:
            lines.append(f"     where:    {where}")
        if viol.excerpt:
            lines.append("     bytes:")
            lines.extend("     " + row for row in visible(viol.excerpt, viol.excerpt_offset).split("\n"))
    more = v.count - len(v.violations)
    if more > 0:
        lines.append(f"  ... and {more} more violation{'s' if more > 1 else ''} of {req.id}")
    return "\n".join(lines)
