"""Untrusted bytes as text: every control and invisible character shown, never ambiguous."""

from __future__ import annotations

from conformance._render import visible, visible_rows, visible_text


def test_visible_shows_what_would_hide_or_reorder_text():
    assert visible("a\u202eb\u200b\u0085".encode()) == "a⟨U+202E⟩b⟨U+200B⟩⟨U+0085⟩"
    assert visible("␊⟨ff⟩".encode()) == "⟨U+240A⟩⟨U+27E8⟩ff⟨U+27E9⟩"  # look-alikes of its own symbols
    assert visible_rows(b"data: x\r\n\r\n", 10) == [(10, "data: x␍␊"), (19, "␍␊")]
    assert visible_text("tab\there\x00") == "tab␉here␀"


def test_a_verdict_quoting_the_target_carries_no_terminal_escape():
    from conformance import Level, Outcome, Requirement, Verdict, Violation
    from conformance._render import render_verdict

    req = Requirement("FRAME-KNOWN-FIELDS", Level.SHOULD, "title", "source")
    evil = "\x1b[2J\x1b]0;PWNED\x07evil\x1b[31m"
    verdict = Verdict(req, Outcome.FAILED, [Violation(req.id, f"unknown field {evil}", received=evil)], 1)
    text = render_verdict(verdict)
    assert "\x1b" not in text and "\x07" not in text
    assert "␛[2J" in text
    blocked = render_verdict(Verdict(req, Outcome.BLOCKED, reason=f"not judged: media type {evil}"))
    assert "\x1b" not in blocked
