"""Untrusted bytes as text: every control and invisible character shown, never ambiguous."""

from __future__ import annotations

from conformance._model import ordinal
from conformance._render import events_phrase, plural, result_count, verdict_word, visible, visible_rows, visible_text


def test_visible_shows_what_would_hide_or_reorder_text():
    assert visible("a\u202eb\u200b\u0085".encode()) == "a⟨U+202E⟩b⟨U+200B⟩⟨U+0085⟩"
    assert visible("␊⟨ff⟩".encode()) == "⟨U+240A⟩⟨U+27E8⟩ff⟨U+27E9⟩"  # look-alikes of its own symbols
    assert visible_rows(b"data: x\r\n\r\n", 10) == [(10, "data: x␍␊"), (19, "␍␊")]
    assert visible_text("tab\there\x00") == "tab␉here␀"


def test_a_verdict_quoting_the_target_carries_no_terminal_escape():
    from conformance import Level, Outcome, Requirement, Verdict, Violation
    from conformance._redact import Redactor
    from conformance._render import render_entry
    from conformance._report import requirement_entry

    req = Requirement("FRAME-KNOWN-FIELDS", Level.SHOULD, "title", "source")
    evil = "\x1b[2J\x1b]0;PWNED\x07evil\x1b[31m"
    verdict = Verdict(req, Outcome.FAILED, [Violation(req.id, f"unknown field {evil}", received=evil)], 1)
    text = render_entry(requirement_entry(verdict, False, Redactor([])))
    assert "\x1b" not in text and "\x07" not in text
    assert "␛[2J" in text
    blocked = Verdict(req, Outcome.BLOCKED, reason=f"moot: media type {evil}")
    assert "\x1b" not in render_entry(requirement_entry(blocked, False, Redactor([])))


def test_counts_read_as_english():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 112, 123)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th", "112th", "123rd",
    ]  # fmt: skip
    assert (plural(1, "warning"), plural(2, "warning"), plural(0, "byte")) == ("1 warning", "2 warnings", "0 bytes")
    assert [events_phrase(n) for n in (0, 1, 8)] == ["0 events", "1 event (numbered 0)", "8 events (numbered 0 to 7)"]
    assert [result_count(r, 1) for r in ("passed", "failed", "warning", "skipped")] == [
        "1 met", "1 failed", "1 warning", "1 skipped",
    ]  # fmt: skip
    # A verdict this version does not know is still named, spelled out.
    assert [verdict_word(v) for v in ("conforms", "does-not-conform", "not-judged")] == [
        "CONFORMS", "DOES NOT CONFORM", "NOT JUDGED",
    ]  # fmt: skip
