"""Figures over the trials' final scores: the contour of two parameters and the EDF.

- contour: the score over the two most important parameters (the importance's order; the
  first two tuned parameters when importance was skipped), interpolated between the
  trials as optuna's ``plot_contour`` does (a grid of the values seen, gaps connected),
  with the trials themselves on top;
- EDF: the empirical distribution of final scores (optuna-dashboard's EDF): for each
  score x, the fraction of scored trials with a score <= x; one line per experiment, so
  ``raytuner compare`` draws several on shared axes.
"""

from __future__ import annotations

import plotly.graph_objects as go

from raytuner.console.report.figures import LAYOUT, axis_values
from raytuner.results.experiment import Experiment, finite_number

MIN_POINTS = 3


def contour_params(experiment: Experiment, importance: dict[str, float]) -> list[str]:
    """The two parameters the contour is drawn over: most important first."""
    columns = [c.removeprefix("config.") for c in experiment.config_columns]
    ordered = [n for n in importance if n in columns] + [n for n in columns if n not in importance]
    varied = [n for n in ordered if experiment.trials[f"config.{n}"].astype(str).nunique() > 1]
    return varied[:2]


def contour(experiment: Experiment, names: list[str]) -> go.Figure | None:
    """The score over parameters ``names[0]`` (x) and ``names[1]`` (y); None when fewer than
    two parameters or fewer than MIN_POINTS scored trials."""
    if len(names) < 2:
        return None
    trials = experiment.trials[[finite_number(s) for s in experiment.trials["score"]]]
    if len(trials) < MIN_POINTS:
        return None
    (a, b) = names[:2]
    xs, xticks = axis_values(trials[f"config.{a}"])
    ys, yticks = axis_values(trials[f"config.{b}"])
    scores = [float(s) for s in trials["score"]]
    fig = go.Figure()
    fig.add_trace(go.Contour(x=xs, y=ys, z=scores, connectgaps=True, colorscale="Viridis",
                             reversescale=experiment.mode == "min", colorbar={"title": experiment.metric or "score"},
                             contours={"coloring": "heatmap"}, line={"width": 0.5}, meta={"kind": "surface"},
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="trials", meta={"kind": "trials"},
                             text=[f"{t}: {s:.6g}" for t, s in zip(trials["trial_id"], scores)], hoverinfo="text",
                             marker={"color": "white", "size": 7, "line": {"color": "black", "width": 1}}))
    fig.update_layout(title=f"Contour: {experiment.metric} over {a} and {b}", xaxis_title=a, yaxis_title=b,
                      showlegend=False, **LAYOUT)
    if xticks:
        fig.update_xaxes(**xticks)
    if yticks:
        fig.update_yaxes(**yticks)
    return fig


def edf_points(experiment: Experiment) -> tuple[list[float], list[float]]:
    """(sorted final scores, fraction of scored trials with a score <= each)."""
    scores = sorted(float(s) for s in experiment.trials["score"] if finite_number(s))
    n = len(scores)
    return scores, [(i + 1) / n for i in range(n)]


def edf(experiments: list[Experiment], labels: list[str] | None = None) -> go.Figure | None:
    """The empirical distribution function of final scores, one line per experiment."""
    labels = labels or [e.name for e in experiments]
    fig = go.Figure()
    for experiment, label in zip(experiments, labels):
        x, y = edf_points(experiment)
        if x:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"shape": "hv"}, name=label,
                                     meta={"kind": "edf", "experiment": label}))
    if not fig.data:
        return None
    metric = experiments[0].metric or "score"
    better = {"max": "right", "min": "left"}.get(experiments[0].mode or "", "")
    fig.update_layout(title=f"Empirical distribution of final {metric}" + (f" (better to the {better})" if better else ""),
                      xaxis_title=metric, yaxis_title="fraction of trials with a score <= x",
                      yaxis={"range": [0, 1.02]}, **LAYOUT)
    return fig
