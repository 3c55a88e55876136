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
    fail_after_drop: bool = False  # the request after a dropped stream gets a 500
