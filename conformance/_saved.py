"""Saved exchanges: the canonical exchange written to a transcript file, and read back.

A run writes ``sse-conformance.transcript.json.gz`` in its report directory: gzip-compressed
JSON, described by ``schemas/transcript.schema.json`` and the README ("Saved exchanges").
It holds the request as sent (secrets redacted), the status and headers, the body bytes once
(base64), the pieces they arrived in (their lengths and arrival times, packed), and how the
exchange ended. ``--target replay:FILE`` judges it again (``_replay.py``), and
``python -m reference_server --replay FILE`` serves it.

While the exchange runs, ``_recording.BodyRecording`` spools the body and its pieces.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import os
import sys
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from . import __version__
from ._model import Ending, EndKind
from ._recording import BodyRecording
from ._redact import MARK, Redactor, redact_url
from ._report import atomic_file
from ._schemas import load_schema
from ._transcript import Limits, RequestSpec, Transcript

if TYPE_CHECKING:
    from ._settings import Settings
    from ._suite import Canonical

__all__ = ["TRANSCRIPT_FORMAT", "TRANSCRIPT_NAME", "Saved", "SavedError", "write_saved", "load_saved",
           "saved_from", "TranscriptFile"]

TRANSCRIPT_FORMAT = 1  # bumped when a field changes meaning or goes away; new fields do not bump it
TRANSCRIPT_NAME = "sse-conformance.transcript.json.gz"
MAX_FILE = 1 << 30  # bytes of JSON a transcript may inflate to when read
OVERLAP = 1 << 16  # bytes searched twice between blocks, so a secret across a block boundary is found
MASK = b"*"  # a secret in the body becomes as many of these: offsets and piece lengths stay


@dataclass(frozen=True)
class SavedResponse:
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    headers_at: float


@dataclass(frozen=True)
class Saved:
    """A transcript file, read back and checked."""

    path: Path
    suite_version: str
    date: str
    target: str  # the URL, redacted
    profile: str
    limits: Limits
    request: RequestSpec
    sent_headers: list[tuple[str, str]]
    response: SavedResponse | None
    body: bytes
    lengths: array  # of each piece, in order
    times: array  # each piece's arrival, seconds since the request was sent
    ending: Ending
    redacted: int  # secrets masked in the body (so it differs from what was received there)

    def pieces(self) -> Iterator[tuple[bytes, float]]:
        offset = 0
        for length, time in zip(self.lengths, self.times):
            yield self.body[offset : offset + length], time
            offset += length


class SavedError(ValueError):
    """A transcript that cannot be replayed; the message says why."""


# -- writing --------------------------------------------------------------------------


def _packed(values: array) -> str:
    if sys.byteorder != "little":
        values = array(values.typecode, values)
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def _unpacked(typecode: str, text: str, count: int, what: str) -> array:
    values = array(typecode)
    try:
        values.frombytes(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise SavedError(f"pieces.{what} is not base64 of {count} {values.itemsize}-byte numbers") from None
    if len(values) != count:
        raise SavedError(f"pieces.{what} holds {len(values)} numbers, pieces.count says {count}")
    if sys.byteorder != "little":
        values.byteswap()
    return values


def _masked_spans(body: BodyRecording, redact: Redactor) -> list[tuple[int, int]]:
    """Where secrets stand in the body, as byte ranges, searched block by block (each with the
    OVERLAP bytes after it), as Latin-1 (a character is a byte) and, for secrets that are not
    ASCII, as UTF-8 too."""
    if not redact.forms:
        return []
    wide = any(not form.text.isascii() for form in redact.forms)
    spans: list[tuple[int, int]] = []
    start, carried = 0, b""
    for block in body.blocks():
        window = carried + block
        base = start - len(carried)
        spans += [(base + a, base + b) for a, b in redact.spans(window.decode("latin-1"))]
        if wide:
            text = window.decode("utf-8", "surrogateescape")
            for a, b in redact.spans(text):
                spans.append((base + len(text[:a].encode("utf-8", "surrogateescape")),
                              base + len(text[:b].encode("utf-8", "surrogateescape"))))
        start += len(block)
        carried = window[-OVERLAP:]
    return sorted(set(spans))


def _masked_blocks(body: BodyRecording, spans: list[tuple[int, int]]) -> Iterator[bytes]:
    start = 0
    for block in body.blocks():
        if spans:
            chunk = bytearray(block)
            for a, b in spans:
                lo, hi = max(a, start), min(b, start + len(block))
                if lo < hi:
                    chunk[lo - start : hi - start] = MASK * (hi - lo)
            block = bytes(chunk)
        start += len(block)
        yield block


def _base64_blocks(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Base64 of the concatenated blocks, in pieces (each a multiple of 3 bytes but the last)."""
    rest = b""
    for block in blocks:
        data = rest + block
        cut = len(data) - len(data) % 3
        yield base64.b64encode(data[:cut])
        rest = data[cut:]
    yield base64.b64encode(rest)


