"""What a dialect module gives the server: the record every module in ``dialects/`` fills in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..faults import Fault
from ..plan import Plan

__all__ = ["Dialect", "ErrorBody"]

ErrorBody = Callable[[str, str], dict[str, Any]]  # (message, kind) -> the JSON body of an error


@dataclass(frozen=True)
class Dialect:
    route: str  # the path it is served at: a template where the path names the model (``{model}``)
    profile: str  # the built-in profile it speaks
    plan: Callable[[dict[str, Any], str, int], Plan]  # (request body, response id, chunks) -> a correct plan
    faults: dict[str, Fault]  # the faults ?fault= may name on its path
    error_body: ErrorBody  # the body of its 4xx answers and in-stream errors
    # Changes the plan as the request's URL asks, before any fault (the model Gemini's path names).
    adapt: Callable[[Plan, Request], None] | None = None
