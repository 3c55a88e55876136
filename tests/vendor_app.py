"""A small streaming API that behaves as real vendors' do, written apart from the reference
server so that the suite is tried against habits it did not grow up with: an API key, only
its own model, a limit on streams at once answered with 429 and Retry-After (a dropped
stream's slot freed a moment late), a queue before the first byte, keep-alive comments (or
Anthropic's ping events) before the first token.

It speaks OpenAI chat completions at ``/v1/chat/completions`` and Anthropic messages at
``/v1/messages``, with those APIs' error shapes. Used by tests/test_vendors.py and
benchmarks/suite_wall.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

KEY = "sk-vendor-test-0123456789"
WORDS = "Streaming sends each token as soon as the model has it , so the reader starts at once .".split()


@dataclass
class Habits:
    model: str = "vendor-model-1"  # the only model served
    stream_limit: int = 2  # streams at once; more get 429
    retry_after: str = "1"
    hold_after_drop: float = 0.3  # a dropped stream's slot is freed this late
    queue: float = 0.3  # seconds before the response head
    keepalive: float = 0.6  # seconds of keep-alives before the first token
    keepalive_every: float = 0.2
    stream_seconds: float = 0.4  # the answer's tokens spread over this long
    # Habits of broken or overloaded endpoints, off by default:
    other_prompts_503: str | None = None  # a proxy answers 503 to any request without this text (it crashes)
    bad_503: bool = False  # 503 to a body that is not a JSON object
    overload_above: int | None = None  # streams past this many at once end in an in-stream overload error
    endless_refusals: bool = False  # a 429's body never ends


async def _endless() -> AsyncIterator[bytes]:
    while True:
        yield b'{"error": "slow down"} '
        await asyncio.sleep(0.05)


def _openai_error(status: int, message: str, kind: str, code: str | None = None, **headers: str) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _anthropic_error(status: int, message: str, kind: str, code: str | None = None, **headers: str) -> Response:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status_code=status,
                        headers=headers)


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def create_app(habits: Habits) -> Any:
    taken = 0  # stream slots in use
    in_flight = most = 0  # requests being answered, and the most at once (GET /_stats)

    def free(dropped: bool) -> None:
        def release() -> None:
            nonlocal taken
            taken -= 1

        if dropped:
            asyncio.get_running_loop().call_later(habits.hold_after_drop, release)
        else:
            release()

    async def admitted(request: Request, anthropic: bool) -> tuple[dict[str, Any] | None, Response | None]:
        nonlocal taken
        error = _anthropic_error if anthropic else _openai_error
        if request.method != "POST":
            return None, error(405, "use POST", "invalid_request_error", **{"allow": "POST"})
        if anthropic and request.headers.get("x-api-key") != KEY:
            return None, error(401, "invalid x-api-key", "authentication_error")
        if not anthropic and request.headers.get("authorization") != f"Bearer {KEY}":
            return None, error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if anthropic and not request.headers.get("anthropic-version"):
            return None, error(400, "anthropic-version: header is required", "invalid_request_error")
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if habits.bad_503 and not isinstance(body, dict):
            return None, error(503, "service unavailable", "server_error")
        if body is None:
            return None, error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return None, error(400, "messages: a non-empty list is required", "invalid_request_error")
        if anthropic and not isinstance(body.get("max_tokens"), int):
            return None, error(400, "max_tokens: Field required", "invalid_request_error")
        for message in body["messages"]:
            content = message.get("content") if isinstance(message, dict) else None
            if anthropic and not (isinstance(content, str) and content.strip()):
                return None, error(400, "messages: text content blocks must contain non-whitespace text",
                                   "invalid_request_error")
        if habits.other_prompts_503 is not None and habits.other_prompts_503 not in json.dumps(body["messages"]):
            return None, error(503, "upstream connect error", "server_error")
        if body.get("stream") is not True:
            return None, error(400, "this endpoint only streams: set stream to true", "invalid_request_error")
        if body.get("model") != habits.model:
            kind = "not_found_error" if anthropic else "invalid_request_error"
            return None, error(404, f"The model `{body.get('model')}` does not exist.", kind, "model_not_found")
        if taken >= habits.stream_limit:
            if habits.endless_refusals:
                return None, StreamingResponse(_endless(), status_code=429, headers={"retry-after": habits.retry_after})
            kind = "rate_limit_error" if anthropic else "requests"
            return None, error(429, "Rate limit reached: too many streams at once.", kind, "rate_limit_exceeded",
                               **{"retry-after": habits.retry_after})
        taken += 1
        return body, None

    async def paced(frames: Iterator[bytes], keepalive: bytes, lead: int) -> AsyncIterator[bytes]:
        """``lead`` frames, then keep-alives while the model "thinks", then the rest, paced."""
        for _ in range(lead):
            yield next(frames)
        started = time.monotonic()
        while time.monotonic() - started < habits.keepalive:
            yield keepalive
            await asyncio.sleep(habits.keepalive_every)
        for frame in frames:
            yield frame
            await asyncio.sleep(habits.stream_seconds / len(WORDS))

    async def stream(request: Request, anthropic: bool) -> Response:
        body, refusal = await admitted(request, anthropic)
        if refusal is not None:
            return refusal
        await asyncio.sleep(habits.queue)
        frames = _anthropic(body) if anthropic else _openai(body)
        if anthropic and habits.overload_above is not None and taken > habits.overload_above:
            frames = _overloaded(body)
        # Anthropic sends message_start first, then pings; OpenAI-style servers a comment.
        keepalive = _sse({"type": "ping"}, "ping") if anthropic else b": keep-alive\n\n"
        lead = 1 if anthropic else 0
        done = False

        async def body_then_free() -> AsyncIterator[bytes]:
            nonlocal done
            try:
                async for piece in paced(frames, keepalive, lead):
                    yield piece
                done = True
            finally:
                free(dropped=not done)

        return StreamingResponse(body_then_free(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})

    async def openai(request: Request) -> Response:
        return await stream(request, anthropic=False)

    async def anthropic(request: Request) -> Response:
        return await stream(request, anthropic=True)

    async def stats(request: Request) -> Response:
        return JSONResponse({"most_in_flight": most})

    methods = ["GET", "POST", "PUT", "DELETE"]
    app = Starlette(routes=[Route("/v1/chat/completions", openai, methods=methods),
                            Route("/v1/messages", anthropic, methods=methods),
                            Route("/_stats", stats, methods=["GET"])])

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        """The app, counting requests from their arrival to their answer's last byte."""
        nonlocal in_flight, most
        if scope["type"] != "http" or scope["path"] == "/_stats":
            return await app(scope, receive, send)
        in_flight += 1
        most = max(most, in_flight)
        try:
            await app(scope, receive, send)
        finally:
            in_flight -= 1

    return counted


