"""The JSON Schemas of the files the suite writes (the report, the saved transcript),
loaded from one place: where the schema files live is said only here."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["load_schema"]

SCHEMAS = "schemas"  # beside this module, in the installed package


@cache
def _text(name: str) -> str:
    return resources.files(__package__).joinpath(f"{SCHEMAS}/{name}.schema.json").read_text("utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) ``name`` ("report", "transcript"), a fresh copy."""
    return json.loads(_text(name))
