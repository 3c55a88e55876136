"""Every requirement the suite judges, in catalogue order: the canonical exchange's rules,
then the probes that make their own exchanges, then the client libraries of the interop step."""

from __future__ import annotations

# Importing the checks registers them; the order of the modules is the catalogue's order.
from . import _checks_http, _checks_frame, _checks_done, _checks_delivery, _checks_events  # noqa: F401, I001
from .dialects import openai_chat, anthropic_messages, openai_responses, gemini  # noqa: F401, I001
from . import _probes_drawn, _probes_bad, _probes_lifecycle  # noqa: F401, I001
from ._interop_clients import interop_requirements
from ._model import Requirement
from ._probes import PROBES
from ._profile import Profile
from ._rules import REGISTRY, applicable

__all__ = ["requirements"]


def requirements(profile: Profile | None = None) -> list[Requirement]:
    """All of them, or those checked for ``profile`` (a dialect's rule set, and an SDK's
    interop requirement, only where it is named)."""
    rules = REGISTRY if profile is None else applicable(profile)
    return ([cls.requirement for cls in rules.values()] + [r for p in PROBES for r in p.requirements]
            + interop_requirements(None if profile is None else profile.rules))
