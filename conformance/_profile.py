"""Profiles: one API dialect each, as a directory of a ``profile.toml`` and JSON Schemas.

A built-in profile is such a directory under ``conformance/profiles/``; ``--sse-profile``
also takes the path of a directory of the same shape.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

__all__ = ["Profile", "ProfileError", "load_profile", "builtin_profiles"]


class ProfileError(Exception):
    """A profile that cannot be loaded: missing file, bad TOML or JSON, invalid schema."""


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    source: str
    directory: Path
    path: str  # where the reference server serves it
    example: dict[str, Any]  # the canonical request body
    request_schema: dict[str, Any]
    chunk_validator: Validator
    error_validator: Validator
    request_validator: Validator
    terminator: str | None  # data of the event that ends the stream
    id_field: str | None  # chunk property naming the response
    text_field: str | None  # chunk property holding the text delta

    def is_terminator(self, data: str) -> bool:
        return data == self.terminator


def builtin_profiles() -> list[str]:
    root = resources.files("conformance") / "profiles"
    return sorted(p.name for p in root.iterdir() if (p / "profile.toml").is_file())


def load_profile(name_or_dir: str) -> Profile:
    """Load a built-in profile by name, or a profile directory by path."""
    directory = Path(name_or_dir)
    if not (directory / "profile.toml").is_file():
        if name_or_dir not in builtin_profiles():
            raise ProfileError(
                f"unknown profile {name_or_dir!r}: not a built-in ({', '.join(builtin_profiles())}) "
                "and not a directory holding profile.toml"
            )
        directory = Path(str(resources.files("conformance") / "profiles" / name_or_dir))
    meta_file = directory / "profile.toml"
    try:
        meta = tomllib.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{meta_file}: {exc}") from exc
    schemas = meta.get("schemas", {})
    chunk = meta.get("chunk", {})
    request_schema = _load_schema(directory, schemas, "request")
    return Profile(
        name=meta.get("name", directory.name),
        title=meta.get("title", directory.name),
        source=meta.get("source", str(meta_file)),
        directory=directory,
        path=meta.get("path", "/"),
        example=_load_json(directory / meta.get("example", "example.json")),
        request_schema=request_schema,
        request_validator=_validator(request_schema),
        chunk_validator=_validator(_load_schema(directory, schemas, "chunk")),
        error_validator=_validator(_load_schema(directory, schemas, "error")),
        terminator=meta.get("terminator", {}).get("data"),
        id_field=chunk.get("id"),
        text_field=chunk.get("text"),
    )


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc


def _load_schema(directory: Path, schemas: dict[str, str], kind: str) -> dict[str, Any]:
    path = directory / schemas.get(kind, f"{kind}.schema.json")
    schema = _load_json(path)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ProfileError(f"{path}: not a valid JSON Schema: {exc.message}") from exc
    return schema


def _validator(schema: dict[str, Any]) -> Validator:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)
