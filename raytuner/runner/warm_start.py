"""Warm starts: seed the strategy with the best configs of past experiments.

``warm_start: {from: history, k: 5}``: the k most similar experiments of the same model
family, metric and mode in the history store (``raytuner.results.history``), ranked by task
fingerprint; the best config of each (then the next best, round-robin, up to k configs).
``warm_start: {from: DIR, k: 5}``: the k best configs of one previous experiment directory.
Configs are fitted to the new space: range values clipped (integers snapped to the step),
configs with a choice value the new space lacks or without a value for a tuned parameter
dropped, parameters the new space lacks ignored. They reach the strategy as
``points_to_evaluate`` (tried first); what was seeded is in the summary and on the console.
"""

from __future__ import annotations

import dataclasses
import math
import json
from typing import Any

from raytuner.errors import RaytunerError, SpecError
from raytuner.results.history.records import WarmStart
from raytuner.runner.plan import Plan
from raytuner.spec.params import ChoiceParam, FloatParam, GridParam, IntParam, Space, iter_params

HISTORY = "history"


def warm_start(plan: Plan) -> tuple[Plan, WarmStart | None]:
    """The plan with its strategy's points_to_evaluate seeded, and what was done (None: no warm start)."""
    ws = plan.spec.warm_start
    if ws is None:
        return plan, None
    if ws.source == HISTORY:
        report, configs = _from_history(plan, ws.k, ws.max_distance)
    else:
        report, configs = _from_directory(plan, ws.source, ws.k)
    points = fit_to_space(configs, plan.spec.space, report)
    existing = list(plan.search.points_to_evaluate)
    if plan.search.trials is not None:
        points = points[: max(0, plan.search.trials - len(existing))]
    search = dataclasses.replace(plan.search, points_to_evaluate=existing + points)
    if points:
        try:
            plan.strategy.check(search)
        except SpecError as exc:  # e.g. the grid strategy takes no points
            report.note = f"the '{plan.strategy.name}' strategy takes no seeded configs ({exc.problems[0].expected})"
            points, search = [], plan.search
    report.configs = len(points)
    if not points and report.note is None:
        report.note = "no config fits the new space" if configs else report.note
    return dataclasses.replace(plan, search=search, notes=plan.notes + (report.describe(),)), report


def _from_history(plan: Plan, k: int, max_distance: float = math.inf) -> tuple[WarmStart, list[dict[str, Any]]]:
    from raytuner.results.history.store import HistoryStore
    from raytuner.runner.history import task_fingerprint

    report = WarmStart(source=HISTORY)
    try:
        store = HistoryStore(plan.spec.history.url)
        try:
            found = [s for s in store.similar(task_fingerprint(plan), k, metric=plan.metric)
                     if s.experiment.mode == plan.mode]
        finally:
            store.close()
    except RaytunerError as exc:
        report.note = str(exc)
        return report, []
    far = [s for s in found if s.distance > max_distance]
    found = [s for s in found if s.distance <= max_distance]
    report.experiments = [{"id": s.experiment.id, "name": s.experiment.name, "path": s.experiment.path,
                           "distance": round(s.distance, 4), "best_score": s.experiment.best_score} for s in found]
    if not found and far:
        report.note = (f"the nearest past experiment ({far[0].experiment.name}) is at distance "
                       f"{far[0].distance:.3g} > warm_start.max_distance {max_distance:g}")
    elif not found:
        report.note = "no past experiment of this model family, metric and mode in the history store"
    return report, round_robin([s.experiment.ranked_configs() for s in found], k)


def _from_directory(plan: Plan, directory: str, k: int) -> tuple[WarmStart, list[dict[str, Any]]]:
    from raytuner.results.summary import read_summary

    try:
        summary = read_summary(directory)
    except RaytunerError as exc:
        raise SpecError.at("warm_start.from", directory, f"'history' or a finished experiment directory ({exc})") from None
    if summary.metric != plan.metric or summary.mode != plan.mode:
        raise SpecError.at("warm_start.from", directory,
                           f"an experiment with metric {plan.metric} ({plan.mode}); it has {summary.metric} ({summary.mode})")
    report = WarmStart(source=directory, experiments=[{"name": summary.name, "path": summary.experiment_path,
                                                       "best_score": summary.best.score if summary.best else None}])
    ranked = [t.config for t in summary.ranked() if t.status == "ok" and t.score is not None]
    if not ranked:
        report.note = "the experiment has no scored trial"
    return report, ranked[:k]


def round_robin(ranked: list[list[dict[str, Any]]], k: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    depth = 0
    while len(out) < k and any(depth < len(r) for r in ranked):
        out.extend(r[depth] for r in ranked if depth < len(r) and len(out) < k)
        depth += 1
    return out


def fit_to_space(configs: list[dict[str, Any]], space: Space, report: WarmStart) -> list[dict[str, Any]]:
    """Each config fitted to ``space`` (clipped, or dropped), duplicates removed; notes in ``report``."""
    tuned = [(path, p) for path, p in iter_params(space) if isinstance(p, (FloatParam, IntParam, ChoiceParam, GridParam))]
    names = {".".join(path) for path, _ in iter_params(space)}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, config in enumerate(configs, start=1):
        point: dict[str, Any] = {}
        problem = None
        for path, param in tuned:
            name = ".".join(path)
            found, value = _lookup(config, path)
            if not found:
                problem = f"config {number}: no value for {name}"
                break
            fitted, ok = _fit(param, value)
            if not ok:
                problem = f"config {number}: {name}={value!r} not among {param.values}"  # type: ignore[union-attr]
                break
            if fitted != value:
                report.clipped.append(f"{name}: {value!r} -> {fitted!r}")
            _put(point, path, fitted)
        if problem is not None:
            report.dropped.append(problem)
            continue
        for name in sorted(set(_flat_names(config)) - names):
            if name not in report.ignored:
                report.ignored.append(name)
        key = json.dumps(point, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(point)
    return out


def _fit(param: Any, value: Any) -> tuple[Any, bool]:
    if isinstance(param, (ChoiceParam, GridParam)):
        return value, any(_same(value, v) for v in param.values)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value, False
    if isinstance(param, IntParam):
        snapped = param.low + param.step * math.floor((value - param.low) / param.step + 0.5)  # half up
        return int(min(max(snapped, param.low), param.high - (param.high - param.low) % param.step)), True
    return float(min(max(value, param.low), param.high)), True


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _lookup(config: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    dotted = ".".join(path)
    if dotted in config:
        return True, config[dotted]
    node: Any = config
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _put(point: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        point = point.setdefault(part, {})
    point[path[-1]] = value


def _flat_names(config: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        out.extend(_flat_names(value, name + ".") if isinstance(value, dict) else [name])
    return out
