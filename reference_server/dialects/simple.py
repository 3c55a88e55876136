"""The ``simple`` dialect: ``POST /chat/stream`` streamed as the protocol document describes,
``data: {"id": ..., "content": ...}`` events ended by ``data: [DONE]``, and its faults.

Its faults are the framing, HTTP, delivery and request-handling faults every check of the
suite is shown failing on, too many for one module: ``simple_faults_stream.py`` (what the stream
says), ``simple_faults_serving.py`` (how it is served) and ``simple_variants.py`` (legal
responses the suite must pass), combined here in that order.
"""

from __future__ import annotations

from typing import Any

from ..faults import Fault, combine
from ..plan import Plan
from ..text import answer_for, pieces
from . import simple_faults_serving, simple_faults_stream, simple_variants
from ._dialect import Dialect

__all__ = ["DIALECT", "FAULTS", "make_plan", "error_body"]


def make_plan(body: dict[str, Any], response_id: str, n_chunks: int) -> Plan:
    text = answer_for(body["prompt"])
    return Plan(chunks=[{"id": response_id, "content": piece} for piece in pieces(text, n_chunks)])


def error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


FAULTS: dict[str, Fault] = combine(simple_faults_stream.FAULTS, simple_faults_serving.FAULTS, simple_variants.FAULTS)

DIALECT = Dialect("/chat/stream", "simple", make_plan, FAULTS, error_body)