def _openai(body: dict[str, Any]) -> Iterator[bytes]:
    head = {"id": f"chatcmpl-{uuid.uuid4().hex[:20]}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body["model"], "system_fingerprint": "fp_vendor"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    usage = isinstance(body.get("stream_options"), dict) and body["stream_options"].get("include_usage") is True
    yield _sse({**chunk({"role": "assistant", "content": ""}), **({"usage": None} if usage else {})})
    for word in WORDS:
        yield _sse({**chunk({"content": f" {word}"}), **({"usage": None} if usage else {})})
    yield _sse({**chunk({}, "stop"), **({"usage": None} if usage else {})})
    if usage:
        yield _sse({**head, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": len(WORDS),
                                                      "total_tokens": 9 + len(WORDS)}})
    yield b"data: [DONE]\n\n"


def _anthropic(body: dict[str, Any]) -> Iterator[bytes]:
    message = {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "content": [],
               "model": body["model"], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 9, "output_tokens": 1}}
    yield _sse({"type": "message_start", "message": message}, "message_start")
    yield _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
               "content_block_start")
    for word in WORDS:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f" {word}"}}
        yield _sse(delta, "content_block_delta")
    yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    yield _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(WORDS)}}, "message_delta")
    yield _sse({"type": "message_stop"}, "message_stop")


def _overloaded(body: dict[str, Any]) -> Iterator[bytes]:
    """A stream Anthropic's API sends under load: it starts, then reports overloaded_error."""
    first = next(_anthropic(body))
    yield first
    yield _sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")


@contextmanager
def serving(habits: Habits) -> Iterator[str]:
    """The app on a free loopback port, in a thread of this process: yields its base URL."""
    config = uvicorn.Config(create_app(habits), host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="vendor-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the vendor app did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
