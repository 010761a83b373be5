"""The offline HTML report of an experiment: ``raytuner report DIR`` / ``raytuner.report(DIR)``.

Reads the directory with :func:`raytuner.results.experiment.read_experiment` (finished,
running or interrupted), draws its figures (``figures``), the parameter importance
(``importance``) and writes one self-contained page (``html``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raytuner.console.report import decisions, figures, scores
from raytuner.console.report.html import Section, figure_html, note, page, pre, table
from raytuner.console.report.importance import Importance, param_importance
from raytuner.results.experiment import Experiment, read_experiment

REPORT_FILE = "report.html"


def write_report(directory: str | Path, out: str | Path | None = None, *, endpoint: str | None = None) -> Path:
    """Write the report of the experiment at ``directory`` (default ``<directory>/report.html``)."""
    experiment = read_experiment(directory, endpoint=endpoint)
    if out is None:
        out = Path(experiment.path if "://" not in experiment.path else ".") / REPORT_FILE
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(experiment), encoding="utf-8")
    return path


def render(experiment: Experiment) -> str:
    status = "finished" if experiment.finished else "not finished (no summary.json: running or interrupted)"
    return page(f"raytuner report: {experiment.name}", f"{experiment.path} · {status}", sections(experiment))


def sections(experiment: Experiment) -> list[Section]:
    out = [Section("Overview", table([overview(experiment)]))]
    figs = [figures.best_so_far(experiment, by="trial"), figures.best_so_far(experiment, by="time")]
    out.append(Section("Best so far", _figs(figs, "no trial has a score yet")))
    out.append(Section("Distribution of scores (EDF)", _figs([scores.edf([experiment])], "no trial has a score yet")))
    out.append(Section("Learning curves", _figs([figures.learning_curves(experiment)], "no per-step reports")
                       + _scheduling(experiment)))
    out.append(Section("Parallel coordinates", _figs([figures.parallel_coordinates(experiment)], "no scored trials")))
    out.append(Section("Slices", _figs(list(figures.slices(experiment)), "no scored trials")))
    importance = param_importance(experiment.trials, experiment.params(), experiment.mode)
    out.append(Section("Parameter importance", _importance(importance, experiment.metric)))
    names = scores.contour_params(experiment, importance.values)
    out.append(Section("Contour", _figs([scores.contour(experiment, names)],
                                        f"needs 2 varied parameters and {scores.MIN_POINTS} scored trials")))
    out.append(Section("Timeline", _figs([figures.timeline(experiment)], "no trial has start and end times")))
    tree = decisions.lineage(experiment)
    if tree is not None:
        out.append(Section("PBT lineage", note("Each row is a trial over its steps; an edge runs from the donor's "
                                               "step to the step at which a trial cloned it.") + figure_html(tree)))
    pareto = figures.pareto(experiment)
    if pareto is not None:
        out.append(Section("Pareto front", figure_html(pareto) + _front_table(experiment)))
    if experiment.summary is not None and experiment.summary.final.steps():
        out.append(Section("Refit, ensemble and holdout", _final(experiment)))
    out.append(Section("Failed trials", _failed(experiment)))
    out.append(Section("Trials", _trials(experiment)))
    out.append(Section("Spec and versions", _spec(experiment)))
    return out


def overview(experiment: Experiment) -> dict[str, Any]:
    trials = experiment.trials
    summary = experiment.summary
    row: dict[str, Any] = {"experiment": experiment.name, "metric": experiment.metric, "mode": experiment.mode,
                           "trials": len(trials), "failed": int((trials["status"] == "error").sum())}
    if summary is not None:
        row.update(strategy=summary.strategy, scheduler=summary.scheduler, started=summary.started_at,
                   wall_time_s=summary.wall_time_s, nodes=summary.nodes)
        if summary.best is not None:
            row.update(best_trial=summary.best.trial_id, best_score=summary.best.score)
        if summary.warm_start is not None:  # which past experiments seeded the search
            row["warm_start"] = summary.warm_start.describe()
    else:
        spec = experiment.spec
        row.update(strategy=(spec.get("strategy") or {}).get("name"), scheduler=(spec.get("scheduler") or {}).get("name"))
    row["resources"] = experiment.spec.get("resources")
    return row


def _figs(figs: list[Any], empty: str) -> str:
    drawn = [figure_html(f) for f in figs if f is not None]
    return "".join(drawn) if drawn else note(empty)


def _scheduling(experiment: Experiment) -> str:
    summary = experiment.summary
    if summary is None:
        return ""
    parts = []
    early = summary.scheduling.early_stopping
    levels = decisions.rungs(experiment)
    if levels:
        parts.append(note("rungs (dotted lines): " + ", ".join(f"{i}: step {r:g}" for i, r in enumerate(levels, 1))))
    paused = decisions.pauses(experiment)
    if paused:
        parts.append(note(f"{len(paused)} pauses (open diamonds): a trial stopped and later resumed from its checkpoint"))
    if early is not None and early.stop_reasons:
        parts.append(note(f"{early.stopped_early} of {early.trials} trials stopped before {early.max_steps} steps "
                          "(marked with x)"))
        parts.append(table([{"trial": t, "stopped by": r} for t, r in early.stop_reasons.items()]))
    population = summary.scheduling.population
    if population is not None and population.events:
        parts.append(note(f"{population.exploits} exploits (marked with a star): a trial cloned another's checkpoint"))
        parts.append(table([{"trial": e.trial, "at step": e.step, "cloned": e.cloned, "donor step": e.donor_step,
                             "changed": e.changed} for e in population.events]))
    return "".join(parts)


def _importance(result: Importance, metric: str | None) -> str:
    if result.skipped:
        return note(f"Method: {result.method}. Skipped: {result.skipped}.")
    return (note(f"Method: {result.method}, on the metric {metric}, normalised to sum to 1.")
            + figure_html(figures.importance_bar(result.values, result.method)))


def _front_table(experiment: Experiment) -> str:
    summary = experiment.summary
    assert summary is not None
    names = [o["name"] for o in summary.objectives]
    return table([{"trial": t.trial_id, **{n: t.metrics.get(n) for n in names}, "config": t.config}
                  for t in summary.front()])


def _final(experiment: Experiment) -> str:
    summary = experiment.summary
    assert summary is not None
    parts = []
    for name, outcome in summary.final.steps():
        data = outcome.to_data()
        parts.append(f"<h3>{name}</h3>" + table([{k: v for k, v in data.items() if k != "traceback"}]))
    return "".join(parts)


def _failed(experiment: Experiment) -> str:
    failed = experiment.trials[experiment.trials["status"] == "error"]
    if failed.empty:
        return note("no trial failed")
    rows = [{"trial": r["trial_id"], "node": r["node"], "config": _config(experiment, r), "error": r["error"]}
            for _, r in failed.iterrows()]
    return table(rows, error_column="error")


def _config(experiment: Experiment, row: Any) -> dict[str, Any]:
    return {c.removeprefix("config."): row[c] for c in experiment.config_columns}


def _trials(experiment: Experiment) -> str:
    columns = ["trial_id", "status", "score", "steps", "time_s", "node"] + experiment.config_columns
    records = experiment.trials[columns].to_dict("records")
    return table(records, columns)


def _spec(experiment: Experiment) -> str:
    import yaml

    parts = []
    if experiment.spec:
        parts.append("<h3>spec.yaml</h3>" + pre(yaml.safe_dump(experiment.spec, sort_keys=False)))
    else:
        parts.append(note("no spec.yaml in the experiment directory"))
    if experiment.summary is not None and experiment.summary.versions:
        parts.append("<h3>versions</h3>" + table([experiment.summary.versions]))
    return "".join(parts)
