"""``python -m reference_server --port 8080``: serve the reference server by hand.

uvicorn serves ``--port``; the byte-exact listener (for the faults uvicorn cannot send,
``"listener": "raw"`` in ``GET /faults``) serves ``--raw-port``. With ``--replay FILE``,
``--port`` serves a saved transcript instead (``replay.py``), to any request, its timing
divided by ``--speed``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from conformance import load_profile

from .dialects import DIALECTS
from .serve import ServerThread


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reference_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port of the server (default 8080)")
    parser.add_argument("--raw-port", type=int, default=8081, help="port of the byte-exact listener (default 8081)")
    parser.add_argument("--delay", type=float, default=50, help="milliseconds between events (default 50)")
    parser.add_argument("--replay", metavar="FILE", help="serve this saved transcript (sse-conformance.transcript"
                        ".json.gz) byte for byte, to any request on any path")
    parser.add_argument("--speed", type=float, default=1.0, help="with --replay: play the recorded timing this "
                        "many times faster (default 1: as recorded; 0.5: twice as slow)")
    args = parser.parse_args()
    if args.replay is not None:
        replay(parser, args)
        return
    with ServerThread(args.port, args.raw_port, args.host, delay=args.delay / 1000) as server:
        for dialect in DIALECTS.values():  # at its profile's path: a model and a query where the path needs them
            path = load_profile(dialect.profile).path
            print(f"profile {dialect.profile}: POST {server.url(path)}  (faults: GET {server.url('/faults')})")
        print(f"byte-exact listener for the raw faults: http://{args.host}:{server.raw_port}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def replay(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    from conformance._saved import load_saved

    from .replay import ReplayServer

    if not args.speed > 0:
        parser.error(f"--speed {args.speed:g}: expected a positive number")
    try:
        saved = load_saved(Path(args.replay))
    except ValueError as exc:
        parser.error(f"--replay {args.replay}: cannot replay it: {exc}")
    with ReplayServer(saved, args.host, args.port, speed=args.speed) as server:
        status = saved.response.status if saved.response is not None else "no response"
        print(f"replaying {args.replay} (recorded {saved.date} from {saved.target}; profile {saved.profile}; "
              f"status {status}, {len(saved.body)} bytes in {len(saved.lengths)} pieces) at {args.speed:g}x")
        print(f"any method, any path: {server.url('/')}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
