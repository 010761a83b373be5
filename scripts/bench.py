"""The benchmark suite: every `scripts/bench_*.py` that defines `sections`, each in a fresh
process, collected into BENCHMARKS.md.

    .venv/bin/python scripts/bench.py [--quick] [--only scale overhead ...] [--out BENCHMARKS.md]

Each module runs as `python bench_<name>.py --json FILE [--quick]` (the contract in
`scripts/benchlib.py`). A module that fails, times out or lacks a dependency gets a row
saying so and the suite goes on. BENCHMARKS.md holds the machine and versions, the git
revision and date, then a summary "goal -> figure -> met/missed -> what would close the
gap" built from the sections' `met:`/`MISSED:` notes, then every table with its command.
Exit status 0 when every module ran (goals missed included), 1 when one could not run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402

_MISSING = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_DEFINES = re.compile(r"^def sections\(", re.MULTILINE)
_MARK = re.compile(r"^(met|MISSED):\s*(.*)$", re.DOTALL)


@dataclass
class Outcome:
    """What one module gave: its sections, or why it gave none."""

    name: str  # bench_<name>.py -> <name>
    command: str
    seconds: float
    sections: list[benchlib.Section] = field(default_factory=list)
    problem: str | None = None  # "failed: ...", "missing dependency: ...", "timed out ..."


def discover(directory: Path) -> dict[str, Path]:
    """name -> file for every bench_*.py in ``directory`` that defines ``sections``."""
    found = {}
    for path in sorted(directory.glob("bench_*.py")):
        if _DEFINES.search(path.read_text(encoding="utf-8", errors="replace")):
            found[path.stem.removeprefix("bench_")] = path
    return found


def select(modules: dict[str, Path], only: list[str] | None) -> dict[str, Path]:
    """The modules named in ``--only`` (``scale``, ``bench_scale`` or ``bench_scale.py``)."""
    if not only:
        return modules
    wanted = [name.removesuffix(".py").removeprefix("bench_") for name in only]
    unknown = [name for name in wanted if name not in modules]
    if unknown:
        raise SystemExit(f"--only: no bench module {', '.join(unknown)}; expected some of: {', '.join(modules)}")
    return {name: modules[name] for name in wanted}


def run_module(name: str, path: Path, quick: bool, timeout_s: float) -> Outcome:
    """``path`` in a fresh interpreter with --json (and --quick); never raises."""
    args = ["--quick"] if quick else []
    command = f"python {_shown(path)}{' --quick' if quick else ''}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), str(path.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rtbench") as tmp:
        out = Path(tmp) / "sections.json"
        try:
            proc = subprocess.run([sys.executable, str(path), *args, "--json", str(out)], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return Outcome(name, command, time.perf_counter() - start, problem=f"timed out after {timeout_s:.0f} s")
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            return Outcome(name, command, seconds, problem=_why(proc.returncode, proc.stderr))
        try:
            data = json.loads(out.read_text())
            sections = [benchlib.Section.from_dict(item) for item in data]
        except (OSError, ValueError, TypeError) as exc:
            return Outcome(name, command, seconds, problem=f"failed: no sections written ({type(exc).__name__}: {exc})")
    return Outcome(name, command, seconds, sections=sections)


def _why(code: int, stderr: str) -> str:
    missing = _MISSING.search(stderr)
    if missing:
        return f"missing dependency: {missing.group(1)} (install it to run this module)"
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return f"failed: exit {code}: {lines[-1][:300] if lines else 'no output'}"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def summary_rows(outcomes: list[Outcome]) -> list[list[str]]:
    """goal | figure | met/missed | what would close the gap, one row per goal note (and per
    module that could not run)."""
    rows = []
    for outcome in outcomes:
        if outcome.problem:
            rows.append([f"bench_{outcome.name}", "—", "NOT RUN", outcome.problem])
            continue
        for section in outcome.sections:
            for note in section.notes:
                mark = _MARK.match(note.strip())
                if mark:
                    rows.append(_goal_row(section, mark.group(1), mark.group(2)))
    return rows or [["(no module reported a goal)", "—", "—", "—"]]


def _goal_row(section: benchlib.Section, mark: str, text: str) -> list[str]:
    """'goal 5 memory: growth 12 MB (...). What would close it.' -> its cells."""
    head, sep, rest = text.partition(": ")
    goal = head if sep and len(head) <= 60 else section.title
    body = rest if sep and len(head) <= 60 else text
    figure, gap = _split_gap(body)
    status = "met" if mark == "met" else "MISSED"
    return [_cell(goal), _cell(figure.rstrip(".")), status, _cell(gap) or ("—" if status == "met" else "(not said)")]


# how a note says what would close its gap; else its first sentence is the figure
_GAP = re.compile(r"(?:^|[;.])\s*(?:what would close it|what would close the gap|to close(?: a| the)? gap|to close|closing it)\s*:\s*",
                  re.IGNORECASE)
_SENTENCE = re.compile(r"(?<!\bi\.e)(?<!\be\.g)\.\s+(?=[A-Z(])")


def _split_gap(body: str) -> tuple[str, str]:
    """'figure; what would close it: gap' / 'figure. To close: gap' / 'figure. Gap.' -> (figure, gap)."""
    marker = _GAP.search(body)
    if marker:
        return body[:marker.start()].rstrip(" .;"), body[marker.end():]
    parts = _SENTENCE.split(body, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def render(outcomes: list[Outcome], quick: bool, info: dict[str, str], revision: str, date: str) -> str:
    machine = ", ".join(f"{key} {value}" for key, value in info.items())
    lines = [
        "# Benchmarks", "",
        f"Written by `python scripts/bench.py{' --quick' if quick else ''}` "
        f"(`make bench{'-quick' if quick else ''}`) on {date}, git revision `{revision}`.", "",
        f"Machine: {machine}.", "",
        "## Summary: every goal", "",
        benchlib.md_table(["goal", "figure", "met / missed", "what would close the gap"], summary_rows(outcomes)), "",
        "## Modules", "",
        benchlib.md_table(["module", "command", "seconds", "outcome"],
                          [[o.name, f"`{o.command}`", f"{o.seconds:.0f}", o.problem or f"ok: {len(o.sections)} table(s)"]
                           for o in outcomes]), "",
        "## Tables", "",
    ]
    for outcome in outcomes:
        for section in outcome.sections:
            lines.append(section.markdown())
        if outcome.problem:
            lines += [f"### bench_{outcome.name}", "", f"`{outcome.command}`", "", f"Not run: {outcome.problem}.", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small settings (make bench-quick, under 5 minutes)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these modules (e.g. scale overhead)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="where to write (default BENCHMARKS.md)")
    parser.add_argument("--dir", default=str(HERE), help="where the bench_*.py modules are (default scripts/)")
    parser.add_argument("--timeout", type=float, help="seconds per module (default 600 quick, 1800 full)")
    args = parser.parse_args(argv)
    modules = select(discover(Path(args.dir)), args.only)
    timeout = args.timeout or (600.0 if args.quick else 1800.0)
    outcomes = []
    for name, path in modules.items():
        print(f"bench {name} ...", file=sys.stderr, flush=True)
        outcome = run_module(name, path, args.quick, timeout)
        print(f"bench {name}: {outcome.problem or 'ok'} ({outcome.seconds:.0f} s)", file=sys.stderr, flush=True)
        outcomes.append(outcome)
    date = _dt.datetime.now().isoformat(timespec="seconds")
    text = render(outcomes, args.quick, benchlib.machine(), benchlib.git_revision(), date)
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if any(o.problem for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
