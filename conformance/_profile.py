"""Profiles: one API dialect each, as a directory of a ``profile.toml`` and JSON Schemas.

A built-in profile is such a directory under the top-level ``schemas/`` (found through
``_schemas.py``); ``--sse-profile`` also takes the path of a directory of the same shape.
``profile.toml`` is read strictly: an unknown key, a value of the wrong type or a file that
cannot be used is a :class:`ProfileError` naming the file and the key. The format is documented in the README
("Custom profiles"); ``anthropic-messages`` is written exactly as a custom profile would be.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from ._schemas import schemas_root
from ._vary import VaryPath, subschema

if TYPE_CHECKING:
    from ._parser_output import Event

__all__ = ["Profile", "ProfileError", "Terminator", "JsonPath", "RULESETS", "load_profile", "builtin_profiles"]

# The rule sets a profile may name in ``rules``: checks across chunks, one module each
# (``conformance/dialects/openai_chat.py``, ``anthropic_messages.py``, ``openai_responses.py``,
# ``gemini.py``). The registry refuses a rule of any other set.
RULESETS = ("openai-chat", "anthropic-messages", "openai-responses", "gemini")


class ProfileError(Exception):
    """A profile that cannot be loaded: missing file, bad TOML or JSON, invalid schema or key."""


class JsonPath:
    """A path into a JSON value: property names joined by dots, list indexes in brackets,
    e.g. ``choices[0].delta.content``. Looking it up yields None where the path leads nowhere."""

    _STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)((?:\[\d+\])*)")

    def __init__(self, text: str) -> None:
        steps: list[str | int] = []
        for part in text.split("."):
            match = self._STEP.fullmatch(part)
            if match is None:
                raise ValueError(f"{text!r} is not a path like 'choices[0].delta.content'")
            steps.append(match.group(1))
            steps.extend(int(i) for i in re.findall(r"\d+", match.group(2)))
        self.text = text
        self.steps = tuple(steps)

    def __call__(self, value: Any) -> Any:
        for step in self.steps:
            if isinstance(step, str):
                if not isinstance(value, dict):
                    return None
                value = value.get(step)
            elif isinstance(value, list) and step < len(value):
                value = value[step]
            else:
                return None
        return value

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"JsonPath({self.text!r})"


@dataclass(frozen=True)
class Terminator:
    """How a stream of the profile ends: an event whose data is ``data`` (``[DONE]``), an
    event named ``event`` (``message_stop``), or, with neither, the server closing the response."""

    data: str | None = None
    event: str | None = None

    @property
    def at_close(self) -> bool:
        return self.data is None and self.event is None

    def matches(self, event: Event) -> bool:
        if self.data is not None:
            return event.data == self.data
        return self.event is not None and event.type == self.event

    @property
    def label(self) -> str:
        """How messages name it: ``'[DONE]'``, ``event 'message_stop'``."""
        if self.data is not None:
            return repr(self.data)
        if self.event is not None:
            return f"event {self.event!r}"
        return "the end of the response"

    def __str__(self) -> str:
        if self.data is not None:
            return f"an event with data {self.data!r}"
        if self.event is not None:
            return f"an event named {self.event!r}"
        return "the end of the response"


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
    chunk_is_valid: Callable[[Any], bool]  # fast; on False, ask chunk_validator (see _fast_is_valid)
    error_validator: Validator
    request_validator: Validator
    terminator: Terminator
    id_path: JsonPath | None = None  # names the response, the same in every chunk
    text_path: JsonPath | None = None  # the text delta, concatenated in order by a client
    rules: tuple[str, ...] = ()  # rule sets across chunks (RULESETS)
    event_name: JsonPath | None = None  # each event is named after this value of its data
    ignored_events: frozenset[str] = frozenset()  # event names clients skip: not chunks
    error_event: str | None = None  # an event of this name reports an in-stream error
    error_property: str | None = None  # a chunk with this property (truthy) reports one
    # Error types, codes or statuses that mean "not now" (overloaded): such an error inside a
    # stream is retried, as a 529 would be, rather than held against the endpoint at once.
    busy_errors: frozenset[str] = frozenset()
    # Where drawn requests vary the canonical one: JSON path -> a schema narrowing what is drawn there.
    vary: dict[str, dict[str, Any]] = field(default_factory=dict)

    def is_terminator(self, event: Event) -> bool:
        return self.terminator.matches(event)

    @property
    def reports_errors(self) -> bool:
        """The profile says how an error is reported inside a stream."""
        return self.error_event is not None or self.error_property is not None

    def is_error(self, event: Event, value: Any) -> bool:
        """The event reports an in-stream error, as the profile's ``[errors]`` says."""
        if self.error_event is not None and event.type == self.error_event:
            return True
        prop = self.error_property
        return prop is not None and isinstance(value, dict) and bool(value.get(prop))

    def busy_error(self, value: Any) -> str | None:
        """The "not now" marker an in-stream error carries (its type, code or status, at the
        top or under ``error``), if the profile names it in ``[errors] busy``."""
        if not self.busy_errors or not isinstance(value, dict):
            return None
        for holder in (value, value.get("error")):
            if isinstance(holder, dict):
                for key in ("type", "code", "status"):
                    if isinstance(marker := holder.get(key), str) and marker in self.busy_errors:
                        return marker
        return None

    def is_chunk(self, event: Event, value: Any) -> bool:
        """The event carries a chunk: not an ignored event (``ping``), not an error."""
        return event.type not in self.ignored_events and not self.is_error(event, value)

    def id_of(self, value: Any) -> Any:
        return None if self.id_path is None else self.id_path(value)

    def text_of(self, value: Any) -> str | None:
        """The chunk's text delta, or None if it carries none."""
        text = None if self.text_path is None else self.text_path(value)
        return text if isinstance(text, str) else None