def write_saved(
    path: Path,
    t: Transcript,
    body: BodyRecording,
    *,
    date: str,
    target: str,
    profile: str,
    limits: Limits,
    redact: Redactor,
    masked_headers: frozenset[tuple[str, str]],
) -> None:
    """Write the exchange ``t`` and its body to ``path``, whole or not at all.

    Secrets are redacted everywhere: in the request's URL, headers and body, the response
    headers (``<redacted>``), and the body (masked with as many ``*``, so that offsets and
    piece lengths still hold)."""

    def header(name: str, value: str) -> dict[str, str]:
        hidden = (name.lower(), value) in masked_headers
        return {"name": redact(name), "value": MARK if hidden else redact(value)}

    response = None
    if t.status is not None:
        response = {"status": t.status, "reason": redact(t.reason), "http_version": t.http_version,
                    "headers": [header(k, v) for k, v in t.headers], "headers_at": t.headers_at}
    spans = _masked_spans(body, redact)
    head = {
        "transcript_format": TRANSCRIPT_FORMAT,
        "suite": {"name": "sse-conformance", "version": __version__},
        "date": date,
        "target": redact(redact_url(target)),
        "profile": profile,
        "limits": {"timeout": limits.timeout, "stream_timeout": limits.stream_timeout,
                   "done_grace": limits.done_grace, "max_line": limits.max_line, "max_event": limits.max_event,
                   "max_body": limits.max_body},
        "request": {
            "method": t.request.method,
            "url": redact(redact_url(t.request.url)),
            "headers": [header(k, v) for k, v in (t.sent_headers or list(t.request.headers))],
            "body": redact(t.request.body.decode("utf-8", "replace")),
        },
        "response": response,
    }
    tail = {
        "pieces": {"count": len(body.lengths), "lengths": _packed(body.lengths), "times": _packed(body.times)},
        "ending": {"kind": t.ending.kind.value, "detail": redact(t.ending.detail), "time": t.ending.time,
                   "offset": t.ending.offset},
    }
    with atomic_file(path) as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(json.dumps(head, ensure_ascii=False)[:-1].encode("utf-8", "backslashreplace"))
        gz.write(f', "body": {{"size": {body.size}, "redacted": {len(spans)}, "base64": "'.encode())
        for encoded in _base64_blocks(_masked_blocks(body, spans)):
            gz.write(encoded)
        gz.write(b'"}, ' + json.dumps(tail, ensure_ascii=False)[1:].encode("utf-8", "backslashreplace"))


class TranscriptFile:
    """Where a run saves its canonical exchange, beside its reports: removed when the run starts
    (unless the run replays that very file, which it keeps), written when it ends. Under
    pytest-xdist each worker saves its own beside it, and the controller keeps the one of the
    worker whose exchange the reports show."""

    def __init__(self, report_dir: Path, replaying: Path | None = None) -> None:
        self.path = report_dir / TRANSCRIPT_NAME
        self.replaying = replaying

    @property
    def is_input(self) -> bool:
        try:
            return self.replaying is not None and os.path.samefile(self.replaying, self.path)
        except OSError:
            return False

    def clear(self) -> None:
        if not self.is_input:
            self.path.unlink(missing_ok=True)

    def for_worker(self, worker: str) -> Path:
        return self.path.with_name(f".{worker}.{TRANSCRIPT_NAME}")

    def save(self, canonical: Canonical | None, started: datetime | None, url: str, settings: Settings,
             redact: Redactor, path: Path | None = None) -> bool:
        """Save the canonical exchange (at ``path``, a worker's); False if none was recorded."""
        if canonical is None or canonical.recording is None or started is None or (path is None and self.is_input):
            return False
        write_saved(path or self.path, canonical.transcript, canonical.recording,
                    date=started.isoformat(timespec="seconds"), target=url, profile=settings.profile,
                    limits=settings.limits, redact=redact,
                    masked_headers=frozenset((k.lower(), v) for k, v in settings.headers))
        return True

    def keep_first(self, saved_by_workers: list[str]) -> None:
        shown, *others = saved_by_workers or [""]
        for path in others:
            if path:
                Path(path).unlink(missing_ok=True)
        if shown:
            os.replace(shown, self.path)


