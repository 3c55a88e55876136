"""Runs one Python client library against URLs that serve an event stream, one after the
other, and prints what it delivered from each: a JSON line per item (``{"at": N, "item": ...}``,
N the URL's place), then ``{"at": N, "end": true}``, or ``{"at": N, "error": "Type: message"}``
if it raised. The suite starts it (``_interop_clients.py``) as

    python client.py CLIENT PROFILE URL...

each client in a process of its own: one that hangs or spins is killed at the interop step's
deadline, and its imports stay out of the suite's process. It is used as a user would use it:
the SDK's streaming call for the profile's API, the SSE libraries over their usual HTTP client.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

MESSAGES = [{"role": "user", "content": "interop"}]
RESPONSES = ("openai-responses", "open-responses")


def openai_python(url: str, profile: str) -> Iterator[Any]:
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key="interop", max_retries=0)
    if profile in RESPONSES:
        stream: Any = client.responses.create(model="interop", input="interop", stream=True)
    else:
        stream = client.chat.completions.create(
            model="interop", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    for chunk in stream:
        yield chunk.to_dict()


def anthropic_python(url: str, profile: str) -> Iterator[Any]:
    import anthropic

    client = anthropic.Anthropic(base_url=url, api_key="interop", max_retries=0)
    stream = client.messages.create(model="interop", max_tokens=64, messages=MESSAGES, stream=True)  # type: ignore
    for event in stream:
        yield event.to_dict()


def httpx_sse(url: str, profile: str) -> Iterator[Any]:
    import httpx
    from httpx_sse import connect_sse

    with httpx.Client(timeout=None) as client, connect_sse(client, "POST", url, json={}) as source:
        for sse in source.iter_sse():
            yield [sse.event, sse.data]


def sseclient_py(url: str, profile: str) -> Iterator[Any]:
    import requests
    import sseclient

    response = requests.post(url, json={}, stream=True, headers={"Accept": "text/event-stream"})
    for event in sseclient.SSEClient(response).events():  # type: ignore[arg-type]
        yield [event.event, event.data]


CLIENTS: dict[str, Callable[[str, str], Iterator[Any]]] = {
    "openai-python": openai_python,
    "anthropic-python": anthropic_python,
    "httpx-sse": httpx_sse,
    "sseclient-py": sseclient_py,
}


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")  # ASCII: no U+2028 for a reader to split at
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    name, profile, *urls = argv[1:]
    for at, url in enumerate(urls):
        try:
            for item in CLIENTS[name](url, profile):
                say({"at": at, "item": item})
        except Exception as exc:  # noqa: BLE001 - what the client raised is the finding
            text = str(exc).splitlines()[0] if str(exc) else ""
            say({"at": at, "error": f"{type(exc).__name__}: {text}"[:300]})
        else:
            say({"at": at, "end": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
