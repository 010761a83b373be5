"""What the runner needs from the scheduler beyond the Tuner: the report of what early
stopping and population-based training did.

Kept out of runner.py so the runner only calls one small function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from raytuner.runner.plan import Plan
from raytuner.results.scheduling import EarlyStopping, SchedulingReport
from raytuner.results.summary import TrialRecord


@dataclass(frozen=True)
class StopReasons:
    """What the stopping conditions did: the condition that stopped each trial it stopped,
    and the one that ended the whole experiment ("time_limit" included), if any."""

    trials: dict[str, str] = field(default_factory=dict)  # trial id -> condition
    ended_by: str | None = None


def scheduling_report(plan: Plan, trials: list[TrialRecord], stops: StopReasons | None = None) -> SchedulingReport:
    """Early stopping counts (trials stopped before max steps, why, steps used and
    saved) and the scheduler's own history (PBT/PB2: every exploit, each trial's
    schedule). ``stops``: what the stopping conditions did (experiment.stop_reasons)."""
    finished = [t for t in trials if t.status == "ok"]
    limit = plan.schedule.max_steps or max((t.steps for t in finished), default=0)
    early = None
    if limit and finished:  # a PBT clone's step counter goes on from its donor's: it ends at limit too
        fallback = "scheduler" if plan.scheduler.stops_early else "trainable"
        early = _early_stopping(finished, limit, stops or StopReasons(), fallback)
        if plan.scheduler.explores_itself and not early.stopped_early:
            early = None  # PBT/PB2 stop no trial themselves: nothing to tell
    return SchedulingReport(scheduler=plan.scheduler.name, early_stopping=early, population=plan.scheduler.history())


def _own_stop(trial: TrialRecord) -> str | None:
    reason = trial.metrics.get("stopped_by")
    if isinstance(reason, str):
        return reason
    return "early_stopping" if trial.metrics.get("stopped_early") is True else None  # torch early_stopping


def _early_stopping(finished: list[TrialRecord], limit: int, stops: StopReasons,
                    fallback: str = "scheduler") -> EarlyStopping:
    """A trial that ended before ``limit`` steps was stopped by the condition that said
    so (target, plateau), else by the end of the experiment (experiment_plateau,
    time_limit), else by the trainable itself if its last report says so (``stopped_by``:
    XGBoost/LightGBM early_stopping_rounds; ``stopped_early``: torch early_stopping), else
    by the scheduler when it stops trials early (``fallback``: "scheduler"), else by the
    trainable (PBT and PB2 never stop a trial)."""
    early = [t for t in finished if 0 < t.steps < limit]
    reasons = {t.trial_id: stops.trials.get(t.trial_id) or stops.ended_by or _own_stop(t) or fallback for t in early}
    counts: dict[str, int] = {}
    for reason in reasons.values():
        counts[reason] = counts.get(reason, 0) + 1
    used = sum(t.steps for t in finished)
    full = limit * len(finished)
    return EarlyStopping(
        max_steps=limit,
        trials=len(finished),
        stopped_early=len(early),
        stopped_by=dict(sorted(counts.items())),
        stop_reasons=dict(sorted(reasons.items())),
        steps_used=used,
        steps_if_all_ran=full,
        steps_saved=full - used,
        stopped_trials=sorted(reasons),
    )
