"""How the reference server treats a request before it plans a stream. Correct by
default; request-stage faults loosen or break one rule of it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Handling"]


@dataclass
class Handling:
    methods: tuple[str, ...] = ("POST",)
    allow_header: bool = True  # a 405 names the allowed methods
    require_json_content_type: bool = True  # anything else gets 415
    reject_bad_json: bool = True  # a body that is not a JSON object gets a 4xx (False: stream anyway)
    bad_json_status: int = 400
    validate_schema: bool = True  # a body breaking the request schema gets 400
    error_json: bool = True  # error bodies are JSON matching the error schema (False: plain text)
    response_id: str | None = None  # None: a fresh id per response
    fail_after_drop: bool = False  # the next request like a dropped stream's gets a 500
    # Real vendors' habits (vendors.py): all off by default.
    api_key: tuple[str, str] | None = None  # (header, value) every request must carry, else 401
    known_model: str | None = None  # the one model served; a request naming another gets 404
    stream_limit: int | None = None  # streams served at once; more get 429 with Retry-After
    refuse: tuple[int, str | None] | None = None  # (status, Retry-After): every request answered so
