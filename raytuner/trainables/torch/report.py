"""Sessions: where a trial's epochs are reported and its checkpoints kept.

Ray Tune (one worker), Ray Train (each DDP worker; rank 0 writes the checkpoint),
or in-process (tests and benchmarks). All offer ``restore()`` (the latest
checkpoint's state or None) and ``report(metrics, state)``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Protocol

from raytuner.trainables.torch import checkpoint as ckpt


class Session(Protocol):
    def restore(self) -> dict[str, Any] | None: ...

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None: ...


def _load(checkpoint: Any) -> dict[str, Any] | None:
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as directory:
        return ckpt.load(directory)


class TuneSession:
    """Inside a Ray Tune function trainable."""

    def restore(self) -> dict[str, Any] | None:
        from ray import tune

        return _load(tune.get_checkpoint())

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        from ray import tune

        if state is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="rt-ckpt-") as directory:
            ckpt.save(state, directory)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))


class TrainSession:
    """Inside a Ray Train worker: every rank reports, rank 0 with the checkpoint."""

    def __init__(self, rank: int, resume: Any = None) -> None:
        self.rank = rank
        self.resume = resume  # the Tune trial's checkpoint, when the trial was restored

    def restore(self) -> dict[str, Any] | None:
        import ray.train

        return _load(ray.train.get_checkpoint() or self.resume)

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        import ray.train

        if state is None or self.rank != 0:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="rt-ckpt-") as directory:
            ckpt.save(state, directory)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory))


class LocalSession:
    """In-process: keeps the reports; checkpoints go to ``directory``/epoch-N."""

    def __init__(self, directory: str | Path | None = None, restore_from: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else None
        self.restore_from = Path(restore_from) if restore_from else None
        self.reports: list[dict[str, Any]] = []
        self.checkpoints: list[Path] = []

    def restore(self) -> dict[str, Any] | None:
        return ckpt.load(self.restore_from) if self.restore_from else None

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        self.reports.append(dict(metrics))
        if state is not None and self.directory is not None:
            target = self.directory / f"epoch-{metrics['epoch']}"
            target.mkdir(parents=True, exist_ok=True)
            ckpt.save(state, target)
            self.checkpoints.append(target)
