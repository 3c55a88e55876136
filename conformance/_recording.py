"""The body of an exchange as it arrived, kept to be saved (``_saved.py``): a tap for
``capture`` that spools every piece to a temporary file (in memory up to 1 MiB), with the
piece's length and arrival time, so that memory does not grow with the stream. The suite's
--sse-max-body bounds the spool; past MAX_PIECES pieces, later pieces are joined to the last.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["BodyRecording", "MAX_PIECES", "BLOCK"]

MAX_PIECES = 1 << 20  # piece boundaries kept (16 MiB of arrays at most); later pieces are joined to the last
SPOOL_IN_MEMORY = 1 << 20  # body bytes kept in memory before the spool goes to a temporary file
BLOCK = 3 * (1 << 16)  # bytes read back at a time (a multiple of 3: base64 blocks join without padding)


class BodyRecording:
    """A tap for ``capture``: every piece of the body with its arrival time, spooled."""

    def __init__(self) -> None:
        self.file: BinaryIO = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # type: ignore[assignment]
        self.lengths = array("Q")
        self.times = array("d")
        self.size = 0

    def __call__(self, piece: bytes, now: float) -> None:
        self.file.write(piece)
        self.size += len(piece)
        if len(self.lengths) < MAX_PIECES:
            self.lengths.append(len(piece))
            self.times.append(now)
        else:  # joined to the last piece: its bytes are kept, their boundary and time are not
            self.lengths[-1] += len(piece)
            self.times[-1] = now

    def blocks(self, size: int = BLOCK) -> Iterator[bytes]:
        self.file.seek(0)
        while block := self.file.read(size):
            yield block

    def close(self) -> None:
        self.file.close()
