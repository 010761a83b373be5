"""What every benchmark script shares: a Section (one markdown table with its command and
notes), formatting helpers, and the command line that `scripts/bench.py` drives.

A benchmark module `scripts/bench_<name>.py` defines

    def sections(quick: bool) -> list[Section]: ...
    if __name__ == "__main__":
        benchlib.main(sections)

`python scripts/bench_<name>.py [--quick] [--json OUT]` prints the tables as markdown and,
with --json, writes them for `scripts/bench.py`, which runs every module in a fresh
process and writes BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Sequence


@dataclass
class Section:
    key: str  # stable id, e.g. "overhead", "everyday", "early-stopping"
    title: str
    command: str  # how to reproduce exactly this table
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)  # goals met/missed, what would close each gap

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", f"`{self.command}`", "", md_table(self.headers, self.rows)]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> "Section":
        return cls(**data)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    rows = [[str(cell) for cell in row] for row in rows]
    right = ["---:" if _numeric_column(rows, i) else "---" for i in range(len(headers))]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(right) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def _numeric_column(rows: list[list[str]], index: int) -> bool:
    cells = [row[index] for row in rows if index < len(row) and row[index] not in ("", "—", "-")]
    return bool(cells) and all(cell[:1].isdigit() or cell[:1] in "-.~≤≥<>" for cell in cells)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def median_spread(values: Sequence[float], unit: str = "s", digits: int = 2) -> str:
    """'1.23 s (1.10–1.40)': median and the range of the repeats."""
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f} {unit}".strip()
    return f"{med:.{digits}f} {unit} ({min(values):.{digits}f}–{max(values):.{digits}f})".replace("  ", " ")


def ratio(ours: float, theirs: float, digits: int = 2) -> str:
    if not theirs:
        return "—"
    return f"{ours / theirs:.{digits}f}x"


def goal(met: bool, text: str) -> str:
    return f"{'met' if met else 'MISSED'}: {text}"


def machine() -> dict[str, str]:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
    }
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "?"
    try:
        info["load"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        pass
    for name in ("ray", "optuna", "scikit-learn", "torch", "numpy"):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:  # noqa: BLE001 - not installed is a fact to print
            info[name] = "not installed"
    return info


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main(sections_fn: Callable[[bool], list[Section]], argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the small settings of make bench-quick")
    parser.add_argument("--json", help="also write the sections here (for scripts/bench.py)")
    args = parser.parse_args(argv)
    sections = sections_fn(args.quick)
    for section in sections:
        print(section.markdown())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(s) for s in sections], fh, indent=1)
    sys.stdout.flush()
    return 0
