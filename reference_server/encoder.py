"""The correct event encoder. Fault modes break exactly one of its rules on purpose."""

from __future__ import annotations

__all__ = ["encode_event", "LINE_SEPARATORS"]

LINE_SEPARATORS = ("\n", "\r\n", "\r")


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    sep: str = "\n",
) -> bytes:
    """One event, framed: optional fields, one ``data:`` line per line of data, a blank line.

    ``event`` and ``id`` lose any line break (a field value cannot hold one), and multi-line
    data is split into several ``data:`` lines, which a client joins with LF again.
    """
    if sep not in LINE_SEPARATORS:
        raise ValueError(f"line separator must be one of {LINE_SEPARATORS!r}")
    lines = []
    if event is not None:
        lines.append("event: " + _one_line(event))
    if id is not None:
        lines.append("id: " + _one_line(id))
    if retry is not None:
        lines.append(f"retry: {int(retry)}")
    lines.extend("data: " + line for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return (sep.join(lines) + sep + sep).encode("utf-8")


def _one_line(value: str) -> str:
    return value.replace("\r", "").replace("\n", "")
