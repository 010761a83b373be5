"""Failed and diverged trials in one short block, one line per kind of failure.

::

    6 trials failed: ValueError: x=-1.0 is negative (first: trial 1a2b3c4d, log: .../trial_1a2b3c4d/error.txt)
    2 trials diverged: loss is nan at step 2 (first: trial 5e6f7a8b, in .../trial_5e6f7a8b)

Trials are grouped by error type and message, numbers aside (``x=-1.0`` and ``x=-2.0``
are one group; the line shows the first trial's message). Tracebacks are never shown
here unless ``verbose``: then the first trial's ``error.txt`` of each group follows
its line (ANSI colour codes removed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from raytuner.results.summary import TrialRecord

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRACEBACK_LINES = 40  # per group, with verbose: the end of the first trial's error.txt


@dataclass
class FailureGroup:
    status: str  # "error" | "diverged"
    error_type: str | None
    message: str  # the first trial's
    trials: list[TrialRecord] = field(default_factory=list)

    @property
    def first(self) -> TrialRecord:
        return self.trials[0]

    def line(self) -> str:
        n = len(self.trials)
        what = f"{n} trial{'s' if n != 1 else ''} {'diverged' if self.status == 'diverged' else 'failed'}"
        first = self.first
        where = f"log: {first.error_log}" if first.error_log else f"in {first.path}"
        return f"{what}: {self.message} (first: trial {first.trial_id}, {where})"


def _message(trial: TrialRecord) -> str:
    text = (trial.error or "unknown error").strip().splitlines()
    line = text[-1] if text else "unknown error"
    if trial.status == "diverged":
        line = line.removeprefix("diverged: ")
    return line


def failure_groups(trials: Iterable[TrialRecord]) -> list[FailureGroup]:
    """Failed and diverged trials grouped by (status, type, message numbers aside), largest group first."""
    groups: dict[tuple[str, str | None, str], FailureGroup] = {}
    for trial in trials:
        if trial.status == "ok":
            continue
        message = _message(trial)
        key = (trial.status, trial.error_type, _NUMBER.sub("#", message))
        group = groups.setdefault(key, FailureGroup(trial.status, trial.error_type, message))
        group.trials.append(trial)
    return sorted(groups.values(), key=lambda g: (g.status == "diverged", -len(g.trials)))


def failure_lines(trials: Iterable[TrialRecord], verbose: bool = False) -> list[str]:
    """The block: one line per group (plus, with ``verbose``, the first trial's traceback)."""
    out: list[str] = []
    for group in failure_groups(trials):
        out.append(group.line())
        if verbose and group.first.error_log:
            out.extend("    " + line for line in traceback_lines(group.first.error_log))
    return out


def traceback_lines(error_log: str, limit: int = _TRACEBACK_LINES) -> list[str]:
    """The end of a trial's error.txt, without colour codes (nothing when it cannot be read here)."""
    path = Path(error_log)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    lines = _ANSI.sub("", text).rstrip().splitlines()
    return lines[-limit:]


def all_failed_message(trials: list[TrialRecord], experiment_path: str) -> str:
    """ExperimentFailed's message: the block, no traceback."""
    lines = "\n".join("  " + line for line in failure_lines(trials))
    return f"all {len(trials)} trials failed:\n{lines}\ndetails: {experiment_path}"
