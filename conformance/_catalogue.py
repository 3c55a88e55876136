"""Every requirement the suite judges, in catalogue order: the canonical exchange's rules,
then the probes that make their own exchanges."""

from __future__ import annotations

from . import _checks  # noqa: F401  (registers the rules)
from ._model import Requirement
from ._probes import PROBES
from ._rules import REGISTRY

__all__ = ["requirements"]


def requirements() -> list[Requirement]:
    return [cls.requirement for cls in REGISTRY.values()] + [r for p in PROBES for r in p.requirements]
