"""Text renderings of untrusted bytes, of counts and of verdicts, shared by the terminal and the reports."""

from __future__ import annotations

from typing import Any

from ._rules import VIOLATIONS_KEPT

__all__ = [
    "visible",
    "visible_rows",
    "visible_text",
    "visible_block",
    "plural",
    "events_phrase",
    "verdict_word",
    "result_word",
    "result_count",
    "kept_note",
    "render_entry",
    "sent_line",
]

# Control characters made visible, so a reader sees the framing bytes themselves.
_SYMBOLS = {0x0D: "␍", 0x0A: "␊", 0x00: "␀", 0x09: "␉", 0x7F: "␡", 0xFEFF: "⟨BOM⟩"}
# Shown by code point: characters that hide or reorder text on screen (C1 controls, zero-width
# and bidi controls, line and paragraph separators), literal look-alikes of the symbols used
# here, so a rendering is never ambiguous and a stream cannot disguise its own bytes, and
# lone surrogates (JSON's "\ud800" decodes to one), which no UTF-8 writer can encode.
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
# For text made of lines (a traceback, a captured log): line breaks and tabs kept as they are.
_BLOCK_TABLE = {c: v for c, v in _TABLE.items() if c not in (0x09, 0x0A)}


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


def visible_block(text: str) -> str:
    """Text of several lines, made visible alike but for its line breaks and tabs: no escape
    sequence, carriage return or lone surrogate is left to reach a terminal or a file."""
    return text.translate(_BLOCK_TABLE)


def plural(n: int, noun: str, nouns: str = "") -> str:
    """``1 event``, ``2 events``; ``nouns`` where adding an s is wrong."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def events_phrase(n: int) -> str:
    """A count of events that says how messages number them (from 0, as the parser does)."""
    if n == 0:
        return "0 events"
    return f"{plural(n, 'event')} (numbered {'0' if n == 1 else f'0 to {n - 1}'})"


# The words a reader sees for the report document's values. A value missing here (a new
# verdict or result) is shown as itself, spelled out: "not-judged" as NOT JUDGED.
VERDICT_WORDS = {"conforms": "CONFORMS", "does-not-conform": "DOES NOT CONFORM", "not-judged": "NOT JUDGED"}
RESULT_WORDS = {"passed": "met", "failed": "failed", "warning": "warning", "skipped": "skipped",
                "not-judged": "not judged"}


def verdict_word(verdict: str) -> str:
    return VERDICT_WORDS.get(verdict) or verdict.replace("-", " ").upper()


def result_word(result: str) -> str:
    return RESULT_WORDS.get(result) or result.replace("-", " ")


def result_count(result: str, n: int) -> str:
    """``3 met``, ``1 failed``, ``1 warning``, ``2 warnings``, ``4 not judged``."""
    return plural(n, "warning") if result == "warning" else f"{n} {result_word(result)}"


def kept_note(count: int, kept: int) -> str:
    """What became of violations found past those kept (empty if none were dropped)."""
    if count <= kept:
        return ""
    return (
        f"{count - kept} more {'was' if count - kept == 1 else 'were'} counted but not kept "
        f"(the suite keeps the first {VIOLATIONS_KEPT} of each requirement)"
    )


def render_entry(entry: dict[str, Any]) -> str:
    """The text of one requirement's result, from its report entry (``_report``): what,
    expected, received, where, the bytes. The entry's text is final (redacted and made
    visible), so it is not made visible again: that would turn its symbols into code points."""
    lines = [
        f"{entry['id']} [{entry['level']}] {entry['title']}",
        f"  source: {entry['source']}" + (f" <{entry['source_url']}>" if entry["source_url"] else ""),
    ]
    if not entry["violations"]:
        lines.append(f"  {entry['message']}")
        return "\n".join(lines)
    for n, viol in enumerate(entry["violations"], 1):
        lines.append(f"  {n}. {viol['message']}")
        for label in ("expected", "received", "where"):
            if viol[label]:
                lines.append(f"     {label + ':':<9} {viol[label]}")
        if viol["excerpt"]:
            lines.append("     bytes:")
            lines.extend(f"     {row['offset']:>8}  {row['text']}" for row in viol["excerpt"]["rows"])
    count, kept = entry["violation_count"], len(entry["violations"])
    if count > kept:
        lines.append(f"  {count} violations in all: the {kept} above, and {kept_note(count, kept)}")
    return "\n".join(lines)


KIND_WORDS = {"canonical": "canonical", "drawn": "drawn", "shrink": "to shrink a failure", "bad": "bad",
              "dropped": "dropped after their first event", "after-drops": "after the drops",
              "concurrent": "opened at once"}


def sent_line(requests: dict[str, Any]) -> str:
    """What the run sent, in one line: '24 sent (1 canonical, 3 drawn, ...); 2 retried after 429 (2 s waited)'."""
    kinds = ", ".join(f"{n} {KIND_WORDS.get(kind, kind)}" for kind, n in requests["by_kind"].items())
    line = f"{requests['sent']} sent ({kinds}); planned: at most {requests['planned']['most']} before retries"
    def said(statuses: dict[str, int]) -> str:
        # A 200 asked for a retry only through an in-stream error saying "try later".
        return "/".join("an in-stream overload error" if s == "200" else s for s in statuses)

    retried = sum(requests["retried"].values())
    if retried:
        line += (f"; {retried} {'were retries' if retried != 1 else 'was a retry'} after {said(requests['retried'])}, "
                 f"{requests['waited']:g} s waited as Retry-After asked")
    refused = sum(requests["refused"].values())
    if refused:
        line += f"; {refused} still refused ({said(requests['refused'])}) and not judged"
    if requests["cut_by_deadline"]:
        line += f"; {requests['cut_by_deadline']} not made or cut short by --sse-deadline"
    return line
