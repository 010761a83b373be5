"""The summary's lines about trials restored after a failure: where they ran, where they went
on, and from which checkpoint (``TrialRecord.restores``, written by runner.faults)."""

from __future__ import annotations

from raytuner.results.faults import NODE_LOST, Restore
from raytuner.results.summary import Summary, TrialRecord

_WHY = {NODE_LOST: "after node loss", "error": "after an error"}


def _restore(restore: Restore) -> str:
    where = f"node {restore.from_node or '?'} → " + (f"node {restore.to_node}" if restore.to_node else "not resumed")
    if restore.step is None:
        return where
    return where + (f", from checkpoint at step {restore.step}" if restore.step else ", from the start")


def _trial(trial: TrialRecord, cause: str) -> str:
    return f"trial {trial.trial_id} (" + "; ".join(_restore(r) for r in trial.restores if r.cause == cause) + ")"


def fault_lines(summary: Summary) -> list[str]:
    """'1 trial restored after node loss: trial X (node A → node B, from checkpoint at step 9)'."""
    lines = []
    for cause, why in _WHY.items():
        hit = [t for t in summary.trials if any(r.cause == cause for r in t.restores)]
        if hit:
            plural = "trial" if len(hit) == 1 else "trials"
            lines.append(f"{len(hit)} {plural} restored {why}: " + ", ".join(_trial(t, cause) for t in hit))
    return lines
