"""``python -m reference_server --port 8080``: serve the reference server by hand."""

from __future__ import annotations

import argparse

import uvicorn

from .app import DIALECTS, create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reference_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--delay", type=float, default=50, help="milliseconds between events (default 50)")
    args = parser.parse_args()
    for path, (profile, _) in DIALECTS.items():
        print(f"profile {profile}: POST http://{args.host}:{args.port}{path}  (faults: GET /faults)")
    uvicorn.run(create_app(delay=args.delay / 1000), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
