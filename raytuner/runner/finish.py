"""After the search: the steps that turn trial results into final models and scores.

The runner makes one call, :func:`finish_experiment`, once the trials are done (Ray is
still up, so steps may run Ray tasks). Each step is a small class named here in order
(one line per step, imported lazily): ``check`` runs in ``make_plan`` before Ray starts,
``applies`` says whether the spec asks for it, ``run`` returns a typed record
(raytuner.results.final) that goes into ``summary.json`` under ``final.<name>``. A step
that fails is reported there as a ``StepFailure`` (``{"error": ...}``) and shown in the
summary; it never loses the search's results.

Rows held out by ``trainable.data.holdout`` never reach a trial (see raytuner.trainables.holdout);
steps score on them last.
"""

from __future__ import annotations

import importlib
import math
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raytuner.results.final import FinalResults, SavedFiles, StepFailure
from raytuner.results.summary import TrialRecord

FINISH_STEPS: list[tuple[str, str]] = [
    ("refit", "raytuner.runner.refit:RefitStep"),
    ("ensemble", "raytuner.runner.ensemble_step:EnsembleStep"),
    ("export", "raytuner.runner.export_step:CheckpointExportStep"),
]


def _step(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def check_finish(spec: Any, inputs: Any = None) -> None:
    """Validate every step's part of the spec (SpecError before Ray starts)."""
    for _, target in FINISH_STEPS:
        _step(target).check(spec, inputs)


@dataclass
class FinishContext:
    plan: Any
    trials: list[TrialRecord]
    experiment_path: str
    results: FinalResults = field(default_factory=FinalResults)  # earlier steps' outcomes
    cache: dict[str, Any] = field(default_factory=dict)  # shared objects (data, models)
    # trial id -> the checkpoints Ray kept, with their reports: [(ray.tune.Checkpoint, metrics), ...]
    checkpoints: dict[str, list[tuple[Any, dict[str, Any]]]] = field(default_factory=dict)

    @property
    def spec(self) -> Any:
        return self.plan.spec

    def save_model(self, name: str, model: Any, meta: dict[str, Any]) -> SavedFiles:
        """Save a step's model under ``<experiment>/<name>``: written in place for a local
        experiment, written to a temporary folder and uploaded for remote storage (s3://...)."""
        from raytuner.results.export import save_model

        spec = self.spec
        if "://" not in self.experiment_path:
            directory = Path(self.experiment_path) / name
            saved = save_model(directory, model, meta, spec.refit.formats, spec.to_data())
            return SavedFiles(path=str(directory), files=saved["files"], skipped=saved["skipped"])
        from raytuner.results.storage import resolve, upload_tree

        target = resolve(self.experiment_path, endpoint=spec.storage.endpoint, region=spec.storage.region).child(name)
        with tempfile.TemporaryDirectory(prefix="raytuner-model-") as tmp:
            saved = save_model(tmp, model, meta, spec.refit.formats, spec.to_data())
            upload_tree(Path(tmp), target)
        return SavedFiles(path=target.uri, files=saved["files"], skipped=saved["skipped"])

    def save_directory(self, name: str, source: Path) -> SavedFiles:
        """Put a directory of files written by a step at ``<experiment>/<name>`` (uploaded for s3://...)."""
        import shutil

        files = sorted(p.name for p in source.iterdir() if p.is_file())
        if "://" not in self.experiment_path:
            target = Path(self.experiment_path) / name
            shutil.copytree(source, target, dirs_exist_ok=True)
            return SavedFiles(path=str(target), files=files)
        from raytuner.results.storage import resolve, upload_tree

        spec = self.spec
        remote = resolve(self.experiment_path, endpoint=spec.storage.endpoint, region=spec.storage.region).child(name)
        upload_tree(source, remote)
        return SavedFiles(path=remote.uri, files=files)

    def ranked(self) -> list[TrialRecord]:
        """Scored trials, best first; trials that ran every step rank before early-stopped ones."""
        scored = [t for t in self.trials if t.status == "ok" and isinstance(t.score, (int, float)) and math.isfinite(t.score)]
        full = self.plan.schedule.max_steps
        sign = -1.0 if self.plan.mode == "max" else 1.0
        return sorted(scored, key=lambda t: (full is not None and t.steps < full, sign * float(t.score)))  # type: ignore[arg-type]


def finish_experiment(plan: Any, trials: list[TrialRecord], experiment_path: str,
                      checkpoints: dict[str, list[tuple[Any, dict[str, Any]]]] | None = None) -> FinalResults:
    """Run every step the spec asks for; returns every step's outcome for the summary."""
    ctx = FinishContext(plan, trials, experiment_path, checkpoints=dict(checkpoints or {}))
    for name, target in FINISH_STEPS:
        step = _step(target)
        if not step.applies(plan):
            continue
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():  # quiet like the trials (their warnings stay on the workers)
                warnings.simplefilter("ignore")
                outcome = step().run(ctx).timed(round(time.perf_counter() - start, 3))
        except Exception as exc:  # reported in summary.json and the summary, never lost
            outcome = StepFailure(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=8))
        ctx.results = ctx.results.with_step(name, outcome)
    return ctx.results
