"""Summary lines for the steps after the search: refit, holdout scores, ensemble."""

from __future__ import annotations

from typing import Any


def describe_final(final: dict[str, Any], metric: str) -> list[str]:
    """Lines for the summary: the refit model, the holdout scores, the ensemble next to the best model."""
    lines: list[str] = []

    def fmt(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, (int, float)) else "-"

    for name, result in final.items():
        if "error" in result:
            lines.append(f"[red]{name} failed[/red]: {result['error']}")
        elif isinstance(result.get("skipped"), str):
            lines.append(f"{name}: skipped ({result['skipped']})")
    refit = final.get("refit") or {}
    ensemble = final.get("ensemble") or {}
    if "trial_id" in refit:
        where = f", saved to {refit['path']}" if refit.get("path") else ""
        lines.append(f"refit: best config (trial {refit['trial_id']}) on {refit['search_rows']} rows{where}")
        if refit.get("holdout_score") is not None:
            lines.append(f"holdout {metric} ({refit['holdout_rows']} rows the search never saw): best model {fmt(refit['holdout_score'])}"
                         + (f" | ensemble ({ensemble['method']}, {len(ensemble['member_trials'])} configs) {fmt(ensemble['holdout_score'])}"
                            if "holdout_score" in ensemble else ""))
    if "holdout_score" in ensemble:
        weights = "" if ensemble["method"] == "stacking" else f", weights {ensemble['weights']}"
        lines.append(f"ensemble: {ensemble['method']} of top {len(ensemble['member_trials'])}{weights}, "
                     f"OOF {metric} {fmt(ensemble['oof_score'])}" + (f", saved to {ensemble['path']}" if ensemble.get("path") else ""))
    return lines
