"""``--target replay:FILE``: a saved exchange (``_saved.py``) judged again, offline.

The recording goes through the same ``capture`` and the same rules as a live exchange, read
from a transport that plays the saved response back, piece by piece, on a clock that shows
each piece's recorded arrival time. Nothing waits: a 30 s stream is judged in milliseconds,
and the same transcript gets the same verdicts every time, whatever the machine's load.

Where the recording ended on the suite's own doing (a timeout, a limit), what came after was
not recorded: the replay counts it as silence, so with the same limits the same timeout ends
it, and with other limits the verdict is what those limits make of the recorded bytes. A
connection that broke, or could not be made, breaks again with the recorded cause.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from ._budget import RETRY_STATUSES
from ._capture import Clock
from ._causes import RecordedCause
from ._model import EndKind
from ._profile import Profile
from ._recording import BodyRecording
from ._saved import Saved
from ._settings import Settings
from ._suite import Canonical, checked_exchange, judged
from ._transport import Headers, UndecodableBody, _refusal, content_codings

__all__ = ["replay_canonical", "NO_ENDPOINT", "ReplayClock", "ReplayTransport", "Timeline"]

T = TypeVar("T")
NO_ENDPOINT = "not applicable: a replay has no endpoint to ask"
# Endings the server (or the network) made, that a replay makes again at their time; after
# the others the suite had stopped reading, and the replay counts silence.
BROKE_OFF = (EndKind.READ_ERROR, EndKind.UNREACHABLE)
BROKE = "the connection broke: "  # how capture() words a READ_ERROR, before the recorded cause


class Timeline:
    """The recorded moments in order: the response head, each piece, the end; ``due()`` is
    when the next one happened (infinity: never, as far as the recording knows)."""

    def __init__(self, saved: Saved) -> None:
        self.saved = saved
        self.piece = -1  # -1: the response head is next
        # A content coding the suite refuses ends the exchange at the first read, as live.
        self.refused = saved.response is not None and _refusal(content_codings(saved.response.headers)) is not None

    def due(self) -> float:
        s = self.saved
        if self.piece < 0:
            if s.response is not None:
                return s.response.headers_at
            # No head: the suite's own wait ran out (silence), or the connection failed then.
            return s.ending.time if s.ending.kind in BROKE_OFF or not _timed_out(s) else math.inf
        if self.refused:
            return s.ending.time
        if self.piece < len(s.times):
            return s.times[self.piece]
        return s.ending.time if s.ending.kind in (EndKind.CLOSED, EndKind.READ_ERROR) else math.inf


def _timed_out(saved: Saved) -> bool:
    """Whether an exchange with no response head ended by the suite's wait for one."""
    return saved.ending.kind is EndKind.NO_RESPONSE and saved.ending.detail.startswith("no response headers within")


class ReplayClock(Clock):
    """Recorded time: each wait ends when the timeline's next moment comes, or times out
    (at once) if that moment is further away than the wait allows."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.t = 0.0

    def now(self) -> float:  # type: ignore[override]
        return self.t

    async def within(self, seconds: float, awaitable: Awaitable[T]) -> T:
        due = self.timeline.due()
        if due - self.t > seconds:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # never awaited: said so, rather than warned about
            self.t += seconds
            raise TimeoutError
        self.t = max(self.t, due)
        return await awaitable


class _Response:
    def __init__(self, saved: Saved, timeline: Timeline) -> None:
        assert saved.response is not None
        self.saved = saved
        self.timeline = timeline
        self.status = saved.response.status
        self.reason = saved.response.reason
        self.http_version = saved.response.http_version
        self.headers: Headers = list(saved.response.headers)

    async def pieces(self) -> AsyncIterator[bytes]:
        # A coding the suite refuses was refused live too: nothing of the body was read.
        refusal = _refusal(content_codings(self.headers))
        if refusal is not None:
            raise UndecodableBody(refusal)
        for piece, _ in self.saved.pieces():
            self.timeline.piece += 1
            yield piece
        if self.saved.ending.kind is EndKind.READ_ERROR:
            raise RecordedCause(self.saved.ending.detail.removeprefix(BROKE))

    async def aclose(self) -> None:
        pass


class ReplayTransport:
    """Answers the one request with the saved response (whatever the request)."""

    def __init__(self, saved: Saved, timeline: Timeline) -> None:
        self.saved = saved
        self.timeline = timeline

    async def send(self, method: str, url: str, body: bytes, headers: Headers, sent: Headers) -> _Response:
        sent[:] = self.saved.sent_headers
        ending = self.saved.ending
        if self.saved.response is None:
            raise RecordedCause(ending.detail, unreachable=ending.kind is EndKind.UNREACHABLE)
        self.timeline.piece = 0
        return _Response(self.saved, self.timeline)

    async def __aenter__(self) -> ReplayTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


def replay_canonical(saved: Saved, settings: Settings, profile: Profile) -> Canonical:
    """The saved exchange, judged as the canonical one, with the settings' limits."""
    timeline = Timeline(saved)
    recording = BodyRecording()
    transport = ReplayTransport(saved, timeline)
    request = saved.request
    transcript, verdicts = asyncio.run(checked_exchange(
        transport, request, profile, settings.limits, clock=ReplayClock(timeline), tap=recording))
    status = saved.response.status if saved.response is not None else None
    # Live, a 429 or 503 would have been retried; still there at the end, it made the run not judged.
    refused = f"{status} {saved.response.reason}, as recorded".strip() if status in RETRY_STATUSES else None
    return judged(transcript, verdicts, refused, settings, recording)
