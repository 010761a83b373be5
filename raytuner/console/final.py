"""Summary lines for the steps after the search: refit, holdout scores, ensemble."""

from __future__ import annotations

from typing import Any

from raytuner.results.final import FinalResults, StepFailure, StepSkipped


def describe_final(final: FinalResults, metric: str) -> list[str]:
    """Lines for the summary: the refit model, the holdout scores, the ensemble next to the best model."""
    lines: list[str] = []

    def fmt(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, (int, float)) else "-"

    for name, outcome in final.steps():
        if isinstance(outcome, StepFailure):
            lines.append(f"[red]{name} failed[/red]: {outcome.error}")
        elif isinstance(outcome, StepSkipped):
            lines.append(f"{name}: skipped ({outcome.reason})")
    refit, ensemble = final.refit_result, final.ensemble_result
    if refit is not None:
        where = f", saved to {refit.saved.path}" if refit.saved and refit.saved.path else ""
        lines.append(f"refit: best config (trial {refit.trial_id}) on {refit.search_rows} rows{where}")
        if refit.holdout_score is not None:
            lines.append(f"holdout {metric} ({refit.holdout_rows} rows the search never saw): best model {fmt(refit.holdout_score)}"
                         + (f" | ensemble ({ensemble.method}, {len(ensemble.member_trials)} configs) {fmt(ensemble.holdout_score)}"
                            if ensemble is not None else ""))
    if ensemble is not None:
        weights = "" if ensemble.method == "stacking" else f", weights {ensemble.weights}"
        where = f", saved to {ensemble.saved.path}" if ensemble.saved and ensemble.saved.path else ""
        lines.append(f"ensemble: {ensemble.method} of top {len(ensemble.member_trials)}{weights}, "
                     f"OOF {metric} {fmt(ensemble.oof_score)}" + where)
    export = final.export
    if export is not None and not isinstance(export, (StepFailure, StepSkipped)):
        where = f" to {export.saved.path}" if export.saved and export.saved.path else ""
        lines.append(f"model: trial {export.trial_id}'s checkpoint at step {export.exported_step} "
                     f"({metric} {fmt(export.score)}, scope {export.scope}) exported{where}; raytuner.load_model(DIR)")
    return lines
