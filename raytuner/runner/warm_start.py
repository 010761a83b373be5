"""Warm starts: seed the strategy with the best configs of past experiments.

``warm_start: {from: history, k: 5}``: the k most similar experiments of the same model
family, metric and mode in the history store (``raytuner.results.history``), ranked by task
fingerprint; the best config of each (then the next best, round-robin, up to k configs).
``warm_start: {from: DIR, k: 5}``: the k best configs of one previous experiment directory.
Configs are fitted to the new space: range values clipped (integers snapped to the step),
configs with a choice value the new space lacks or without a value for a tuned parameter
dropped, parameters the new space lacks ignored. They reach the strategy as
``points_to_evaluate`` (tried first); what was seeded is in the summary and on the console.

On the *same task* (equal ``task_key``: same rows, trainable settings, fixed values, metric,
mode and seed; see ``raytuner.runner.history.task_key``) past results are reused without
re-running them where the strategy's searcher learns from results (``tells_past_results``:
Optuna's samplers, hyperopt's TPE, skopt, bayesopt, nevergrad): every scored past trial whose
config lies in the new space unchanged is told to the searcher with its score
(``SearchContext.evaluated``) and none of them runs again. ``warm_start.reuse: false`` turns
that off; other strategies get the configs as points_to_evaluate.
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
MAX_REUSED = 500  # past results told to a searcher at most (GP-based searchers refit on each)


def warm_start(plan: Plan) -> tuple[Plan, WarmStart | None]:
    """The plan with its strategy's points_to_evaluate seeded, and what was done (None: no warm start)."""
    ws = plan.spec.warm_start
    if ws is None:
        return plan, None
    if ws.source == HISTORY:
        report, configs, past = _from_history(plan, ws.k, ws.max_distance)
    else:
        report, configs, past = _from_directory(plan, ws.source, ws.k)
    evaluated = reusable(plan, past) if getattr(ws, "reuse", True) else []
    if evaluated:
        plan = dataclasses.replace(plan, search=dataclasses.replace(plan.search, evaluated=evaluated))
        report.reused = len(evaluated)
    points = fit_to_space(configs, plan.spec.space, report)
    told = {_key(c) for c, _ in evaluated}
    points = [p for p in points if _key(p) not in told]  # known already: not re-run
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
    if not points and report.note is None and not evaluated:
        report.note = "no config fits the new space" if configs else report.note
    return dataclasses.replace(plan, search=search, notes=plan.notes + (report.describe(),)), report


Past = list[tuple[dict[str, Any], float]]  # (config, score) of scored trials on the same task


def _from_history(plan: Plan, k: int, max_distance: float = math.inf) -> tuple[WarmStart, list[dict[str, Any]], Past]:
    from raytuner.results.history.store import HistoryStore
    from raytuner.runner.history import plan_task_key, task_fingerprint

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
        return report, [], []
    far = [s for s in found if s.distance > max_distance]
    found = [s for s in found if s.distance <= max_distance]
    report.experiments = [{"id": s.experiment.id, "name": s.experiment.name, "path": s.experiment.path,
                           "distance": round(s.distance, 4), "best_score": s.experiment.best_score} for s in found]
    if not found and far:
        report.note = (f"the nearest past experiment ({far[0].experiment.name}) is at distance "
                       f"{far[0].distance:.3g} > warm_start.max_distance {max_distance:g}")
    elif not found:
        report.note = "no past experiment of this model family, metric and mode in the history store"
    key = plan_task_key(plan)
    same = [s.experiment for s in found if key is not None and s.experiment.fingerprint.get("task_key") == key]
    past = [(t.config, float(t.score)) for e in same for t in e.trials
            if t.status == "ok" and t.score is not None and math.isfinite(t.score)]
    return report, round_robin([s.experiment.ranked_configs() for s in found], k), past


def _from_directory(plan: Plan, directory: str, k: int) -> tuple[WarmStart, list[dict[str, Any]], Past]:
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
    scored = [t for t in summary.ranked() if t.status == "ok" and t.score is not None and math.isfinite(t.score)]
    if not scored:
        report.note = "the experiment has no scored trial"
    past: Past = []
    if summary.task_key is not None:
        from raytuner.runner.history import plan_task_key

        if plan_task_key(plan) == summary.task_key:
            past = [(t.config, float(t.score)) for t in scored]  # type: ignore[arg-type]
    return report, [t.config for t in scored][:k], past


def reusable(plan: Plan, past: Past) -> Past:
    """The past results the plan's searcher is told instead of re-running them: configs in
    the new space unchanged (nothing clipped or dropped), once each (the best score of a
    config seen twice), best first, at most MAX_REUSED."""
    if not past or not getattr(plan.strategy, "tells_past_results", False) or plan.multi_objective:
        return []
    best: dict[str, tuple[dict[str, Any], float]] = {}
    sign = -1.0 if plan.mode == "max" else 1.0
    for config, score in past:
        probe = WarmStart(source="")
        fitted = fit_to_space([config], plan.spec.space, probe)
        if not fitted or probe.clipped or probe.dropped:
            continue
        key = _key(fitted[0])
        if key not in best or sign * score < sign * best[key][1]:
            best[key] = (fitted[0], score)
    ranked = sorted(best.values(), key=lambda cs: sign * cs[1])
    return ranked[:MAX_REUSED]


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


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
