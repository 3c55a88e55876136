"""``python -m conformance requirements``: print the requirement catalogue as Markdown.
``python -m conformance interop-install``: install the Node.js client libraries of the interop
step (the versions of ``interop/package.json``) into the suite's cache, with npm."""

from __future__ import annotations

import sys

from ._catalogue import requirements


def requirements_table() -> str:
    rows = ["| ID | level | requirement | source |", "| --- | --- | --- | --- |"]
    for r in requirements():
        source = f"[{r.source}]({r.url})" if r.url else r.source
        rows.append(f"| `{r.id}` | {r.level.value} | {r.title} | {source} |")
    return "\n".join(rows)


def interop_install() -> int:
    from ._interop_clients import install_node_clients

    try:
        print(install_node_clients())
    except RuntimeError as exc:
        print(f"interop-install: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[1:] == ["requirements"]:
        print(requirements_table())
        return 0
    if argv[1:] == ["interop-install"]:
        return interop_install()
    print("usage: python -m conformance requirements | interop-install", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
