"""The reference server: an ASGI app that streams every built-in profile correctly, and
breaks one rule on purpose when a fault is named in the URL (``?fault=no-done``).

Query parameters: ``fault`` (comma-separated names, see ``GET /faults``), ``delay``
(milliseconds between events, default from ``create_app``), ``chunks`` (how many chunks),
``pad`` (characters of filler added to every chunk's text, for large events), ``size``
(bytes the ``endless`` stream or the ``huge-line`` runs to), ``stamp=1`` (each chunk
carries ``sent_at``, the server's ``time.time()`` when it was written).

The server holds to the rules it checks: a request body over 1 MiB gets 413, one that is
not JSON (however deeply nested) 400, one that takes over ``request_timeout`` to arrive
408; a query that would make it hold more than MAX_PADDING of filler, or buffer an endless
body, 400 (see ``serve.py`` for a request head sent too slowly).
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from conformance import load_profile

from . import vendors
from .dialects import DIALECTS, Dialect, ErrorBody, dialect_for
from .dialects.simple import error_body as simple_error
from .handling import Handling
from .plan import Plan
from .raw import RAW_EXTENSION
from .text import ANSWER
from .writer import write_plan

__all__ = ["create_app", "ANSWER", "DIALECTS", "Dialect", "dialect_for"]

MAX_CHUNKS = 1000
MAX_PAD = 1 << 20  # characters of filler one chunk may carry
MAX_PADDING = 16 << 20  # characters of filler one answer may carry, all chunks together
MAX_BUFFERED = 64 << 20  # bytes of a body the writer must hold whole (to send its Content-Length)
MAX_REQUEST_BODY = 1 << 20  # a request is a prompt: a larger body gets 413
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request (see serve.py for the head)


def error(
    status: int,
    message: str,
    kind: str = "invalid_request",
    headers: dict[str, str] | None = None,
    as_json: bool = True,
    shape: ErrorBody = simple_error,
    code: str | None = None,
) -> Response:
    if not as_json:
        return PlainTextResponse(f"Error: {message}", status_code=status, headers=headers)
    body = shape(message, kind)
    if code is not None and isinstance(body.get("error"), dict):
        body["error"]["code"] = code  # e.g. OpenAI's "model_not_found"
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class ServerState:
    """What the server shares across requests: streams in flight, and the requests whose streams
    a client dropped (the break-after-drop fault's poisoned cache)."""

    in_flight: int = 0
    dropped: set[str] = field(default_factory=set)
    slots: vendors.StreamSlots = field(default_factory=vendors.StreamSlots)  # the stream-limit variant's


class PlanResponse(Response):
    """Writes a plan to the client, stopping as soon as the client goes away."""

    def __init__(self, plan: Plan, state: ServerState, mark_drops: str | None = None, holds_slot: bool = False) -> None:
        self.plan = plan
        self.state = state
        self.mark_drops = mark_drops  # the request's key, remembered if its stream is dropped
        self.holds_slot = holds_slot  # one of the stream-limit variant's slots, given back at the end
        self.complete = False  # set before the last message, so a close after it is no drop
        self.left = False  # no longer counted in flight (nor holding a slot)
        self.status_code = plan.status
        self.background = None

    def leave(self) -> None:
        """Count this stream out, once: before its last message goes, so that a client that
        asks again as soon as it has it does not find this stream still in flight."""
        if not self.left:
            self.left = True
            self.state.in_flight -= 1
            if self.holds_slot:
                self.state.slots.give_back(dropped=not self.complete)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                if self.mark_drops is not None and not self.complete:
                    self.state.dropped.add(self.mark_drops)
                tg.cancel_scope.cancel()  # the client left: stop generating

            async def send_marking_the_end(message: Message) -> None:
                if message["type"] == "http.response.body" and not message.get("more_body", False):
                    self.complete = True
                    self.leave()
                await send(message)

            tg.start_soon(watch)
            self.state.in_flight += 1
            if self.plan.omit_done_if_concurrent and self.state.in_flight > 1:
                self.plan.terminator = None
            try:
                await write_plan(self.plan, send_marking_the_end)
            except OSError:
                pass  # the client left mid-write
            finally:
                self.leave()
            tg.cancel_scope.cancel()


class _Refused(Exception):
    def __init__(self, status: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


async def _read_body(request: Request, timeout: float) -> bytes:
    """The request body, read to MAX_REQUEST_BODY within ``timeout`` seconds, or _Refused:
    the server holds to its own rules however the client sends."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_REQUEST_BODY:  # refused before a byte of it is read
        raise _Refused(413, f"the request body is over {MAX_REQUEST_BODY} bytes", "request_too_large")
    body = bytearray()
    with anyio.move_on_after(timeout) as scope:
        try:
            async for piece in request.stream():
                body += piece
                if len(body) > MAX_REQUEST_BODY:
                    raise _Refused(413, f"the request body is over {MAX_REQUEST_BODY} bytes", "request_too_large")
        except ClientDisconnect:  # answered to no one, but not an error of the server's
            raise _Refused(400, "the client went away while sending its request", "client_disconnect") from None
    if scope.cancelled_caught:
        raise _Refused(408, f"the request body did not arrive within {timeout:g} s", "request_timeout")
    return bytes(body)


def _parsed(body: bytes) -> Any:
    """The body as JSON; ValueError if it is not JSON, or nested too deeply to parse."""
    try:
        return json.loads(body)
    except RecursionError:  # "[[[[..." deeper than Python recurses: unparseable, a 400 like any other
        raise ValueError("nested too deeply") from None


def create_app(delay: float = 0.02, chunks: int = 8, request_timeout: float = REQUEST_TIMEOUT) -> Starlette:
    """The reference server app. ``delay`` is the default pause between events, in seconds;
    ``request_timeout`` how long a client may take to send a request body."""
    profiles = {d.profile: load_profile(d.profile) for d in DIALECTS.values()}

    state = ServerState()

    async def stream(path: str, request: Request) -> Response:
        dialect = DIALECTS[path]  # the route's path: a template where it names the model
        profile = profiles[dialect.profile]
        refuse = partial(error, shape=dialect.error_body)
        names = [n for n in request.query_params.get("fault", "").split(",") if n]
        unknown = [n for n in names if n not in dialect.faults]
        if unknown:
            return refuse(400, f"unknown fault {unknown[0]!r} for {dialect.profile}; GET /faults lists them",
                          "unknown_fault")
        faults = [dialect.faults[n] for n in names]
        raw_only = [f.name for f in faults if f.raw and RAW_EXTENSION not in request.scope.get("extensions", {})]
        if raw_only:
            return refuse(400, f"fault {raw_only[0]!r} is served only by the byte-exact listener "
                          "(ServerThread.url picks it; python -m reference_server prints its port)", "raw_only_fault")
        handling = Handling()
        for fault in faults:
            if fault.stage == "request":
                fault.apply(handling)
        fail = partial(refuse, as_json=handling.error_json)
        if (answer := vendors.gate(handling, request.headers, fail)) is not None:
            return answer
        if request.method not in handling.methods:
            allow = {"Allow": ", ".join(handling.methods)} if handling.allow_header else None
            return fail(405, f"use {' or '.join(handling.methods)} for {request.url.path}", headers=allow)
        query = request.query_params
        try:
            pause = float(query.get("delay", delay * 1000)) / 1000
            n_chunks = min(int(query.get("chunks", chunks)), MAX_CHUNKS)
            pad = min(int(query.get("pad", 0)), MAX_PAD)
            size = int(query["size"]) if "size" in query else None
            if not math.isfinite(pause) or pause < 0:  # float() takes "nan" and "inf"; sleep() does not
                raise ValueError("delay")
        except ValueError:
            return fail(400, "delay, chunks, pad and size must be numbers (delay finite, not negative)",
                        "invalid_query")
        if max(n_chunks, 1) * pad > MAX_PADDING:
            return fail(400, f"chunks x pad is over {MAX_PADDING} characters of filler", "invalid_query")
        body: Any = profile.example
        if request.method != "GET":
            media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if handling.require_json_content_type and media_type != "application/json":
                return fail(415, "send the request as Content-Type: application/json", "unsupported_media_type")
            try:
                raw = await _read_body(request, request_timeout)
            except _Refused as refusal:
                return fail(refusal.status, refusal.message, refusal.kind, headers={"Connection": "close"})
            try:
                body = _parsed(raw)
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError:
                if handling.reject_bad_json:
                    return fail(handling.bad_json_status, "the request body must be a JSON object")
                body = profile.example
        try:
            problem = next(iter(profile.request_validator.iter_errors(body)), None)
        except RecursionError:  # parsed, yet nested too deeply to validate
            return fail(400, "the request body is nested too deeply")
        if problem is not None and handling.validate_schema:
            return fail(400, f"the request does not match the {dialect.profile} schema at {problem.json_path}: "
                        f"{problem.message}")
        if problem is not None:
            body = profile.example
        key = json.dumps(body, sort_keys=True)
        if handling.fail_after_drop and key in state.dropped:
            state.dropped.discard(key)  # the poisoned entry answers once, then is gone
            return fail(500, "internal error after a client went away", "server_error")
        if (answer := vendors.admit(handling, body, state.slots, fail)) is not None:
            return answer
        plan = dialect.plan(body, handling.response_id or f"msg_{uuid.uuid4().hex[:12]}", max(n_chunks, 1))
        plan.delay = pause
        plan.stamp = request.query_params.get("stamp") == "1"
        plan.request = body
        plan.request_headers = dict(request.headers)
        plan.size = size
        if dialect.adapt is not None:
            dialect.adapt(plan, request)
        text = profile.text_path
        if pad > 0 and dialect.profile == "simple" and text is not None:  # its text is top-level
            for chunk in plan.chunks:
                chunk[text.text] += "." * pad
        for fault in faults:
            if fault.stage == "response":
                fault.apply(plan)
        if plan.content_length and (plan.endless or plan.huge_line) and (plan.size or MAX_BUFFERED + 1) > MAX_BUFFERED:
            if handling.stream_limit is not None:
                state.slots.give_back(dropped=False)
            return fail(400, f"a Content-Length needs the whole body first: size must be at most {MAX_BUFFERED} "
                        "with an endless stream or a huge line", "invalid_query")
        return PlanResponse(plan, state, mark_drops=key if handling.fail_after_drop else None,
                            holds_slot=handling.stream_limit is not None)

    async def faults(request: Request) -> Response:
        # Every dialect's faults; ?fault= takes those of the path it is given on.
        return JSONResponse([{**f.describe(), "profile": d.profile, "path": path}
                             for path, d in DIALECTS.items() for f in d.faults.values()])

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, f"no such path; streams are served at {', '.join(DIALECTS)}", "not_found")

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    routes = [Route(path, partial(stream, path), methods=methods) for path in DIALECTS]
    routes.append(Route("/faults", faults, methods=["GET"]))
    return Starlette(routes=routes, exception_handlers={404: not_found})
