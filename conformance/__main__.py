"""``python -m conformance requirements``: print the requirement catalogue as Markdown."""

from __future__ import annotations

import sys

from ._catalogue import requirements


def requirements_table() -> str:
    rows = ["| ID | level | requirement | source |", "| --- | --- | --- | --- |"]
    for r in requirements():
        source = f"[{r.source}]({r.url})" if r.url else r.source
        rows.append(f"| `{r.id}` | {r.level.value} | {r.title} | {source} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if argv[1:] != ["requirements"]:
        print("usage: python -m conformance requirements", file=sys.stderr)
        return 2
    print(requirements_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
