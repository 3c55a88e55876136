"""The dialects the reference server speaks, one module each, named as the dialect is
everywhere: the profile ``openai-chat`` (``schemas/openai-chat/``), its rule set in
``conformance/dialects/openai_chat.py``, and here ``openai_chat.py``: the plan of a correct
stream, the body of an error, and the faults that each break one rule of it, gathered in the
module's ``DIALECT`` (``_dialect.py``). ``openai_responses.py`` serves two (``OPEN_DIALECT``:
open-responses); ``simple.py`` keeps its many faults in the ``simple_*`` modules beside it.

To add a dialect: its profile under ``schemas/``, a module here with its ``DIALECT``, and a
line in DIALECTS below. Every dialect then plays the real vendors' habits too (``vendors.py``).
"""

from __future__ import annotations

import re

from conformance import load_profile

from .. import vendors
from . import anthropic_messages, gemini, openai_chat, openai_responses, simple
from ._dialect import Dialect, ErrorBody
from .simple_variants import FRAMING

__all__ = ["Dialect", "ErrorBody", "DIALECTS", "dialect_for", "FRAMING"]

# By the path each is served at. The order is GET /faults' order.
DIALECTS: dict[str, Dialect] = {
    d.route: d
    for d in (
        simple.DIALECT,
        openai_chat.DIALECT,
        anthropic_messages.DIALECT,
        openai_responses.DIALECT,
        openai_responses.OPEN_DIALECT,
        gemini.DIALECT,
    )
}


def dialect_for(path: str) -> Dialect | None:
    """The dialect served at ``path`` (a profile's path: its query left aside, a template's
    ``{model}`` matching any model), or None."""
    path = path.partition("?")[0]
    if path in DIALECTS:
        return DIALECTS[path]
    for template, dialect in DIALECTS.items():
        if "{" in template and re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)), path):
            return dialect
    return None


for _dialect in DIALECTS.values():  # every dialect plays real vendors' habits too
    vendors.register(_dialect.faults, _dialect.profile, load_profile(_dialect.profile).example)
# The dialects of the SDKs the interop step runs take simple's framing variants too (the same
# Fault, its own of a name kept), so that each SDK is shown reading them.
for _sdk in (openai_chat.DIALECT, anthropic_messages.DIALECT, openai_responses.DIALECT):
    for _name in FRAMING:
        _sdk.faults.setdefault(_name, simple.FAULTS[_name])
