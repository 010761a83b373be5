"""The report's figures, each built from an Experiment's tables (plotly graph objects).

Every function returns a ``plotly.graph_objects.Figure`` (or None when the experiment has
nothing to draw) so tests can read the data back without rendering HTML.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from raytuner.console.report import decisions
from raytuner.results.experiment import STEP, Experiment, finite_number

FAILED = "#d62728"
TRIAL_ORDER = [[0.0, "#9ecae1"], [1.0, "#08306b"]]  # earliest trials light blue, yet visible on white
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def _better(mode: str | None) -> Any:
    return max if mode == "max" else min


def best_series(experiment: Experiment, *, by: str = "trial") -> tuple[list[Any], list[float], list[float], list[str]]:
    """(x, trial scores, best so far, trial ids) of the scored trials, in start (``by="trial"``:
    x = 1, 2, ...) or end order (``"time"``: x = seconds since the first trial started)."""
    trials = experiment.trials.sort_values(["end" if by == "time" else "start", "trial_id"], na_position="last")
    scored = trials[[finite_number(s) for s in trials["score"]]]
    t0 = experiment.trials["start"].min()
    better = _better(experiment.mode)
    best: list[float] = []
    for score in scored["score"]:
        best.append(float(score) if not best else better(best[-1], float(score)))
    if by == "time":
        x = [float(e - t0) if finite_number(e) and finite_number(t0) else None for e in scored["end"]]
    else:
        x = [int(i) for i in range(1, len(scored) + 1)]
    return x, [float(s) for s in scored["score"]], best, [str(t) for t in scored["trial_id"]]


def best_so_far(experiment: Experiment, *, by: str = "trial") -> go.Figure | None:
    """The best score so far against trial number (``by="trial"``) or wall-clock seconds (``"time"``)."""
    x, scores, best, ids = best_series(experiment, by=by)
    if not scores:
        return None
    if by == "time":
        title, xaxis = "Best so far against wall-clock time", "seconds since the first trial started"
    else:
        title, xaxis = "Best so far against trial number", "trial (in start order)"
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=scores, mode="markers", name="trial score", text=ids, opacity=0.5))
    fig.add_trace(go.Scatter(x=x, y=best, mode="lines", line={"shape": "hv"}, name="best so far"))
    fig.update_layout(title=title, xaxis_title=xaxis, yaxis_title=experiment.metric, **LAYOUT)
    return fig


def learning_curves(experiment: Experiment) -> go.Figure | None:
    """The metric per step of every trial (one trace per trial, one point per progress row),
    with early stops and PBT exploits marked."""
    metric, history = experiment.metric, experiment.history
    if not metric or history.empty or metric not in history:
        return None
    fig = go.Figure()
    for tid in experiment.trials["trial_id"]:
        rows = experiment.curve(tid)
        if rows.empty:
            continue
        fig.add_trace(go.Scatter(x=list(_steps(rows)), y=list(rows[metric]), mode="lines+markers", name=str(tid),
                                 meta={"kind": "curve", "trial_id": str(tid)}, marker={"size": 4}))
    levels = decisions.rungs(experiment)
    for trace in _stop_marks(experiment, levels) + _exploit_marks(experiment) + decisions.pause_marks(experiment):
        fig.add_trace(trace)
    fig.update_layout(title=f"Learning curves: {metric} per step", xaxis_title="step (training_iteration)",
                      yaxis_title=metric, **LAYOUT)
    decisions.add_rungs(fig, levels)
    return fig


def _steps(rows: pd.DataFrame) -> pd.Series:
    return rows[STEP] if STEP in rows else pd.Series(range(1, len(rows) + 1), index=rows.index)


def _point(experiment: Experiment, tid: str, step: Any = None) -> tuple[Any, Any] | None:
    rows = experiment.curve(tid)
    if rows.empty:
        return None
    if step is not None and STEP in rows:
        at = rows[rows[STEP] <= step]
        rows = at if not at.empty else rows
    last = rows.iloc[-1]
    return last.get(STEP, len(rows)), last.get(experiment.metric)


def _stop_marks(experiment: Experiment, levels: list[float]) -> list[go.Scatter]:
    summary = experiment.summary
    early = summary.scheduling.early_stopping if summary else None
    if early is None or not early.stop_reasons:
        return []
    xs, ys, text = [], [], []
    for tid, reason in early.stop_reasons.items():
        point = _point(experiment, tid)
        if point is not None:
            xs.append(point[0])
            ys.append(point[1])
            rung = decisions.rung_of(point[0], levels) if reason == "scheduler" else None
            text.append(f"{tid}: stopped early ({reason}) at step {point[0]}" + (f", rung {rung}" if rung else ""))
    return [go.Scatter(x=xs, y=ys, mode="markers", name="stopped early", text=text, hoverinfo="text",
                       meta={"kind": "stopped"}, marker={"symbol": "x", "size": 11, "color": "black"})]


def _exploit_marks(experiment: Experiment) -> list[go.Scatter]:
    summary = experiment.summary
    population = summary.scheduling.population if summary else None
    if population is None or not population.events:
        return []
    xs, ys, text = [], [], []
    for event in population.events:
        point = _point(experiment, event.trial, event.step)
        x = event.step if event.step is not None else (point[0] if point else None)
        xs.append(x)
        ys.append(point[1] if point else None)
        changed = ", ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in event.changed.items())
        text.append(f"{event.trial} cloned {event.cloned} (its step {event.donor_step}) at step {event.step}"
                    + (f"; {changed}" if changed else ""))
    return [go.Scatter(x=xs, y=ys, mode="markers", name="PBT exploit (clone)", text=text, hoverinfo="text",
                       meta={"kind": "exploit"}, marker={"symbol": "star", "size": 12, "color": "purple"})]


def axis_values(values: pd.Series) -> tuple[list[Any], dict[str, Any]]:
    """Numbers as they are; anything else as category codes with its labels as ticks."""
    if all(finite_number(v) for v in values):
        return [float(v) for v in values], {}
    seen = {_label(v): _order(v) for v in values}
    labels = sorted(seen, key=lambda label: (seen[label], label))
    codes = {label: i for i, label in enumerate(labels)}
    coded = [codes[_label(v)] for v in values]
    return coded, {"tickvals": list(range(len(labels))), "ticktext": labels}


def _label(value: Any) -> str:
    if value is None or isinstance(value, float) and value != value:  # the spec's null (NaN in pandas)
        return "None"
    if isinstance(value, float) and value.is_integer():  # ints in a column pandas made float by a null
        return str(int(value))
    return value if isinstance(value, str) else repr(value)


def _order(value: Any) -> tuple[int, float]:
    """Numbers first, by value; then everything else (by label); None last."""
    if finite_number(value):
        return 0, float(value)
    return (2, 0.0) if _label(value) == "None" else (1, 0.0)


def parallel_coordinates(experiment: Experiment) -> go.Figure | None:
    trials = experiment.trials[[finite_number(s) for s in experiment.trials["score"]]]
    columns = experiment.config_columns
    if trials.empty or not columns:
        return None
    dimensions = []
    for column in columns:
        values, ticks = axis_values(trials[column])
        dimensions.append({"label": column.removeprefix("config."), "values": values, **ticks})
    scores = [float(s) for s in trials["score"]]
    dimensions.append({"label": experiment.metric or "score", "values": scores})
    fig = go.Figure(go.Parcoords(line={"color": scores, "colorscale": "Viridis", "showscale": True,
                                       "reversescale": experiment.mode == "min"}, dimensions=dimensions))
    # parcoords writes its axis names above the plot area: room for them below the title
    fig.update_layout(title="Parallel coordinates of configs, coloured by score",
                      **{**LAYOUT, "margin": {**LAYOUT["margin"], "t": 100}})
    return fig


def slices(experiment: Experiment) -> list[go.Figure]:
    """One scatter per parameter: its value against the score."""
    trials = experiment.trials[[finite_number(s) for s in experiment.trials["score"]]]
    out = []
    for column in experiment.config_columns:
        if trials.empty:
            break
        values, ticks = axis_values(trials[column])
        fig = go.Figure(go.Scatter(x=values, y=list(trials["score"]), mode="markers", text=list(trials["trial_id"]),
                                   marker={"color": list(range(len(trials))), "colorscale": TRIAL_ORDER,
                                           "showscale": False}))
        name = column.removeprefix("config.")
        fig.update_layout(title=f"Slice: {name}", xaxis_title=name, yaxis_title=experiment.metric, height=320,
                          **LAYOUT)
        if ticks:
            fig.update_xaxes(**ticks)
        out.append(fig)
    return out


def timeline(experiment: Experiment) -> go.Figure | None:
    """Trials per node against time (a Gantt chart); failed trials in red."""
    trials = experiment.trials[[finite_number(s) and finite_number(e) for s, e in zip(experiment.trials["start"],
                                                                          experiment.trials["end"])]]
    if trials.empty:
        return None
    t0 = float(trials["start"].min())
    trials = trials.assign(node=[str(n) if isinstance(n, str) and n else "unknown node" for n in trials["node"]])
    trials = trials.sort_values(["node", "start"])
    fig = go.Figure()
    for failed in (False, True):
        part = trials[(trials["status"] == "error") == failed]
        if part.empty:
            continue
        fig.add_trace(go.Bar(
            base=[float(s) - t0 for s in part["start"]],
            x=[max(float(e) - float(s), 0.05) for s, e in zip(part["start"], part["end"])],
            y=[f"{n} · {t}" for n, t in zip(part["node"], part["trial_id"])], orientation="h",
            name="failed" if failed else "ran", marker={"color": FAILED if failed else "#1f77b4"},
            text=[f"{t} failed" if failed else str(t) for t in part["trial_id"]],
            cliponaxis=False, meta={"kind": "failed" if failed else "ran"}))
    span = max(float(trials["end"].max()) - t0, 0.05)
    # room right of the last end: a bar's label drawn outside it (a short, failed one) stays on the page
    fig.update_layout(title="Timeline: trials per node (failed in red)", xaxis_title="seconds since the first start",
                      xaxis={"range": [0, span * 1.35]}, yaxis={"autorange": "reversed"}, barmode="overlay",
                      height=max(250, 24 * len(trials) + 120), **LAYOUT)
    return fig


def pareto(experiment: Experiment) -> go.Figure | None:
    """The first two objectives of a multi-objective run, the Pareto front highlighted."""
    summary = experiment.summary
    if summary is None or len(summary.objectives) < 2:
        return None
    (a, b) = (summary.objectives[0]["name"], summary.objectives[1]["name"])
    front = set(summary.pareto_front)
    points = [(t.trial_id, t.metrics.get(a), t.metrics.get(b)) for t in summary.trials]
    points = [p for p in points if finite_number(p[1]) and finite_number(p[2])]
    fig = go.Figure()
    for on_front in (False, True):
        part = [p for p in points if (p[0] in front) == on_front]
        if on_front:
            part.sort(key=lambda p: (p[1], p[2]))
        fig.add_trace(go.Scatter(x=[p[1] for p in part], y=[p[2] for p in part], text=[p[0] for p in part],
                                 mode="lines+markers" if on_front else "markers",
                                 name="Pareto front" if on_front else "dominated",
                                 meta={"kind": "front" if on_front else "dominated"},
                                 marker={"size": 10 if on_front else 7}))
    fig.update_layout(title=f"Pareto front: {a} ({summary.objectives[0]['mode']}) against "
                      f"{b} ({summary.objectives[1]['mode']})", xaxis_title=a, yaxis_title=b, **LAYOUT)
    return fig


def importance_bar(values: dict[str, float], method: str) -> go.Figure:
    names = list(values)[::-1]
    fig = go.Figure(go.Bar(x=[values[n] for n in names], y=names, orientation="h"))
    fig.update_layout(title=f"Parameter importance ({method})", xaxis_title="importance",
                      height=max(220, 40 * len(names) + 120), **LAYOUT)
    return fig
