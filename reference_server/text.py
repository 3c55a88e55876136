"""The text every dialect streams, and how it is cut into pieces."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ANSWER", "answer_for", "pieces", "prompt_of"]

# The answer every stream spells out, with non-ASCII text so encoders and parsers are tested on it.
ANSWER = (
    "Streaming sends each piece of text as soon as it exists, "
    "so the first words reach you long before the last. "
    "Naïve café, 日本語, emoji 🚀: all UTF-8."
)


def answer_for(prompt: str) -> str:
    """The whole text of the answer to ``prompt``: a client reassembling a stream gets exactly this."""
    return f"You asked: {prompt[:40]!r}. " + ANSWER


def pieces(text: str, n: int) -> list[str]:
    """``text`` cut into at most ``n`` pieces of nearly equal length."""
    size = max(1, math.ceil(len(text) / n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def prompt_of(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message of a chat request (content as a string or as parts)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