def builtin_profiles() -> list[str]:
    return sorted(p.name for p in schemas_root().iterdir() if (p / "profile.toml").is_file())


def load_profile(name_or_dir: str) -> Profile:
    """Load a built-in profile by name, or a profile directory by path."""
    directory = Path(name_or_dir)
    if not (directory / "profile.toml").is_file():
        if name_or_dir not in builtin_profiles():
            hint = f"; {directory} has no profile.toml" if directory.is_dir() else ""
            raise ProfileError(
                f"unknown profile {name_or_dir!r}: not a built-in ({', '.join(builtin_profiles())}) "
                f"and not a directory holding profile.toml{hint}"
            )
        directory = Path(str(schemas_root() / name_or_dir))
    return _Loader(directory).load()


# The keys profile.toml may hold: top-level keys, and each table's keys.
_KEYS = {"name", "title", "source", "path", "example", "rules", "schemas", "terminator", "chunk", "events", "errors",
         "requests"}
_TABLES = {
    "schemas": {"request", "chunk", "error"},
    "terminator": {"data", "event", "end"},
    "chunk": {"id", "text"},
    "events": {"name", "ignore"},
    "errors": {"event", "property", "busy"},
    "requests": {"vary"},
}


class _Loader:
    """Reads one profile directory; every error names the file and the key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.file = directory / "profile.toml"

    def error(self, key: str, problem: str) -> ProfileError:
        return ProfileError(f"{self.file}: key {key!r}: {problem}")

    def load(self) -> Profile:
        try:
            meta = tomllib.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ProfileError(f"{self.file}: {exc}") from exc
        self.known(meta, _KEYS, "")
        tables = {name: self.table(meta, name) for name in _TABLES}
        schemas = tables["schemas"]
        request_schema = self.schema(schemas, "request")
        request_validator = _validator(request_schema)
        example_name = self.string(meta, "example") or "example.json"
        example = self.json_file("example", example_name)
        if not isinstance(example, dict):
            raise self.error("example", f"{example_name} must hold a JSON object")
        problem = best_match(request_validator.iter_errors(example))
        if problem is not None:
            raise self.error("example", f"{example_name} does not match the request schema at "
                                        f"{problem.json_path}: {problem.message}")
        path = self.string(meta, "path") or "/"
        if not path.startswith("/"):
            raise self.error("path", f"expected a URL path starting with '/', got {path!r}")
        events, errors, chunk = tables["events"], tables["errors"], tables["chunk"]
        if "event" in errors and "property" in errors:
            raise self.error("errors", "give one of event or property, not both")
        chunk_schema = self.schema(schemas, "chunk")
        chunk_validator = _validator(chunk_schema)
        return Profile(
            name=self.string(meta, "name") or self.directory.name,
            title=self.string(meta, "title") or self.directory.name,
            source=self.string(meta, "source") or str(self.file),
            directory=self.directory,
            path=path,
            example=example,
            request_schema=request_schema,
            request_validator=request_validator,
            chunk_validator=chunk_validator,
            chunk_is_valid=_fast_is_valid(chunk_schema, chunk_validator),
            error_validator=_validator(self.schema(schemas, "error")),
            terminator=self.terminator(tables["terminator"]),
            id_path=self.path(chunk, "chunk.id"),
            text_path=self.path(chunk, "chunk.text"),
            rules=self.rules(meta),
            event_name=self.path(events, "events.name"),
            ignored_events=frozenset(self.strings(events, "events.ignore")),
            error_event=self.string(errors, "errors.event"),
            error_property=self.string(errors, "errors.property"),
            busy_errors=frozenset(self.strings(errors, "errors.busy")),
            vary=self.vary(tables["requests"], request_schema),
        )

    # -- keys ---------------------------------------------------------------------------

    def known(self, table: dict[str, Any], keys: set[str], prefix: str) -> None:
        unknown = sorted(set(table) - keys)
        if unknown:
            raise self.error(prefix + unknown[0], f"unknown key; expected one of {', '.join(sorted(keys))}")

    def table(self, meta: dict[str, Any], name: str) -> dict[str, Any]:
        table = meta.get(name, {})
        if not isinstance(table, dict):
            raise self.error(name, f"expected a table [{name}], got {type(table).__name__}")
        self.known(table, _TABLES[name], name + ".")
        return table

    def string(self, table: dict[str, Any], key: str) -> str | None:
        value = table.get(key.rpartition(".")[2])
        if value is not None and (not isinstance(value, str) or not value):
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value

    def strings(self, table: dict[str, Any], key: str) -> list[str]:
        value = table.get(key.rpartition(".")[2], [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, f"expected a list of non-empty strings, got {value!r}")
        return value

    def path(self, table: dict[str, Any], key: str) -> JsonPath | None:
        text = self.string(table, key)
        if text is None:
            return None
        try:
            return JsonPath(text)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def rules(self, meta: dict[str, Any]) -> tuple[str, ...]:
        names = self.strings(meta, "rules")
        for name in names:
            if name not in RULESETS:
                raise self.error("rules", f"unknown rule set {name!r}; known: {', '.join(RULESETS)}")
        return tuple(names)

    def vary(self, table: dict[str, Any], request_schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
        vary = table.get("vary", {})
        if not isinstance(vary, dict):
            raise self.error("requests.vary", "expected a table of JSON path = schema, e.g. "
                             "\"messages[*].content\" = {type = \"string\"}")
        for text, narrowing in vary.items():
            key = f"requests.vary.{text}"
            try:
                path = VaryPath(text)
            except ValueError as exc:
                raise self.error(key, str(exc)) from None
            if not isinstance(narrowing, dict):
                raise self.error(key, f"expected a schema table ({{}} to draw from the request schema as is), "
                                      f"got {narrowing!r}")
            try:
                jsonschema.Draft202012Validator.check_schema(narrowing)
            except jsonschema.SchemaError as exc:
                raise self.error(key, f"not a valid JSON Schema at {exc.json_path}: {exc.message}") from None
            if subschema(request_schema, path) is None:
                raise self.error(key, "the request schema names no property or item there, so nothing "
                                      "says what may be drawn for it")
        return vary

    def terminator(self, table: dict[str, Any]) -> Terminator:
        expected = "give exactly one of data = \"[DONE]\", event = \"message_stop\" or end = true"
        if len(table) != 1:
            raise self.error("terminator", f"{expected} (found {', '.join(sorted(table)) or 'none'})")
        if "end" in table:
            if table["end"] is not True:
                raise self.error("terminator.end", f"expected true, got {table['end']!r}")
            return Terminator()
        data, event = self.string(table, "terminator.data"), self.string(table, "terminator.event")
        return Terminator(data=data, event=event)

    # -- files --------------------------------------------------------------------------

    def json_file(self, key: str, name: str) -> Any:
        path = self.directory / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise self.error(key, f"cannot read {path} ({exc.strerror})") from None
        except ValueError as exc:
            raise self.error(key, f"{path} is not JSON ({exc})") from None

    def schema(self, schemas: dict[str, Any], kind: str) -> dict[str, Any]:
        key = f"schemas.{kind}"
        name = self.string(schemas, key) or f"{kind}.schema.json"
        schema = self.json_file(key, name)
        if not isinstance(schema, dict):
            raise self.error(key, f"{name} must hold a JSON Schema object")
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise self.error(key, f"{name} is not a valid JSON Schema at {exc.json_path}: {exc.message}") from None
        return schema


def _validator(schema: dict[str, Any]) -> Validator:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def _refuse_retrieval(uri: str) -> Any:
    raise ProfileError(f"the schema refers to {uri}, and schemas are never fetched")


def _fast_is_valid(schema: dict[str, Any], validator: Validator) -> Callable[[Any], bool]:
    """A check of every chunk against ``schema`` that is fast enough for a long stream.

    jsonschema-rs (compiled) validates a chunk some 40 times faster than jsonschema.
    ``validator`` (jsonschema) stays the reference: it has the last word when the fast
    check says no (the two differ at the edges: NaN is a number to one, not the other),
    and it explains every failure. A schema jsonschema-rs cannot compile leaves
    ``validator`` to do it all. Formats are annotations only, as in jsonschema.
    """
    try:
        fast = jsonschema_rs.validator_for(schema, validate_formats=False, retriever=_refuse_retrieval)
    except (jsonschema_rs.ValidationError, ValueError):
        return validator.is_valid

    def is_valid(instance: Any) -> bool:
        try:
            return fast.is_valid(instance)
        except (ValueError, OverflowError, RecursionError):  # an instance it cannot take in
            return validator.is_valid(instance)

    return is_valid
