"""The interop verdict: the canonical stream replayed, over loopback, to the real client
libraries installed here, and what each delivers compared with what the WHATWG parse says it
must deliver.

A stream can meet every rule and still break a client people use: the openai Python SDK
drops the first event of a body that starts with a BOM, and raises JSONDecodeError on a block
that carries only ``retry:``. Each client is a requirement of its own (``INTEROP-<client>``,
level INTEROP): a client that misreads the stream is a warning, unless ``--sse-interop fail``
makes it count; a client not installed is "not judged", and counts only then too.

The step costs the target nothing: the bytes come from the canonical exchange's recording
(``_recording.py``), served by a loopback server in this process (``reference_server/replay.py``)
to each client in a process of its own (``_interop_clients.py``), all at once, within
INTEROP_SECONDS. What a client should deliver is the WHATWG parse of the same bytes, in the
client's terms (``expected``); where it first delivers something else, the finding names the
client and version, what it did, what it should have done, and the features of the bytes
between the last item it got right and the first it got wrong (``_interop_features.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ._interop_clients import CLIENTS, Client, Delivery, installed, run_client
from ._interop_features import features_between
from ._model import ordinal
from ._parser import EventStreamParser
from ._parser_output import Event
from ._profile import Profile
from ._rules import Findings, Verdict, stream_blocker
from ._saved import Saved, saved_from
from ._settings import Settings
from ._suite import Canonical, failures

__all__ = ["InteropStep", "run_interop", "start_interop", "expected", "Expected", "matcher", "compare", "events_of",
           "api_of", "label", "INTEROP_SECONDS", "INTEROP_MAX_BODY"]

INTEROP_SECONDS = 30.0  # the whole step: every client, started at once, is stopped by then
INTEROP_MAX_BODY = 8 << 20  # bytes: a longer body is not replayed (each client would hold it, and its output)
OFF = "not applicable: no client library was run (--sse-interop off)"
PREVIEW = 80  # characters of an item shown in a message
BEFORE, AFTER = 48, 208  # bytes of excerpt before and after the place


@dataclass(frozen=True)
class Expected:
    """What a client must deliver: an item for each of ``events`` (made when asked for, so a
    long stream is not held twice), then an error raised for ``raises_at``, if the stream
    reports one there (an SDK's contract)."""

    events: list[Event]
    as_events: bool  # items are (type, data); else the JSON of each event's data
    raises_at: Event | None = None

    def __len__(self) -> int:
        return len(self.events)

    def item(self, i: int) -> Any:
        e = self.events[i]
        if self.as_events:
            return (e.type, e.data)
        try:
            return json.loads(e.data)
        except ValueError:
            return e.data  # not JSON: no SDK can deliver it (a MUST failure blocks the step before this)


def expected(client: Client, events: Sequence[Event]) -> Expected:
    """The WHATWG parse, in the client's terms. An SSE library delivers every dispatched event
    (type and data). An SDK delivers the JSON of each event its Stream yields: the openai SDKs
    every event up to ``data: [DONE]``, raising for a chunk that holds ``error``; the anthropic
    SDK the named events but ``ping``, raising for ``event: error``."""
    if client.delivers == "events":
        return Expected(list(events), True)
    anthropic = client.name.startswith("anthropic")
    where: list[Event] = []
    for e in events:
        if anthropic:
            if e.type in ("ping", "message") or not e.data:  # "message": the event had no name
                continue
            if e.type == "error":
                return Expected(where, False, e)
        elif e.data.startswith("[DONE]"):
            break
        elif '"error"' in e.data and _reports_error(e.data):
            return Expected(where, False, e)
        where.append(e)
    return Expected(where, False)


def _reports_error(data: str) -> bool:
    try:
        value = json.loads(data)
    except ValueError:
        return False
    return isinstance(value, dict) and bool(value.get("error"))


def matcher(want: Expected, profile: Profile) -> Callable[[int, Any], bool]:
    """Whether item ``i`` a client delivered is the one ``want`` says it must be."""
    return lambda i, item: i < len(want) and _same(item, want.item(i), profile)


def _noun(client: Client, n: int) -> str:
    word = "event" if client.delivers == "events" else "chunk"
    return f"{n} {word}{'' if n == 1 else 's'}"


def _preview(item: Any) -> str:
    if isinstance(item, (list, tuple)) and len(item) == 2:
        text = f"{item[0]!r} event, data {json.dumps(item[1], ensure_ascii=False)}"
    else:
        text = json.dumps(item, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= PREVIEW else text[:PREVIEW] + "..."


def _same(got: Any, want: Any, profile: Profile) -> bool:
    """The item delivered is the one the parse gives. An SDK's chunk is a typed object turned
    back into JSON: equal, or at least of the same type and with the same text."""
    if isinstance(want, tuple):
        return isinstance(got, list) and tuple(got) == want
    if got == want:
        return True
    if not (isinstance(got, dict) and isinstance(want, dict)):
        return False
    return got.get("type") == want.get("type") and profile.text_of(got) == profile.text_of(want) and (
        got.get("id") == want.get("id"))


def _excerpt(body: bytes, offset: int) -> tuple[int, bytes]:
    start = max(offset - BEFORE, 0)
    cut = max(body.rfind(b"\n", start, max(offset - 1, start)), body.rfind(b"\r", start, max(offset - 1, start)))
    start = cut + 1 if cut >= 0 else start
    return start, body[start : offset + AFTER]


def _event(e: Event) -> str:
    return f"event {e.index} (the {ordinal(e.index + 1)})"


def compare(client: Client, label: str, delivery: Delivery, want: Expected, body: bytes,
            events: Sequence[Event], profile: Profile, findings: Findings) -> None:
    """Judge what ``client`` delivered (matched item by item against ``want`` as it came, see
    ``matcher``): a violation where it first differs, a note when it does not, "not judged" when
    it was cut short before it differed."""
    count = delivery.count
    first = delivery.first if delivery.first is not None else min(count, len(want))
    if not delivery.finished and delivery.first is None:
        findings.not_judged = f"{label} had delivered {_noun(client, count)} of {len(want)} when " + (
            delivery.ended or f"the interop step's {INTEROP_SECONDS:g} s ran out")
        return
    raised_right = want.raises_at is not None and delivery.error is not None
    if delivery.first is None and count == len(want) and (delivery.error is None) == (want.raises_at is None):
        findings.notes.append(f"{label}: delivered the {_noun(client, count)} the WHATWG parse gives"
                              + (", then raised for the error the stream reports" if raised_right else ""))
        return
    # Where it went wrong: the item it should have delivered next, and the bytes that lead to it.
    nxt = want.events[first] if first < len(want) else want.raises_at
    prev_end = want.events[first - 1].end if first else 0
    stop = nxt.end + 1 if nxt is not None else len(body)
    should = f"{_noun(client, len(want))}, as the WHATWG parse gives"
    received = _noun(client, count)
    got, following = delivery.differing, delivery.following
    if delivery.first is not None and first < len(want):
        if first + 1 < len(want) and _same(got, want.item(first + 1), profile):
            did = f"dropped {_event(nxt)}"
        elif first + 1 < count and _same(following, want.item(first), profile):
            did = f"delivered an item the WHATWG parse does not have, before {_event(nxt)}"
        elif want.as_events and isinstance(got, list) and len(got) == 2:
            (got_type, got_data), (want_type, want_data) = got, want.item(first)
            did = (f"delivered {_event(nxt)} as a {got_type!r} event, not {want_type!r}" if got_data == want_data
                   else f"delivered {_event(nxt)} with other data than the WHATWG parse gives")
        else:
            did = f"delivered {_event(nxt)} otherwise than the WHATWG parse gives it"
        should += f"; {_event(nxt)}: {_preview(want.item(first))}"
        received += f"; item {first}: {_preview(got)}"
    elif first < len(want):
        did = (f"raised {delivery.error}" if delivery.error else "stopped") + (
            f" after {_noun(client, first)}, before {_event(nxt)}")
    elif delivery.first is not None:
        did = f"delivered {count - first} more after the last item of the WHATWG parse"
        received += f"; item {first}: {_preview(got)}"
        prev_end, stop = (want.events[-1].end if want.events else 0), len(body)
    elif delivery.error is not None:
        did = f"raised {delivery.error} after delivering every item"
        prev_end = stop = len(body)
    else:
        did = f"raised no error for the one the stream reports at {_event(nxt)}" if nxt else "differed"
    if want.raises_at is not None:
        should += f", then an error raised for {_event(want.raises_at)}, which reports one"
    if delivery.error:
        received += f", then {delivery.error}"
    ids = [e.last_event_id for e in events if e.end <= prev_end]
    causes = features_between(body, prev_end, stop, id_set_before=bool(ids and ids[-1]))
    where = causes[0].offset if causes else prev_end
    cause = ("caused by: " + ", ".join(map(str, causes))) if causes else (
        f"nothing unusual found between byte {prev_end} and byte {stop}")
    excerpt_offset, excerpt = _excerpt(body, where)
    findings.fail(
        f"{label} {did}; {cause}",
        expected=should, received=received, offset=where,
        event=nxt.index if nxt is not None else None, time=nxt.time if nxt is not None else None,
        excerpt=excerpt, excerpt_offset=excerpt_offset,
    )


def _blocked(findings: dict[str, Findings], canonical: Canonical, settings: Settings) -> bool:
    """Whether the step cannot run; if so, every finding says why."""
    t = canonical.transcript
    blocker = stream_blocker(t)
    failing = failures(canonical.verdicts.values(), strict=False)
    recording = canonical.recording
    for f in findings.values():
        if settings.interop == "off":
            f.not_applicable = OFF
        elif canonical.not_judged is not None:
            f.not_judged = canonical.not_judged.cause
        elif blocker is not None:
            f.block(*blocker)
        elif failing:
            f.block(", ".join(v.requirement.id for v in failing),
                    "a client is judged on a stream that meets every MUST requirement")
        elif recording is None:
            f.not_judged = "the canonical exchange was not recorded"
        elif recording.size > INTEROP_MAX_BODY:
            f.not_judged = f"the body is {recording.size} bytes, more than the {INTEROP_MAX_BODY} the step replays"
        else:
            return False
    return True


class InteropStep:
    """The run's interop step: started in the background as soon as the canonical exchange is
    judged (``start``), so that the clients run while the suite's own requests do, and waited
    for when the first of their requirements is asked for. A pytest-xdist worker, which cannot
    tell which of the items it will be given, runs each client as its item comes."""

    def __init__(self, profile: Profile, settings: Settings, alone: bool = False) -> None:
        self.profile = profile
        self.settings = settings
        self.alone = alone
        self.selected: list[Client] = list(CLIENTS)
        self._verdicts: dict[str, Verdict | Exception] = {}
        self._pending: tuple[list[Client], Future[dict[str, Verdict]]] | None = None

    def _due(self, first: Client | None = None) -> list[Client]:
        due = [c for c in self.selected if c.requirement.id not in self._verdicts]
        return [c for c in dict.fromkeys([*([first] if first else []), *due]) if c.speaks(self.profile.rules)]

    def start(self, canonical: Canonical) -> None:
        """Begin the step for every selected client; what reads the run's recording is done
        here, before returning, and the rest (the clients' processes) in a thread of its own."""
        if self.alone or self._pending is not None or not (due := self._due()):
            return
        try:
            finish = start_interop(due, canonical, self.profile, self.settings)
        except Exception as exc:  # one internal error, told by each of its requirements
            self._verdicts.update(dict.fromkeys((c.requirement.id for c in due), exc))
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="sse-interop")
        self._pending = (due, pool.submit(finish))
        pool.shutdown(wait=False)

    def settle(self) -> None:
        """Wait for a step started in the background (its clients are bounded by INTEROP_SECONDS)."""
        if self._pending is None:
            return
        due, future = self._pending
        self._pending = None
        try:
            self._verdicts.update(future.result())
        except Exception as exc:
            self._verdicts.update(dict.fromkeys((c.requirement.id for c in due), exc))

    def verdict(self, client: Client, canonical: Canonical) -> Verdict:
        rid = client.requirement.id
        self.settle()
        if rid not in self._verdicts:
            due = [client] if self.alone else self._due(client)
            try:
                self._verdicts.update(run_interop(due, canonical, self.profile, self.settings))
            except Exception as exc:  # one internal error, not one step per requirement
                self._verdicts.update(dict.fromkeys((c.requirement.id for c in due), exc))
        result = self._verdicts[rid]
        if isinstance(result, Exception):
            raise result
        return result


def events_of(saved: Saved, settings: Settings) -> list[Event]:
    """The WHATWG parse of the saved body, in its pieces, with the run's limits."""
    parser = EventStreamParser(max_line=settings.limits.max_line, max_event=settings.limits.max_event)
    events = [e for piece, time in saved.pieces() for e in parser.feed(piece, time)]
    parser.close()
    return events


def api_of(profile: Profile) -> str:
    """Which API an SDK's runner calls for the profile (its dialect's rule set, else its name)."""
    return next((r for r in ("openai-responses", "anthropic-messages", "openai-chat") if r in profile.rules),
                profile.name)


def label(client: Client, version: str) -> str:
    return f"{client.name} {version}"


def run_interop(clients: Sequence[Client], canonical: Canonical, profile: Profile,
                settings: Settings) -> dict[str, Verdict]:
    """Replay the canonical stream to ``clients``; a verdict for each one's requirement."""
    return start_interop(clients, canonical, profile, settings)()


def start_interop(clients: Sequence[Client], canonical: Canonical, profile: Profile,
                  settings: Settings) -> Callable[[], dict[str, Verdict]]:
    """The step's first part, done now: what reads the canonical exchange's recording (the
    bytes, their WHATWG parse, the clients found). Returns the rest, which runs the clients and
    touches nothing of the run's, so it may run in another thread."""
    findings = {c.requirement.id: Findings(c.requirement) for c in clients}

    def verdicts() -> dict[str, Verdict]:
        return {rid: f.verdict() for rid, f in findings.items()}

    if _blocked(findings, canonical, settings):
        return verdicts
    assert canonical.recording is not None
    saved = saved_from(canonical.transcript, canonical.recording)
    events = events_of(saved, settings)
    present = {c.name: installed(c) for c in clients}
    runnable = [(c, found) for c in clients if (found := present[c.name]) is not None]
    for c in clients:
        if present[c.name] is None:
            findings[c.requirement.id].not_judged = f"not installed ({c.install})"
    if not runnable:
        return verdicts
    wants = {c.name: expected(c, events) for c, _ in runnable}

    def finish() -> dict[str, Verdict]:
        from reference_server.replay import ReplayServer  # the step's own loopback server

        async def run_all(url: str) -> list[list[Delivery]]:
            return list(await asyncio.gather(*(
                run_client(c, root, [(url, matcher(wants[c.name], profile))], api_of(profile), INTEROP_SECONDS)
                for c, (_, root) in runnable)))

        with ReplayServer(saved, identity=True) as server:
            deliveries = asyncio.run(run_all(server.url("/")))
        for (c, (version, _)), (delivery,) in zip(runnable, deliveries):
            compare(c, label(c, version), delivery, wants[c.name], saved.body, events, profile,
                    findings[c.requirement.id])
        return verdicts()

    return finish
