"""Summary lines about scheduling: trials stopped early (and the steps saved), PBT schedules."""

from __future__ import annotations

import json
from typing import Any

from raytuner.results.summary import Summary


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)


def scheduling_lines(summary: Summary, max_trials: int = 10) -> list[str]:
    info = summary.scheduling
    lines: list[str] = []
    early = info.early_stopping
    quiet = info.scheduler == "fifo" and early is not None and not early.stopped_early  # nothing to tell
    if early is not None and early.trials and not quiet:
        full = early.steps_if_all_ran or 1
        scheduler = f"by the {info.scheduler or 'scheduler'} scheduler"
        words = {"scheduler": scheduler, "target": "at the target", "plateau": "on a plateau",
                 "experiment_plateau": "when the experiment plateaued", "time_limit": "at the time limit",
                 "early_stopping": "by their early_stopping", "trainable": "by the trainable"}
        parts = [f"{n} {words.get(reason, 'by ' + reason)}" for reason, n in early.stopped_by.items()]
        why = f" ({', '.join(parts)})" if parts else ""
        lines.append(
            f"early stopping: {early.stopped_early} of {early.trials} trials stopped before "
            f"{early.max_steps} steps{why}; {early.steps_used} of {early.steps_if_all_ran} steps "
            f"used, {early.steps_saved} saved ({100 * early.steps_saved / full:.0f}%)"
        )
    population = info.population
    if population is not None:
        schedules = population.schedules
        lines.append(
            f"{info.scheduler or 'pbt'}: {population.exploits} exploits; "
            f"{len(schedules)} trial(s) continued from another trial's checkpoint"
        )
        for trial_id in sorted(schedules)[:max_trials]:
            steps = []
            for event in schedules[trial_id]:
                changed = ", ".join(f"{k} {_value(a)} -> {_value(b)}" for k, (a, b) in event.changed.items())
                who = "" if event.trial == trial_id else f"(as {event.trial}) "
                steps.append(
                    f"{who}at step {event.step} cloned {event.cloned} (its step {event.donor_step})"
                    + (f": {changed}" if changed else ": no change")
                )
            lines.append(f"  {trial_id}: " + "; ".join(steps))
        if len(schedules) > max_trials:
            lines.append(f"  ... {len(schedules) - max_trials} more in summary.json (scheduling.population)")
    return lines
