"""The export step: the best trial's checkpoint saved as the experiment's model (torch runs).

The best trial is the summary's (``results.summary.best_of``: by each trial's score under
``metric.scope``). Its checkpoint at the score's step is exported (``scope: last``: the last
step; ``best``: the best one, which Ray keeps by the metric); when Ray kept none at that step
(``checkpoint_every`` > 1, a trial stopped between checkpoints), the newest one before it, and
``exported_step`` says which. The files go to ``<experiment>/model/`` (``refit.enabled``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from raytuner.results.export import MODEL_DIR, write_meta
from raytuner.results.final import ExportResult, StepSkipped
from raytuner.results.summary import best_of

STEP = "training_iteration"


def pick_checkpoint(kept: list[tuple[Any, dict[str, Any]]], step: int) -> tuple[Any, int] | None:
    """The checkpoint at ``step``, else the newest before it, else the oldest after it: (checkpoint, its step)."""
    steps = sorted(((int(m.get(STEP) or 0), c) for c, m in kept), key=lambda sc: sc[0])
    if not steps:
        return None
    before = [(s, c) for s, c in steps if s <= step]
    s, c = before[-1] if before else steps[0]
    return c, s


class CheckpointExportStep:
    @staticmethod
    def check(spec: Any, inputs: Any) -> None:
        """Nothing beyond the spec's own validation."""

    @staticmethod
    def applies(plan: Any) -> bool:
        return plan.spec.refit.enabled and plan.trainable.exports_checkpoints

    def run(self, ctx: Any) -> ExportResult | StepSkipped:
        plan = ctx.plan
        best = best_of([t for t in ctx.trials if t.status == "ok"], plan.mode)
        if best is None:
            return StepSkipped("no trial finished with a score")
        step = best.score_step or best.steps
        found = pick_checkpoint(ctx.checkpoints.get(best.trial_id, []), step)
        if found is None:
            return StepSkipped(f"trial {best.trial_id} kept no checkpoint")
        checkpoint, exported = found
        result = ExportResult(trial_id=best.trial_id, config=best.config, score=best.score, score_step=best.score_step,
                              exported_step=exported, scope=plan.scope)
        with tempfile.TemporaryDirectory(prefix="raytuner-export-") as tmp, checkpoint.as_directory() as source:
            meta = plan.trainable.export_checkpoint(source, best.config, Path(tmp))
            spec = ctx.spec
            write_meta(tmp, {**meta, "kind": "best", "experiment": spec.name, "experiment_path": ctx.experiment_path,
                             "metric": plan.metric, "mode": plan.mode, **result.model_data()}, spec.to_data())
            saved = ctx.save_directory(MODEL_DIR, Path(tmp))
        return ExportResult(**{**result.__dict__, "saved": saved})
