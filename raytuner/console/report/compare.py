"""The comparison page: ``raytuner compare DIR1 DIR2 ... [-o compare.html]``.

One self-contained HTML file (plotly.js inlined, as the report): a table of each
experiment's totals, the best-so-far curves of every experiment on shared axes (against
trial number and against seconds since each experiment's first trial started) and the
EDF of their final scores.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from raytuner.console.report import scores
from raytuner.console.report.figures import LAYOUT, best_series
from raytuner.console.report.html import Section, figure_html, note, page, table
from raytuner.results.comparison import Comparison, Totals, compare_experiments

COMPARE_FILE = "compare.html"
COLUMNS = ["experiment", "strategy", "scheduler", "metric", "best score", "best trial", "trials", "failed",
           "wall time s", "trial time s", "CPUs per trial", "CPU-hours", "GPU-hours", "status"]


def write_compare(directories: list[str | Path], out: str | Path | None = None, *, force: bool = False,
                  endpoint: str | None = None) -> Path:
    """Write the comparison page of ``directories`` (default ``./compare.html``); returns its path."""
    return write_comparison(compare_experiments(list(directories), force=force, endpoint=endpoint), out)


def write_comparison(comparison: Comparison, out: str | Path | None = None) -> Path:
    path = Path(out if out is not None else COMPARE_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_compare(comparison), encoding="utf-8")
    return path


def render_compare(comparison: Comparison) -> str:
    first = comparison.experiments[0]
    subtitle = f"{len(comparison.experiments)} experiments · {first.metric} ({first.mode})"
    return page("raytuner compare: " + ", ".join(comparison.labels), subtitle, sections(comparison))


def sections(comparison: Comparison) -> list[Section]:
    head = "".join(note(n) for n in comparison.notes)
    curves = [best_so_far(comparison, by="trial"), best_so_far(comparison, by="time")]
    drawn = "".join(figure_html(f) for f in curves if f is not None) or note("no experiment has a scored trial")
    edf = scores.edf(comparison.experiments, comparison.labels)
    return [
        Section("Experiments", head + table([row(t) for t in comparison.totals], COLUMNS)
                + note("CPU-hours: the trials' own run times x the CPUs each trial reserved (resources.cpu "
                       "plus child bundles); wall time: the experiment's, start to end.")),
        Section("Best so far", drawn),
        Section("Distribution of final scores (EDF)", figure_html(edf) if edf is not None else note("no scores")),
    ]


def row(totals: Totals) -> dict[str, object]:
    return {"experiment": totals.label, "strategy": totals.strategy, "scheduler": totals.scheduler,
            "metric": f"{totals.metric} ({totals.mode})", "best score": totals.best_score,
            "best trial": totals.best_trial, "trials": totals.trials, "failed": totals.failed,
            "wall time s": totals.wall_time_s, "trial time s": totals.trial_time_s,
            "CPUs per trial": totals.cpus_per_trial, "CPU-hours": totals.cpu_hours, "GPU-hours": totals.gpu_hours,
            "status": "finished" if totals.finished else "not finished"}


def best_so_far(comparison: Comparison, *, by: str) -> go.Figure | None:
    """One best-so-far line per experiment, on shared axes."""
    fig = go.Figure()
    for experiment, label in zip(comparison.experiments, comparison.labels):
        x, _, best, ids = best_series(experiment, by=by)
        if best:
            fig.add_trace(go.Scatter(x=x, y=best, mode="lines+markers", line={"shape": "hv"}, name=label, text=ids,
                                     marker={"size": 4}, meta={"kind": "best", "experiment": label}))
    if not fig.data:
        return None
    first = comparison.experiments[0]
    xaxis = "trial (in start order)" if by == "trial" else "seconds since the experiment's first trial started"
    fig.update_layout(title="Best so far against " + ("trial number" if by == "trial" else "wall-clock time"),
                      xaxis_title=xaxis, yaxis_title=first.metric, **LAYOUT)
    return fig
