"""The torch trainable on a real local Ray: failure retries resume from checkpoints,
data-parallel trials (DDP, gloo on CPU), threads matched to the trial's CPUs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from raytuner.loader import validate_spec  # noqa: E402
from raytuner.results import read_summary  # noqa: E402
from raytuner.runner import run_experiment  # noqa: E402


def _spec(storage: Path, trainable: dict[str, Any], **extra: Any) -> Any:
    raw = {
        "name": "torch-e2e",
        "trainable": {"type": "torch", "data": {"source": "sklearn:digits", "subset": 200, "batch_size": 32},
                      **trainable},
        "metric": "val_loss",
        "strategy": {"name": "random", "seed": 3},
        "budget": {"trials": 1},
        "storage": {"path": str(storage)},
        **extra,
    }
    return validate_spec(raw)


def test_failed_trial_is_retried_from_its_checkpoint_and_ends_as_if_never_failed(
    ray_local: None, storage: Path, tmp_path: Path
) -> None:
    trainable = {"model": {"type": "build", "function": "raytuner.testing:flaky_torch_model"},
                 "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "epochs": 4}
    # 160 training rows / 32 = 5 batches per epoch: the 13th batch (epoch 3) fails once
    flaky = _spec(storage, {**trainable, "params": {"marker_dir": str(tmp_path), "fail_after_batches": 12}},
                  failure={"max_retries": 1})
    clean = _spec(storage, {**trainable, "params": {"marker_dir": str(tmp_path / "never"), "fail_after_batches": 0}})
    a = run_experiment(flaky, show_progress=False)
    assert (tmp_path / "failed-once").exists()
    b = run_experiment(clean, show_progress=False)
    ta, tb = a.trials[0], b.trials[0]
    assert ta.status == tb.status == "ok"
    assert ta.metrics["epoch"] == tb.metrics["epoch"] == 4
    # resumed at epoch 3 from the epoch-2 checkpoint: same result as the run that never failed
    assert ta.score == tb.score
    assert ta.metrics["val_accuracy"] == tb.metrics["val_accuracy"]
    assert ta.metrics["threads"] == 1  # matched to resources.cpu = 1


def test_data_parallel_trial_on_cpu_with_gloo(ray_local: None, storage: Path) -> None:
    spec = _spec(storage, {"model": {"type": "mlp", "depth": 1, "width": 16}, "epochs": 2, "workers": 2},
                 resources={"cpu": 1}, metric="val_accuracy")
    summary = run_experiment(spec, show_progress=False)
    trial = summary.trials[0]
    assert trial.status == "ok", trial.error
    assert trial.metrics["workers"] == 2 and trial.metrics["epoch"] == 2 and trial.steps == 2
    assert 0.0 <= trial.score <= 1.0
    # rank 0's checkpoints became the Tune trial's checkpoints (what PBT and retries restore)
    checkpoints = sorted(Path(trial.path).glob("checkpoint_*/state.pt"))
    assert len(checkpoints) == 2
    assert read_summary(summary.experiment_path).trials[0].metrics["workers"] == 2
