"""The ensemble step of a spec run: ``ensemble: {top_k, method, options}``.

Members are the top-k distinct configs (trials that ran every fold first); selection
uses their out-of-fold predictions on the search rows with the search's own CV splits;
the ensemble and the best single model are then scored on the holdout rows, which
neither the search nor the selection saw (a holdout is required).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from raytuner.errors import SpecError
from raytuner.results.final import EnsembleResult
from raytuner.trainables import TRAINABLES


class EnsembleStep:
    @staticmethod
    def check(spec: Any, inputs: Any) -> None:
        if spec.ensemble is None:
            return
        if not TRAINABLES.get(spec.trainable.type, "trainable.type").sklearn_model:
            raise SpecError.at("ensemble", spec.ensemble.model_dump(), f"unset for a {spec.trainable.type} trainable (ensembles are for sklearn)")
        if spec.trainable.data.holdout is None:
            raise SpecError.at(
                "trainable.data.holdout", None,
                "a holdout split (e.g. holdout: 0.2) when ensemble is set: the ensemble is scored "
                "on rows that neither the search nor its selection saw",
            )
        from raytuner.ensemble import make_method

        make_method(spec.ensemble.method, spec.ensemble.options)

    @staticmethod
    def applies(plan: Any) -> bool:
        from raytuner.runner.refit import is_sklearn_spec_run

        return plan.spec.ensemble is not None and is_sklearn_spec_run(plan)

    def run(self, ctx: Any) -> EnsembleResult:
        from raytuner.ensemble import build_ensemble
        from raytuner.ensemble.core import distinct_top
        from raytuner.results.export import ENSEMBLE_DIR
        from raytuner.runner.batched import release_pool
        from raytuner.runner.refit import model_meta, sklearn_parts

        release_pool()  # a batched run's warm actors give their CPUs to the ensemble's Ray tasks

        spec = ctx.spec.ensemble
        ranked = ctx.ranked()
        keep = distinct_top([t.config for t in ranked], spec.top_k)
        members = [ranked[i] for i in keep]
        parts = sklearn_parts(ctx)
        model, info = build_ensemble(
            [parts.estimator(t.config) for t in members], parts.search.X, parts.search.y, parts.splits,
            parts.scorer, spec.method, spec.options, task=parts.task, num_cpus=ctx.spec.resources.cpu,
        )
        holdout = parts.holdout
        if holdout is None:  # check() requires one; a spec changed since is a bug to report
            raise RuntimeError("the ensemble step needs trainable.data.holdout")
        score = float(parts.scorer(model, holdout.X, holdout.y))
        refit = ctx.results.refit_result
        best_single = refit.holdout_score if refit is not None else None
        if best_single is None:
            best_single = float(parts.scorer(parts.estimator(members[0].config).fit(parts.search.X, parts.search.y), holdout.X, holdout.y))
        out = EnsembleResult.of(
            info, top_k=spec.top_k, member_trials=[t.trial_id for t in members],
            holdout_score=score, best_single_holdout_score=best_single,
            search_rows=len(parts.search.y), holdout_rows=len(holdout.y),
        )
        saved = ctx.save_model(ENSEMBLE_DIR, model, model_meta(ctx, parts, "ensemble", **out.model_data()))
        return replace(out, saved=saved)


def ensemble_experiment(directory: str, method: str | None = None, top_k: int | None = None,
                        options: dict[str, Any] | None = None) -> EnsembleResult:
    """Build (or rebuild) the ensemble of a finished experiment without re-running its search.

    Reads ``spec.yaml`` and ``summary.json``, applies the method/top_k/options given,
    checks the spec as ``raytuner run`` would, runs the ensemble step and records its
    result under ``final.ensemble`` in ``summary.json``.
    """
    from pathlib import Path

    import yaml

    from raytuner.runner.finish import FinishContext
    from raytuner.spec.loader import validate_spec
    from raytuner.runner.plan import make_plan
    from raytuner.results.summary import SPEC_FILE, read_summary, write_summary

    summary = read_summary(directory)
    spec_file = Path(directory) / SPEC_FILE
    if not spec_file.is_file():
        raise SpecError.at("<experiment>", str(directory), f"an experiment directory with {SPEC_FILE}")
    raw = yaml.safe_load(spec_file.read_text())
    ensemble = dict(raw.get("ensemble") or {})
    if method is not None:
        ensemble["method"] = method
        if options is None:
            ensemble.pop("options", None)  # options belong to the method
    if top_k is not None:
        ensemble["top_k"] = top_k
    if options is not None:
        ensemble["options"] = options
    raw["ensemble"] = ensemble
    plan = make_plan(validate_spec(raw, source=str(spec_file)))
    ctx = FinishContext(plan, summary.trials, str(Path(directory).resolve()), results=summary.final)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = EnsembleStep().run(ctx)
    summary.final = summary.final.with_step("ensemble", result)
    write_summary(summary, directory)
    return result
