"""The requirement catalogue: stable, well-formed IDs, and the README's table in sync."""

from __future__ import annotations

import re
from pathlib import Path

from conformance import REGISTRY, Level
from conformance.__main__ import requirements_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_ids_are_area_name_and_match_their_rule():
    for rid, cls in REGISTRY.items():
        assert re.fullmatch(r"(HTTP|FRAME|PAYLOAD|DONE|DELIVERY)(-[A-Z0-9]+)+", rid), rid
        assert cls.requirement.id == rid
        assert cls.requirement.level in Level
        assert cls.requirement.title and cls.requirement.source


def test_readme_lists_the_catalogue_as_generated():
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- requirements:start -->\n", 1)[1].split("\n<!-- requirements:end -->", 1)[0]
    assert block == requirements_table(), "run: python -m conformance requirements, and paste into README.md"
