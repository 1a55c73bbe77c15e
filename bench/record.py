"""Keep each benchmark's table in its own section of docs/benchmarks.md, so one bench never erases another's."""

from __future__ import annotations

import re
from pathlib import Path

HEADER = (
    "# Benchmarks\n\n"
    "Everything here is measured by `make bench` (never by timing assertions in tests); each section says the\n"
    "command that produced it and the machine it ran on.\n"
)


def write_section(path: str | Path, name: str, body: str) -> None:
    """Replace the section `name` in `path` (create the file, or append the section, when missing)."""
    target = Path(path)
    text = target.read_text() if target.exists() else HEADER
    if not text.startswith("# Benchmarks"):
        text = HEADER
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    section = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else f"{text.rstrip()}\n\n{section}\n"
    target.write_text(text if text.endswith("\n") else text + "\n")
