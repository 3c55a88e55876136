"""Parser throughput: this project's parser against the Python SSE decoders people use.

    python benchmarks/parser.py [--events N] [--rounds N]

The corpus (see ``_common.corpus``) is held in memory and fed in 4 KiB pieces, as a
socket would give it; each contender turns the pieces into events and counts them. The
corpora frame the same events several ways: plain ``data:`` events with LF line endings,
or CRLF; named events with an id on each (``event: delta`` / ``id: N`` / ``data: ...``,
the way Anthropic's and OpenAI's Responses streams name every event), LF or CRLF; named
events without ids; a keep-alive comment block before every event, LF or CRLF; a
comment line inside every event. The competitors are the benchmark extras (``pip install -e
'.[bench]'``); a missing one is left out of the table. ``bytes.split`` is not a parser:
it is the ceiling for pure Python.
"""

from __future__ import annotations

import argparse
import codecs
from collections.abc import Callable

from _common import PIECE, content, corpus, machine, median, pieces, race, table

from conformance import EventStreamParser


def ours(chunks: list[bytes]) -> int:
    parser = EventStreamParser(max_line=1 << 20, max_event=8 << 20)
    n = 0
    for i, chunk in enumerate(chunks):
        n += len(parser.feed(chunk, float(i)))
    parser.close()
    return n


def httpx_sse(chunks: list[bytes]) -> int:
    # What EventSource.iter_sse does with a response, minus the HTTP: httpx decodes the
    # bytes incrementally to text, SSELineDecoder splits lines, SSEDecoder makes events.
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text_decoder = codecs.getincrementaldecoder("utf-8")("replace")
    lines, decoder = SSELineDecoder(), SSEDecoder()
    n = 0
    for chunk in chunks:
        for line in lines.decode(text_decoder.decode(chunk)):
            if decoder.decode(line.rstrip("\n")) is not None:
                n += 1
    for line in lines.flush():
        if decoder.decode(line.rstrip("\n")) is not None:
            n += 1
    return n


def sseclient_py(chunks: list[bytes]) -> int:
    import sseclient

    class Source(list):
        def close(self) -> None:
            pass

    return sum(1 for _ in sseclient.SSEClient(Source(chunks)).events())


def openai_sse(chunks: list[bytes]) -> int:
    from openai._streaming import SSEDecoder

    return sum(1 for _ in SSEDecoder().iter_bytes(iter(chunks)))


def split_ceiling(chunks: list[bytes], blank: bytes) -> int:
    """Cut at blank lines and touch each event once: no parsing at all."""
    rest, n = b"", 0
    for chunk in chunks:
        parts = (rest + chunk).split(blank)
        rest = parts.pop()
        for _ in parts:
            n += 1
    return n


def named_corpus(events: int, eol: str = "\n", ids: bool = True) -> bytes:
    """The events of ``_common.corpus``, each named (``event: delta``) and, with ``ids``,
    numbered (``id: N``) before its data line, as Anthropic and OpenAI Responses send them."""
    parts = []
    for i in range(events):
        id_line = f"id: {i}{eol}" if ids else ""
        parts.append(f'event: delta{eol}{id_line}data: {{"id":"msg_001","content":"{content(i)}"}}{eol}{eol}')
    return "".join(parts).encode()


# Every corpus: how to make it, and its blank line (for the ceiling).
VARIANTS: dict[str, tuple[Callable[[int], bytes], bytes]] = {
    "LF": (corpus, b"\n\n"),
    "CRLF": (lambda n: corpus(n, eol="\r\n"), b"\r\n\r\n"),
    "named+id": (named_corpus, b"\n\n"),
    "named+id CRLF": (lambda n: named_corpus(n, eol="\r\n"), b"\r\n\r\n"),
    "named": (lambda n: named_corpus(n, ids=False), b"\n\n"),
    "comment blocks": (lambda n: corpus(n, comments="blocks"), b"\n\n"),
    "comment blocks CRLF": (lambda n: corpus(n, eol="\r\n", comments="blocks"), b"\r\n\r\n"),
    "comment lines": (lambda n: corpus(n, comments="lines"), b"\n\n"),
}

COMPETITORS: dict[str, tuple[str, Callable[[list[bytes]], int]]] = {
    "httpx-sse": ("httpx_sse", httpx_sse),
    "sseclient-py": ("sseclient", sseclient_py),
    "openai SSEDecoder": ("openai", openai_sse),
}


def available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--events", type=int, default=1_000_000)
    cli.add_argument("--rounds", type=int, default=7)
    cli.add_argument("--all-variants", action="store_true",
                     help="run every competitor on every corpus, not only on LF (slow)")
    cli.add_argument("--variants", default=",".join(VARIANTS),
                     help=f"comma-separated corpora to run (default: all of {', '.join(VARIANTS)})")
    args = cli.parse_args()
    print(f"machine: {machine()}")
    print(f"{args.events} events per corpus, {PIECE}-byte pieces, median of {args.rounds} interleaved rounds\n")
    rows, ratios = [], []
    for variant in args.variants.split(","):
        make, blank = VARIANTS[variant]
        body = make(args.events)
        chunks = pieces(body)
        contenders: dict[str, Callable[[], int]] = {"sse-conformance": lambda c=chunks: ours(c)}
        for name, (module, fn) in COMPETITORS.items():
            if available(module) and (name == "httpx-sse" or variant == "LF" or args.all_variants):
                contenders[name] = lambda c=chunks, fn=fn: fn(c)
        contenders["bytes.split (ceiling)"] = lambda c=chunks, b=blank: split_ceiling(c, b)
        times = race(contenders, args.rounds)
        mb = len(body) / 1e6
        for name, runs in times.items():
            t = median(runs)
            rows.append([f"{variant}: {name}", f"{mb:.1f}", f"{t:.3f}", f"{mb / t:.1f}",
                         f"{args.events / t / 1e3:.0f}k"])
        if "httpx-sse" in times:
            ratio = median(times["httpx-sse"]) / median(times["sse-conformance"])
            ratios.append(f"{variant}: sse-conformance is {ratio:.2f}x httpx-sse's speed (goal: 2x)")
        print(f"  {variant} done", flush=True)
    print()
    print(table(["corpus: decoder", "MB", "s", "MB/s", "events/s"], rows))
    print()
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
