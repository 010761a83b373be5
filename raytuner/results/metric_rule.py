"""The metrics rule: what happens to a trial that reports NaN, inf, a non-number or no metric.

A trial reports its objectives (the experiment's metric, and the other objectives of a
multi-objective run) with every step. When one of them is

* NaN or +/-inf: the trial **diverged**;
* missing, or not a number (a string, None, a bool): the trial **failed**;

then that report is the trial's last: it is marked ``done`` (Tune stops the trial), the
bad values are replaced by the worst finite value for their mode (``WORST``: +1e300
when minimising, -1e300 when maximising), so no searcher or scheduler ever sees a
NaN, an inf, a string or a missing key, and the report says what happened:

* ``raytuner_status``: ``"diverged"`` or ``"error"`` (the trial record's status);
* ``raytuner_reason``: e.g. ``"loss is nan at step 2"``;
* ``raytuner_raw_<name>``: each replaced value as the trial reported it (``repr``).

A trainable may flag a report ``diverged`` itself (``STATUS_KEY``, with a
``REASON_KEY``) when its metric is still finite: the torch loop does when its
training loss is NaN/inf. Such a report is treated the same way.

raytuner's own searchers (``strategies.guard``) drop such a trial as failed; Ray's
schedulers see the worst value. The summary puts the trial last (its score is the
raw NaN/inf, or none), with status ``diverged`` or ``error``. ``apply_rule`` runs in
every trial (``trainables.reporting``); ``restore_raw`` reads a report back.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

STATUS_KEY = "raytuner_status"
REASON_KEY = "raytuner_reason"
RAW_PREFIX = "raytuner_raw_"
DIVERGED = "diverged"
FAILED = "error"
WORST = 1e300  # large and finite: every searcher and scheduler can compare and average it
# a float epoch time per row of a trial's files (Ray's ``timestamp`` is whole seconds): when the
# report was logged, so the report can order trials that end within the same second
WALL_CLOCK_KEY = "wall_clock_s"


def worst_value(mode: str) -> float:
    return WORST if mode == "min" else -WORST


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Verdict:
    """What was wrong with a report: the trial's status, why, and which objectives were bad."""

    status: str  # DIVERGED | FAILED
    reason: str
    bad: tuple[str, ...]


def judge(metrics: Mapping[str, Any], objectives: Iterable[tuple[str, str]]) -> Verdict | None:
    """None when every objective is a finite number; else the verdict (failed wins over diverged)."""
    missing, wrong, diverged = [], [], []
    for name, _ in objectives:
        if name not in metrics or metrics[name] is None:
            missing.append(name)
        elif not _number(metrics[name]):
            wrong.append(name)
        elif not math.isfinite(float(metrics[name])):
            diverged.append(name)
    parts = [f"no {n!r} reported" for n in missing]
    parts += [f"{n} is {metrics[n]!r} ({type(metrics[n]).__name__}), not a number" for n in wrong]
    parts += [f"{n} is {float(metrics[n])}" for n in diverged]
    if not parts:
        return None
    return Verdict(FAILED if missing or wrong else DIVERGED, "; ".join(parts), tuple(missing + wrong + diverged))


def apply_rule(metrics: Mapping[str, Any], objectives: Iterable[tuple[str, str]], step: int | None = None) -> dict[str, Any]:
    """``metrics`` as Tune may see them: unchanged when fine, else the trial's last report (see above)."""
    objectives = tuple(objectives)
    out = dict(metrics)
    verdict = judge(out, objectives)
    if verdict is None and out.get(STATUS_KEY) == DIVERGED:  # the trainable saw it (torch: train_loss NaN)
        verdict = Verdict(DIVERGED, str(out.get(REASON_KEY) or DIVERGED), tuple(name for name, _ in objectives))
    if verdict is None:
        return out
    modes = dict(objectives)
    for name in verdict.bad:
        if name in out:
            value = out[name]
            out[RAW_PREFIX + name] = repr(float(value)) if _number(value) else repr(value)
        out[name] = worst_value(modes[name])
    at = f" at step {step}" if step is not None else ""
    out.update({STATUS_KEY: verdict.status, REASON_KEY: verdict.reason + at, "done": True})
    return out


def flagged(metrics: Mapping[str, Any] | None) -> bool:
    """Whether a report is one the metrics rule rewrote (a diverged or failed trial's last)."""
    return bool(metrics) and metrics.get(STATUS_KEY) in (DIVERGED, FAILED)  # type: ignore[union-attr]


def restore_raw(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A rewritten report with each replaced value as the trial reported it (NaN, inf, the
    string...; a missing metric missing again) and the rule's keys dropped but the status."""
    out = {k: v for k, v in metrics.items() if not k.startswith(RAW_PREFIX)}
    if not flagged(metrics):
        return out
    for key, text in metrics.items():
        if key.startswith(RAW_PREFIX):
            out[key[len(RAW_PREFIX):]] = _parse(text)
    for name, value in list(out.items()):
        if _number(value) and abs(value) == WORST and RAW_PREFIX + name not in metrics:
            out.pop(name)  # the trial reported nothing for it
    return out


def _parse(text: Any) -> Any:
    """A number's repr back to the float ("nan", "inf", "0.9"); anything else as written."""
    try:
        return float(text) if isinstance(text, str) else text
    except ValueError:
        return text
