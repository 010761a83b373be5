"""Tables of several experiments: ``raytuner experiments`` and ``raytuner compare``'s totals."""

from __future__ import annotations

from typing import TextIO

from rich.table import Table

from raytuner.console.summary import _console, _fmt
from raytuner.results.catalog import ExperimentEntry
from raytuner.results.comparison import Totals

STATE_STYLE = {"finished": "green", "running": "yellow", "interrupted": "red"}


def experiments_table(entries: list[ExperimentEntry], storage: str) -> Table:
    table = Table(title=f"{len(entries)} experiments under {storage}, newest first")
    for column in ("name", "state", "started", "strategy", "scheduler", "trials", "best", "path"):
        table.add_column(column, justify="right" if column in ("trials", "best") else "left",
                         no_wrap=column != "path", overflow="fold")
    for e in entries:
        style = STATE_STYLE.get(e.state)
        state = f"[{style}]{e.state}[/{style}]" if style else e.state
        best = f"{_fmt(e.best_score, 6)} ({e.metric} {e.mode})" if e.best_score is not None else "-"
        table.add_row(e.name, state, e.started or "-", e.strategy or "-", e.scheduler or "-", str(e.trials), best,
                      e.path)
    return table


def print_experiments(entries: list[ExperimentEntry], storage: str, stream: TextIO | None = None) -> None:
    console = _console(stream)
    if not entries:
        console.print(f"no experiments under {storage}")
        return
    console.print(experiments_table(entries, storage))


def totals_table(totals: list[Totals]) -> Table:
    table = Table(title=f"{len(totals)} experiments compared by {totals[0].metric} ({totals[0].mode})")
    for column in ("experiment", "strategy", "scheduler", "best", "trials", "failed", "wall s", "CPU-hours"):
        table.add_column(column, justify="left" if column in ("experiment", "strategy", "scheduler") else "right")
    for t in totals:
        table.add_row(t.label, t.strategy or "-", t.scheduler or "-",
                      _fmt(t.best_score, 6) if t.best_score is not None else "-", str(t.trials), str(t.failed),
                      f"{t.wall_time_s:.1f}" if t.wall_time_s is not None else "-", f"{t.cpu_hours:.4f}")
    return table


def print_totals(totals: list[Totals], stream: TextIO | None = None) -> None:
    _console(stream).print(totals_table(totals))
