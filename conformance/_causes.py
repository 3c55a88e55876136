"""Plain-words causes for transport errors: what an engineer reads first when the target
could not be reached or the connection broke, followed by the error as raised."""

from __future__ import annotations

import errno
import socket
import ssl
import sys
import zlib

import httpx

__all__ = ["transport_cause", "unreachable", "RecordedCause"]


class RecordedCause(Exception):
    """An error as a saved transcript recorded it, raised again by a replay: its cause is
    the recorded text, and whether no connection could be made."""

    def __init__(self, cause: str, unreachable: bool = False) -> None:
        super().__init__(cause)
        self.cause = cause
        self.unreachable = unreachable


def _leaf(exc: BaseException) -> BaseException:
    """The first error a group holds, however deeply nested: a task group (anyio, in the
    transport) raises its errors wrapped in an ExceptionGroup."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and everything it was raised from, outermost first, groups unwrapped."""
    chain = [_leaf(exc)]
    while (inner := chain[-1].__cause__ or chain[-1].__context__) is not None and _leaf(inner) not in chain:
        chain.append(_leaf(inner))
    return chain


def _plain(error: BaseException) -> str | None:
    if isinstance(error, ssl.SSLError):
        hint = ": the port may speak plain HTTP" if "WRONG_VERSION_NUMBER" in str(error) else ""
        return f"TLS handshake failed{hint}"
    if isinstance(error, socket.gaierror):
        return "the host name did not resolve"
    if isinstance(error, ConnectionRefusedError) or getattr(error, "errno", None) == errno.ECONNREFUSED:
        return "connection refused: nothing is listening on that port"
    if isinstance(error, ConnectionResetError) or getattr(error, "errno", None) == errno.ECONNRESET:
        return "reset by the peer"
    if isinstance(error, OverflowError) and "port" in str(error):
        return "the port is out of range: ports run from 1 to 65535"
    if isinstance(error, zlib.error):  # raised by the transports' own inflating
        return "the body is not what its Content-Encoding says: it does not inflate"
    return None


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def transport_cause(exc: BaseException) -> str:
    """One line: the cause in plain words where it is known, with the error behind it;
    otherwise the error as raised and its innermost reason."""
    if isinstance(exc, RecordedCause):
        return exc.cause
    chain = _chain(exc)
    exc = chain[0]
    for error in reversed(chain):  # the innermost error knows the cause best
        plain = _plain(error)
        if plain is not None:
            return f"{plain} ({_text(error)})"
    text, inner = _text(exc), chain[-1]
    if inner is not exc and str(inner) and str(inner) not in text:
        text += f" ({inner})"
    return text


_CONNECT_ERRNOS = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}


def unreachable(exc: BaseException) -> bool:
    """Whether no connection could be made at all (nothing listens, the name does not
    resolve, no route, TLS refused): the target could not be asked, so it cannot be judged.
    A connection made and then dropped, or left silent, is the target's doing, not this."""
    for error in _chain(exc):
        if isinstance(error, RecordedCause):
            return error.unreachable
        if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, socket.gaierror, ssl.SSLError)):
            return True
        aiohttp = sys.modules.get("aiohttp")  # the concurrent transport, when it was imported
        if aiohttp is not None and isinstance(error, aiohttp.ClientConnectorError):
            return True
        if isinstance(error, OSError) and error.errno in _CONNECT_ERRNOS:
            return True
    return False
