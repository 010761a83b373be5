"""The scheduler's decisions as the trials' own files and the summary show them.

- rungs: the steps at which the scheduler keeps or stops trials (``Scheduler.rungs``: ASHA),
  drawn as vertical lines on the learning curves; an early stop is named by its rung;
- pauses: a trial whose ``iterations_since_restore`` starts again at 1 was paused (HyperBand)
  or retried, and resumed from its checkpoint; marked where it stopped before resuming;
- lineage (PBT/PB2): which trial cloned which at which step, from the summary's
  ``PopulationHistory`` (``ExploitEvent``); the best trial's ancestry highlighted.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from raytuner.results.experiment import STEP, Experiment, finite_number
from raytuner.results.scheduling import ExploitEvent

RESTORED = "iterations_since_restore"
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def rungs(experiment: Experiment) -> list[float]:
    """The scheduler's rungs (steps), from spec.yaml's scheduler and the trials' step limit."""
    from pydantic import ValidationError

    from raytuner.errors import RaytunerError
    from raytuner.schedulers import SCHEDULERS

    spec = experiment.spec.get("scheduler") or {}
    if not isinstance(spec, dict) or not spec.get("name"):
        return []
    try:
        cls = SCHEDULERS.get(str(spec["name"]))
        scheduler = cls(cls.Options(**(spec.get("options") or {})))
    except (RaytunerError, ValidationError, TypeError):
        return []  # a scheduler this version does not know: no rungs drawn
    return [float(r) for r in scheduler.rungs(_max_steps(experiment))]


def _max_steps(experiment: Experiment) -> float | None:
    summary = experiment.summary
    if summary is not None and summary.scheduling.early_stopping is not None:
        return float(summary.scheduling.early_stopping.max_steps)
    limit = (experiment.spec.get("stop") or {}).get("max_steps")
    if finite_number(limit):
        return float(limit)
    steps = experiment.history.get(STEP)
    return float(steps.max()) if steps is not None and not steps.empty and finite_number(steps.max()) else None


def rung_of(step: Any, levels: list[float]) -> int | None:
    """The index (1-based) of the highest rung at or below ``step``; None below the first."""
    try:
        at = float(step)  # numpy scalars from the tables too
    except (TypeError, ValueError):
        return None
    reached = [i for i, level in enumerate(levels, start=1) if level <= at]
    return reached[-1] if reached else None


def add_rungs(fig: go.Figure, levels: list[float]) -> None:
    for i, level in enumerate(levels, start=1):
        fig.add_vline(x=level, line={"dash": "dot", "color": "#999", "width": 1},
                      annotation={"text": f"rung {i}", "font": {"size": 10, "color": "#666"}})


def pauses(experiment: Experiment) -> list[tuple[str, Any, Any, Any]]:
    """(trial id, step, metric value, resumed at step) where a trial stopped and later resumed
    from a checkpoint. PBT/PB2 clones are exploits (marked as such), not pauses."""
    metric, history = experiment.metric, experiment.history
    population = experiment.summary.scheduling.population if experiment.summary else None
    if population is not None or not metric or history.empty or RESTORED not in history or STEP not in history:
        return []
    out = []
    for tid in experiment.trials["trial_id"]:
        rows = experiment.curve(tid)
        restarted = list(rows[RESTORED])
        for i in range(1, len(rows)):
            if restarted[i] <= restarted[i - 1]:  # the counter started again: restored
                before = rows.iloc[i - 1]
                out.append((str(tid), before[STEP], before.get(metric), rows.iloc[i][STEP]))
    return out


def pause_marks(experiment: Experiment) -> list[go.Scatter]:
    found = pauses(experiment)
    if not found:
        return []
    text = [f"{tid}: paused (or retried) after step {step}; resumed from its checkpoint at step {again}"
            for tid, step, _, again in found]
    return [go.Scatter(x=[p[1] for p in found], y=[p[2] for p in found], mode="markers", name="paused, resumed",
                       text=text, hoverinfo="text", meta={"kind": "paused"},
                       marker={"symbol": "diamond-open", "size": 11, "color": "darkorange"})]


def lineage(experiment: Experiment) -> go.Figure | None:
    """PBT/PB2: each trial's steps as a row, an edge from donor to clone at every exploit."""
    summary = experiment.summary
    population = summary.scheduling.population if summary else None
    if population is None or not population.events:
        return None
    ids = [str(t) for t in experiment.trials["trial_id"]]
    fig = go.Figure()
    for tid in ids:
        steps = _trial_steps(experiment, tid)
        if steps:
            fig.add_trace(go.Scatter(x=[min(steps), max(steps)], y=[tid, tid], mode="lines",
                                     line={"color": "#bbb", "width": 6}, showlegend=False, hoverinfo="skip",
                                     meta={"kind": "life", "trial_id": tid}))
    fig.add_trace(_edges(population.events, "clone", "cloned (donor -> trial)", "purple", 1.5))
    best = summary.best.trial_id if summary is not None and summary.best is not None else None
    ancestry = population.schedules.get(best, []) if best else []
    if ancestry:
        fig.add_trace(_edges(ancestry, "best", f"ancestry of the best trial {best}", "crimson", 4))
    fig.update_layout(title="PBT lineage: which trial cloned which, at which step",
                      xaxis_title="step (training_iteration)", yaxis={"type": "category", "title": "trial"},
                      height=max(300, 28 * len(ids) + 140), **LAYOUT)
    return fig


def _trial_steps(experiment: Experiment, tid: str) -> list[float]:
    rows = experiment.curve(tid)
    if rows.empty or STEP not in rows:
        return []
    return [float(s) for s in pd.to_numeric(rows[STEP], errors="coerce") if finite_number(float(s))]


def _edges(events: list[ExploitEvent], kind: str, name: str, color: str, width: float) -> go.Scatter:
    xs: list[Any] = []
    ys: list[Any] = []
    text: list[Any] = []
    for e in events:
        label = f"{e.trial} at step {e.step} cloned {e.cloned} at its step {e.donor_step}"
        if e.changed:
            label += "; " + ", ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in e.changed.items())
        xs += [e.donor_step, e.step, None]
        ys += [e.cloned, e.trial, None]
        text += [label, label, None]
    return go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, text=text, hoverinfo="text",
                      line={"color": color, "width": width}, marker={"size": 8},
                      meta={"kind": kind, "events": len(events)})
