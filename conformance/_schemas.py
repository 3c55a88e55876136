"""The JSON Schemas: where they live is said only here.

They are the top-level ``schemas/`` directory of the source tree, installed as the package
``conformance.schemas`` (``pyproject.toml`` maps the directory there, for ``pip install .``
and ``pip install -e .`` alike): the built-in profiles, one directory each (``_profile.py``
loads them), and the schemas of the files the suite writes (the report, the saved transcript).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

__all__ = ["load_schema", "schemas_root"]


def schemas_root() -> Traversable:
    """The directory of the schemas, as installed."""
    return resources.files(f"{__package__}.schemas")


@cache
def _text(name: str) -> str:
    return schemas_root().joinpath(f"{name}.schema.json").read_text("utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) ``name`` ("report", "transcript"), a fresh copy."""
    return json.loads(_text(name))
