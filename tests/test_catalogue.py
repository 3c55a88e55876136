"""The requirement catalogue: stable, well-formed IDs, and the README's table in sync."""

from __future__ import annotations

import re
from pathlib import Path

from conformance import REGISTRY, Level
from conformance.__main__ import requirements_table
from conformance._catalogue import requirements

README = Path(__file__).resolve().parent.parent / "README.md"
AREAS = {"openai-responses": "RESPONSES"}


def test_ids_are_area_name_and_unique():
    ids = [r.id for r in requirements()]
    assert len(ids) == len(set(ids))
    for req in requirements():
        assert req.level in Level
        assert req.title and req.source
    for rid, cls in REGISTRY.items():
        # A rule of a dialect's rule set is named after the dialect (openai-chat: OPENAI-...; the
        # Responses API's, which OpenAI shares with chat completions, by its own: RESPONSES-...).
        area = AREAS.get(cls.ruleset, cls.ruleset.split("-")[0].upper()) if cls.ruleset else \
            "HTTP|FRAME|PAYLOAD|DONE|DELIVERY"
        assert re.fullmatch(rf"({area})(-[A-Z0-9]+)+", rid), rid
        assert cls.requirement.id == rid
    for req in requirements():
        if req.id not in REGISTRY:  # the probes' own requests, and the interop step's client libraries
            area = "INTEROP" if req.level is Level.INTEROP else "REQUEST|LIFECYCLE"
            assert re.fullmatch(rf"({area})(-[A-Z0-9]+)+", req.id), req.id


def test_readme_lists_the_catalogue_as_generated():
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- requirements:start -->\n", 1)[1].split("\n<!-- requirements:end -->", 1)[0]
    assert block == requirements_table(), "run: python -m conformance requirements, and paste into README.md"
