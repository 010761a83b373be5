"""Human-readable output: the leaderboard table, the best config, the strategies list."""

from __future__ import annotations

import json
from typing import Any, TextIO

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


def leaderboard(summary: Summary, top: int = 10) -> Table:
    ranked = summary.ranked()[:top]
    params = sorted({k for t in ranked for k in flatten(t.config)})
    table = Table(title=f"{summary.name}: top {len(ranked)} of {len(summary.trials)} trials by {summary.metric} ({summary.mode})")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("trial", no_wrap=True, min_width=len(ranked[0].trial_id) if ranked else 5)
    table.add_column(summary.metric, justify="right", no_wrap=True, min_width=8)
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("time s", justify="right", no_wrap=True)
    for name in params:
        table.add_column(name, justify="right", overflow="ellipsis")
    for rank, trial in enumerate(ranked, start=1):
        flat = flatten(trial.config)
        score = _fmt(trial.score, 6) if trial.score is not None and trial.status == "ok" else f"[red]{trial.status}[/red]"
        table.add_row(str(rank), trial.trial_id, score, str(trial.steps), f"{trial.time_s:.2f}",
                      *(_fmt(flat.get(name, "")) for name in params))
    return table


def print_summary(summary: Summary, stream: TextIO | None = None, top: int = 10, verbose: bool = False) -> None:
    """The leaderboard, counts, failures grouped (tracebacks only with ``verbose``), best, results path."""
    console = _console(stream)
    console.print(leaderboard(summary, top))
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
