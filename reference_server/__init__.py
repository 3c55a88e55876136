"""The sse-conformance reference server: streams every built-in profile correctly, or
breaks one rule on purpose when a fault is named in the URL."""

from .app import ANSWER, create_app
from .encoder import encode_event
from .dialects.simple import FAULTS
from .faults import Fault
from .serve import ServerThread

__all__ = ["create_app", "encode_event", "FAULTS", "Fault", "ServerThread", "ANSWER"]
