"""Long streams through the whole suite: transcript, every check, chunk schema validation.

    python benchmarks/suite_throughput.py [--events N] [--rounds N]

The stream (``_common.corpus`` with a ``[DONE]`` terminator) is served from memory by
httpx's ``MockTransport`` in 4 KiB pieces, so what is timed is the client's work, not a
server's or the network's. Contenders:

- the suite: ``capture()`` with every rule watching, then ``judge()``, as
  ``pytest --target`` runs it (every requirement must pass);
- httpx-sse's decoder and ``json.loads`` on each payload, from memory (the baseline of
  the goal: the suite may take at most twice its time);
- the same through ``aconnect_sse`` over the same transport (the HTTP layer included);
- this project's parser alone, for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import json

import httpx
from _common import PIECE, corpus, machine, median, pieces, race, table

from conformance import EventStreamParser, Limits, RequestSpec, capture, load_profile
from conformance._rules import Outcome, instantiate, judge, watching
from conformance._transcript import Evidence
from conformance._transport import HttpxTransport

HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


def transport(chunks: list[bytes]) -> httpx.MockTransport:
    async def body():
        for chunk in chunks:
            yield chunk

    return httpx.MockTransport(lambda request: httpx.Response(200, headers=HEADERS, content=body()))


def suite(chunks: list[bytes]) -> int:
    profile = load_profile("simple")
    limits = Limits(max_body=1 << 40)
    evidence = Evidence()
    rules = instantiate(profile, limits, evidence)

    async def run():
        async with HttpxTransport(httpx.AsyncClient(transport=transport(chunks))) as client:
            request = RequestSpec("http://target.invalid/chat/stream", json.dumps(profile.example).encode())
            return await capture(client, request, profile, limits, watching(rules), evidence)

    transcript = asyncio.run(run())
    failed = [v.requirement.id for v in judge(rules, transcript) if v.outcome is Outcome.FAILED]
    if failed:
        raise AssertionError(f"the suite failed {failed} on the benchmark stream")
    return transcript.events


def httpx_sse_json(chunks: list[bytes]) -> int:
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text_decoder = codecs.getincrementaldecoder("utf-8")("replace")
    lines, decoder = SSELineDecoder(), SSEDecoder()
    n = 0
    for chunk in chunks:
        for line in lines.decode(text_decoder.decode(chunk)):
            sse = decoder.decode(line.rstrip("\n"))
            if sse is not None:
                n += 1
                if sse.data != "[DONE]":
                    json.loads(sse.data)
    return n


def httpx_sse_over_httpx(chunks: list[bytes]) -> int:
    from httpx_sse import aconnect_sse

    async def run() -> int:
        n = 0
        async with HttpxTransport(httpx.AsyncClient(transport=transport(chunks))) as client:
            async with aconnect_sse(client.client, "POST", "http://target.invalid/chat/stream", json={}) as source:
                async for sse in source.aiter_sse():
                    n += 1
                    if sse.data != "[DONE]":
                        json.loads(sse.data)
        return n

    return asyncio.run(run())


def parser_only(chunks: list[bytes]) -> int:
    parser = EventStreamParser()
    return sum(len(parser.feed(chunk, float(i))) for i, chunk in enumerate(chunks))


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--events", type=int, default=1_000_000)
    cli.add_argument("--rounds", type=int, default=5)
    args = cli.parse_args()
    print(f"machine: {machine()}")
    body = corpus(args.events, terminator=True)
    chunks = pieces(body)
    print(f"{args.events} events + [DONE], {len(body) / 1e6:.1f} MB in {PIECE}-byte pieces, "
          f"median of {args.rounds} interleaved rounds\n")
    contenders = {
        "sse-conformance: capture + every check + schema": lambda: suite(chunks),
        "httpx-sse decoder + json.loads (from memory)": lambda: httpx_sse_json(chunks),
        "httpx-sse aiter_sse + json.loads (same transport)": lambda: httpx_sse_over_httpx(chunks),
        "sse-conformance parser alone": lambda: parser_only(chunks),
    }
    times = race(contenders, args.rounds)
    rows = []
    for name, runs in times.items():
        t = median(runs)
        rows.append([name, f"{t:.2f}", f"{len(body) / 1e6 / t:.1f}", f"{args.events / t / 1e3:.0f}k"])
    print(table(["what", "s", "MB/s", "events/s"], rows))
    suite_t = median(times["sse-conformance: capture + every check + schema"])
    base = median(times["httpx-sse decoder + json.loads (from memory)"])
    same = median(times["httpx-sse aiter_sse + json.loads (same transport)"])
    print(f"\nthe suite takes {suite_t / base:.2f}x the time of httpx-sse + json.loads from memory (goal: at most 2x)")
    print(f"the suite takes {suite_t / same:.2f}x the time of httpx-sse + json.loads over the same transport")


if __name__ == "__main__":
    main()
