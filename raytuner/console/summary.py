"""Human-readable output: the leaderboard table, the best config, the strategies list."""

from __future__ import annotations

import json
import math
from typing import Any, TextIO

import pandas as pd

from rich.console import Console
from rich.table import Table

from raytuner.results.summary import FINISHED, Summary, run_state
from raytuner.console.faults import fault_lines
from raytuner.console.failures import failure_lines
from raytuner.console.scheduling import scheduling_lines
from raytuner.spec.space import flatten


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _console(stream: TextIO | None) -> Console:
    console = Console(file=stream, highlight=False)
    if not console.is_terminal:  # pipes and files: do not squeeze the table into 80 columns
        console = Console(file=stream, highlight=False, width=200)
    return console


def _cell(value: Any) -> str:
    """A table cell: numpy scalars unwrapped, a missing value (NaN/None) empty."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return _fmt(value)


def leaderboard(summary: Summary, top: int = 10, trials: pd.DataFrame | None = None) -> Table:
    """The top trials, ranked from the results table (``results.experiment``: ``read_experiment(DIR).trials``,
    or the same table built from ``summary``); the score column says ``metric.scope``."""
    from raytuner.results.experiment import ranked as rank, trials_table

    frame = trials if trials is not None else trials_table(summary)
    rows = rank(frame, summary.mode).head(top)
    params = [c for c in frame.columns if c.startswith("config.") and rows[c].notna().any()]
    scope = " (best step)" if summary.scope == "best" else ""
    table = Table(title=f"{summary.name}: top {len(rows)} of {len(frame)} trials by {summary.metric} ({summary.mode}){scope}")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("trial", no_wrap=True, min_width=max((len(str(t)) for t in rows["trial_id"]), default=5))
    table.add_column(summary.metric, justify="right", no_wrap=True, min_width=8)
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("time s", justify="right", no_wrap=True)
    for name in params:
        table.add_column(name.removeprefix("config."), justify="right", overflow="ellipsis")
    for rank_no, row in enumerate(rows.to_dict("records"), start=1):
        ok = row["status"] == "ok" and _cell(row["score"]) != ""
        score = _fmt(float(row["score"]), 6) if ok else f"[red]{row['status']}[/red]"
        table.add_row(str(rank_no), str(row["trial_id"]), score, str(int(row["steps"])), f"{float(row['time_s'] or 0):.2f}",
                      *(_cell(row[name]) for name in params))
    return table


def print_summary(summary: Summary, stream: TextIO | None = None, top: int = 10, verbose: bool = False,
                  trials: pd.DataFrame | None = None) -> None:
    """The leaderboard, counts, failures grouped (tracebacks only with ``verbose``), best, results path.
    ``trials``: the results table when it was read already (``read_experiment(DIR).trials``)."""
    console = _console(stream)
    console.print(leaderboard(summary, top, trials))
    counts = summary.counts
    diverged = f", {counts['diverged']} diverged" if counts.get("diverged") else ""
    console.print(
        f"trials: {counts['total']} ({counts['ok']} ok, {counts['error']} failed{diverged}) "
        f"in {summary.wall_time_s:.1f}s"
    )
    state = run_state(summary)
    if state != FINISHED:
        others = {k: v for k, v in counts.items() if k not in ("total", "ok", "error")}
        unfinished = ", ".join(f"{n} {status}" for status, n in others.items())
        console.print(f"state: {state} (a partial summary{': ' + unfinished if unfinished else ''})"
                      + (f"; finish it with: raytuner resume {summary.experiment_path}" if state != "running" else ""))
    nodes = summary.nodes
    if nodes:
        console.print("nodes: " + ", ".join(f"{ip} ({n} trial{'s' if n != 1 else ''})" for ip, n in nodes.items()))
    if summary.warm_start is not None:
        console.print(summary.warm_start.describe(), markup=False, soft_wrap=True)
    for line in scheduling_lines(summary):
        console.print(line)
    for line in fault_lines(summary):  # trials restored after a lost node or an error
        console.print(line)
    for line in failure_lines(summary.trials, verbose):
        console.print(line, markup=False, soft_wrap=True)
    if summary.best is not None:
        console.print(f"best {summary.metric}: {summary.best.score:.6g} (trial {summary.best.trial_id})")
        console.print("best config: " + json.dumps(summary.best.config, default=str), soft_wrap=True)
    from raytuner.console.final import describe_final

    for line in describe_final(summary.final, summary.metric):  # refit, holdout, ensemble
        console.print(line)
    if summary.pareto_front:
        console.print(pareto_table(summary))
    console.print(f"results: {summary.experiment_path}")


def pareto_table(summary: Summary) -> Table:
    """The non-dominated trials of a multi-objective run, with every objective."""
    names = [o["name"] for o in summary.objectives]
    modes = {o["name"]: o["mode"] for o in summary.objectives}
    front = summary.front()
    params = sorted({k for t in front for k in flatten(t.config)})
    table = Table(title=f"Pareto front: {len(front)} of {len(summary.trials)} trials")
    table.add_column("trial")
    for name in names:
        table.add_column(f"{name} ({modes[name]})", justify="right")
    for name in params:
        table.add_column(name, justify="right")
    for trial in front:
        flat = flatten(trial.config)
        table.add_row(trial.trial_id, *(_fmt(trial.metrics.get(n), 6) for n in names), *(_fmt(flat.get(p, "")) for p in params))
    return table
