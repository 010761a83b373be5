"""What the runner needs from the scheduler beyond the Tuner: checkpoint retention,
and the report of what early stopping and population-based training did.

Kept out of runner.py so the runner only calls two small functions.
"""

from __future__ import annotations

from typing import Any

from raytuner.runner.plan import Plan
from raytuner.results.summary import TrialRecord


def checkpoint_config(plan: Plan) -> Any:
    """Ray's CheckpointConfig: how many per-step checkpoints each trial keeps.

    Two suffice for retries, HyperBand pauses and fold/epoch resumption; PBT and PB2
    keep enough that a donor's checkpoint still exists when a trial clones it.
    """
    from ray import tune

    return tune.CheckpointConfig(num_to_keep=plan.scheduler.checkpoints_to_keep(plan.schedule))


def scheduling_report(plan: Plan, trials: list[TrialRecord], stops: dict[str, Any] | None = None) -> dict[str, Any]:
    """Early stopping counts (trials stopped before max steps, why, steps used and
    saved) and the scheduler's own history (PBT/PB2: every exploit, each trial's
    schedule). ``stops``: what the stopping conditions did (runner.stop_reasons)."""
    report: dict[str, Any] = {"scheduler": plan.scheduler.name}
    finished = [t for t in trials if t.status == "ok"]
    limit = plan.schedule.max_steps or max((t.steps for t in finished), default=0)
    population = plan.scheduler.needs_checkpoints and not plan.scheduler.stops_early  # pbt, pb2
    if limit and finished and not population:  # PBT clones inherit the donor's step counter
        report["early_stopping"] = _early_stopping(plan, finished, limit, stops or {})
    history = plan.scheduler.history()
    if history:
        report["population"] = history
    return report


def _early_stopping(plan: Plan, finished: list[TrialRecord], limit: int, stops: dict[str, Any]) -> dict[str, Any]:
    """A trial that ended before ``limit`` steps was stopped by the condition that said
    so (target, plateau), else by the end of the experiment (experiment_plateau,
    time_limit), else by the scheduler."""
    early = [t for t in finished if 0 < t.steps < limit]
    by_condition = stops.get("trials", {})
    reasons = {t.trial_id: by_condition.get(t.trial_id) or stops.get("all") or "scheduler" for t in early}
    counts: dict[str, int] = {}
    for reason in reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    used = sum(t.steps for t in finished)
    full = limit * len(finished)
    return {
        "max_steps": limit,
        "trials": len(finished),
        "stopped_early": len(early),
        "stopped_by": dict(sorted(counts.items())),
        "stop_reasons": dict(sorted(reasons.items())),
        "steps_used": used,
        "steps_if_all_ran": full,
        "steps_saved": full - used,
        "stopped_trials": sorted(reasons),
    }
