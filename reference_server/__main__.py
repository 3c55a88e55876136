"""``python -m reference_server --port 8080``: serve the reference server by hand.

uvicorn serves ``--port``; the byte-exact listener (for the faults uvicorn cannot send,
``"listener": "raw"`` in ``GET /faults``) serves ``--raw-port``.
"""

from __future__ import annotations

import argparse
import time

from conformance import load_profile

from .app import DIALECTS
from .serve import ServerThread


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reference_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port of the server (default 8080)")
    parser.add_argument("--raw-port", type=int, default=8081, help="port of the byte-exact listener (default 8081)")
    parser.add_argument("--delay", type=float, default=50, help="milliseconds between events (default 50)")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
