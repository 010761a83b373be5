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
    info = getattr(summary, "scheduling", None) or {}
    lines: list[str] = []
    early = info.get("early_stopping")
    quiet = info.get("scheduler") == "fifo" and early and not early.get("stopped_early")  # nothing to tell
    if early and early.get("trials") and not quiet:
        full = early["steps_if_all_ran"] or 1
        scheduler = f"by the {info.get('scheduler', 'scheduler')} scheduler"
        words = {"scheduler": scheduler, "target": "at the target", "plateau": "on a plateau",
                 "experiment_plateau": "when the experiment plateaued", "time_limit": "at the time limit"}
        parts = [f"{n} {words.get(reason, 'by ' + reason)}" for reason, n in early.get("stopped_by", {}).items()]
        why = f" ({', '.join(parts)})" if parts else ""
        lines.append(
            f"early stopping: {early['stopped_early']} of {early['trials']} trials stopped before "
            f"{early['max_steps']} steps{why}; {early['steps_used']} of {early['steps_if_all_ran']} steps "
            f"used, {early['steps_saved']} saved ({100 * early['steps_saved'] / full:.0f}%)"
        )
    population = info.get("population")
    if population:
        schedules = population.get("schedules", {})
        lines.append(
            f"{info.get('scheduler', 'pbt')}: {population.get('exploits', 0)} exploits; "
            f"{len(schedules)} trial(s) continued from another trial's checkpoint"
        )
        for trial_id in sorted(schedules)[:max_trials]:
            steps = []
            for event in schedules[trial_id]:
                changed = ", ".join(f"{k} {_value(a)} -> {_value(b)}" for k, (a, b) in event["changed"].items())
                who = "" if event.get("trial") == trial_id else f"(as {event.get('trial')}) "
                steps.append(
                    f"{who}at step {event['step']} cloned {event['cloned']} (its step {event['donor_step']})"
                    + (f": {changed}" if changed else ": no change")
                )
            lines.append(f"  {trial_id}: " + "; ".join(steps))
        if len(schedules) > max_trials:
            lines.append(f"  ... {len(schedules) - max_trials} more in summary.json (scheduling.population)")
    return lines