def saved_from(t: Transcript, body: BodyRecording) -> Saved:
    """An exchange of this run as if saved and read back (nothing redacted: it stays in memory)."""
    response = None
    if t.status is not None:
        response = SavedResponse(t.status, t.reason, t.http_version, list(t.headers), t.headers_at or 0.0)
    return Saved(path=Path(), suite_version=__version__, date="", target=t.request.url, profile="", limits=Limits(),
                 request=t.request, sent_headers=list(t.sent_headers), response=response,
                 body=b"".join(body.blocks()), lengths=array("Q", body.lengths), times=array("d", body.times),
                 ending=t.ending, redacted=0)


# -- reading --------------------------------------------------------------------------


_VALIDATOR: Draft202012Validator | None = None


def _validator() -> Draft202012Validator:
    global _VALIDATOR
    if _VALIDATOR is None:
        schema = load_schema("transcript")
        Draft202012Validator.check_schema(schema)
        _VALIDATOR = Draft202012Validator(schema)
    return _VALIDATOR


def _inflated(raw: bytes) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw  # a plain JSON file is read too (one written by hand, or gunzipped)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, MAX_FILE + 1)
    except zlib.error as exc:
        raise SavedError(f"not a gzip file that inflates ({exc})") from None
    if len(data) > MAX_FILE:
        raise SavedError(f"inflates to more than {MAX_FILE} bytes")
    if not inflater.eof:
        raise SavedError("the gzip stream is cut short")
    return data


def load_saved(path: Path) -> Saved:
    """The transcript at ``path``; SavedError (a ValueError) naming the problem if it cannot be replayed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SavedError(f"cannot read it ({exc.strerror or exc})") from None
    text = _inflated(raw)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SavedError(f"not JSON ({str(exc)[:200]})") from None
    if not isinstance(doc, dict) or "transcript_format" not in doc:
        raise SavedError("not an sse-conformance transcript (it has no transcript_format)")
    if doc["transcript_format"] != TRANSCRIPT_FORMAT:
        raise SavedError(f"transcript format {str(doc['transcript_format'])[:20]}, written by sse-conformance "
                         f"{str(doc.get('suite', {}).get('version', '?'))[:20]}: this version ({__version__}) reads "
                         f"format {TRANSCRIPT_FORMAT}")
    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        raise SavedError(f"does not match the transcript schema at {error.json_path}: {error.message[:200]}")
    return _saved(path, doc)


def _saved(path: Path, doc: dict[str, Any]) -> Saved:
    try:
        body = base64.b64decode(doc["body"]["base64"], validate=True)
    except (binascii.Error, ValueError):
        raise SavedError("body.base64 is not base64") from None
    if len(body) != doc["body"]["size"]:
        raise SavedError(f"body.base64 holds {len(body)} bytes, body.size says {doc['body']['size']}")
    pieces = doc["pieces"]
    lengths = _unpacked("Q", pieces["lengths"], pieces["count"], "lengths")
    times = _unpacked("d", pieces["times"], pieces["count"], "times")
    if sum(lengths) != len(body):
        raise SavedError(f"the pieces add up to {sum(lengths)} bytes, the body holds {len(body)}")
    if any(not math.isfinite(x) or x < 0 for x in times) or any(b < a for a, b in zip(times, times[1:])):
        raise SavedError("pieces.times are not arrival times: each finite, not negative, none before the one before")
    limits, request, response, ending = doc["limits"], doc["request"], doc["response"], doc["ending"]
    return Saved(
        path=path,
        suite_version=doc["suite"]["version"],
        date=doc["date"],
        target=doc["target"],
        profile=doc["profile"],
        limits=Limits(**limits),
        request=RequestSpec(url=request["url"], body=request["body"].encode("utf-8"), method=request["method"]),
        sent_headers=[(h["name"], h["value"]) for h in request["headers"]],
        response=None if response is None else SavedResponse(
            response["status"], response["reason"], response["http_version"],
            [(h["name"], h["value"]) for h in response["headers"]], response["headers_at"]),
        body=body,
        lengths=lengths,
        times=times,
        ending=Ending(EndKind(ending["kind"]), ending["detail"], ending["time"], ending["offset"]),
        redacted=doc["body"]["redacted"],
    )
