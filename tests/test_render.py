"""Untrusted bytes as text: every control and invisible character shown, never ambiguous."""

from __future__ import annotations

from conformance._render import visible, visible_rows, visible_text


def test_visible_shows_what_would_hide_or_reorder_text():
    assert visible("a\u202eb\u200b\u0085".encode()) == "a⟨U+202E⟩b⟨U+200B⟩⟨U+0085⟩"
    assert visible("␊⟨ff⟩".encode()) == "⟨U+240A⟩⟨U+27E8⟩ff⟨U+27E9⟩"  # look-alikes of its own symbols
    assert visible_rows(b"data: x\r\n\r\n", 10) == [(10, "data: x␍␊"), (19, "␍␊")]
    assert visible_text("tab\there\x00") == "tab␉here␀"
