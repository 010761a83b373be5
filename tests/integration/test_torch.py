"""The torch trainable on a real local Ray: failure retries resume from checkpoints,
data-parallel trials (DDP, gloo on CPU), threads matched to the trial's CPUs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from raytuner.spec.loader import validate_spec  # noqa: E402
from raytuner.results.summary import read_summary  # noqa: E402
from raytuner.runner.experiment import run_experiment  # noqa: E402


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
    from raytuner.runner.plan import make_plan
    from raytuner.trainables.torch.loop import prepare, train
    from raytuner.trainables.torch.report import LocalSession

    trainable = {"model": {"type": "build", "function": "raytuner.testing:flaky_torch_model"},
                 "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "epochs": 4}
    # 160 training rows / 32 = 5 batches per epoch: the 13th batch (epoch 3) fails once
    flaky = _spec(storage, {**trainable, "params": {"marker_dir": str(tmp_path), "fail_after_batches": 12}},
                  failure={"max_retries": 1})
    summary = run_experiment(flaky, show_progress=False)
    assert (tmp_path / "failed-once").exists()
    trial = summary.trials[0]
    assert trial.status == "ok", trial.error
    assert trial.metrics["epoch"] == 4 and trial.metrics["threads"] == 1  # threads = resources.cpu
    # the same trial in-process, never failing: the retried trial resumed at epoch 3 from
    # its epoch-2 checkpoint and ended with exactly the same result
    plan = make_plan(_spec(storage, {**trainable, "params": {"marker_dir": str(tmp_path / "x"), "fail_after_batches": 0}}))
    session = LocalSession()
    train(prepare(plan.trainable.setup(), {}), session)
    assert session.reports[-1]["val_loss"] == trial.score
    assert session.reports[-1]["val_accuracy"] == trial.metrics["val_accuracy"]


def test_data_parallel_trial_on_cpu_with_gloo(ray_local: None, storage: Path) -> None:
    """2 DDP workers (1 CPU each: the whole test Ray). Tune stops the trial after 2 of its
    30 epochs; its workers must end with it and give their CPUs back."""
    import time

    import ray

    spec = _spec(storage, {"model": {"type": "mlp", "depth": 1, "width": 16}, "epochs": 30, "workers": 2},
                 resources={"cpu": 1}, metric="val_accuracy", stop={"max_steps": 2})
    summary = run_experiment(spec, show_progress=False)
    trial = summary.trials[0]
    assert trial.status == "ok", trial.error
    assert trial.metrics["workers"] == 2 and trial.metrics["epoch"] == 2 and trial.steps == 2
    assert 0.0 <= trial.score <= 1.0
    # rank 0's checkpoints became the Tune trial's checkpoints (what PBT and retries restore)
    assert len(sorted(Path(trial.path).glob("checkpoint_*/state.pt"))) == 2
    assert read_summary(summary.experiment_path).trials[0].metrics["workers"] == 2
    deadline = time.monotonic() + 60
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 2, "the stopped trial's DDP workers still hold CPUs"


def test_overlapped_reports_give_the_same_epochs_as_synchronous_ones(ray_local: None, storage: Path) -> None:
    """Tune stops the trial after 3 of 6 epochs: with reports overlapping the next epoch,
    the trial still reports exactly epochs 1-3, each with the same metrics as reporting
    synchronously (CPU, fixed seed), and its last checkpoint is epoch 3's."""
    from raytuner.trainables.torch import checkpoint as ckpt

    rows = {}
    for overlap in (False, True):
        spec = _spec(storage, {"model": {"type": "mlp", "depth": 1, "width": 16}, "epochs": 6,
                               "overlap_reports": overlap}, stop={"max_steps": 3}, name=f"overlap-{overlap}")
        trial = run_experiment(spec, show_progress=False).trials[0]
        assert trial.status == "ok", trial.error
        import json

        lines = Path(trial.path, "result.json").read_text().splitlines()
        rows[overlap] = [json.loads(line) for line in lines if line.strip()]
        last = sorted(Path(trial.path).glob("checkpoint_*/state.pt"))[-1]
        assert ckpt.load(last.parent)["epoch"] == 3
    for key in ("epoch", "training_iteration", "train_loss", "val_loss", "val_accuracy", "lr"):
        assert [r[key] for r in rows[True]] == [r[key] for r in rows[False]], key
    assert [r["epoch"] for r in rows[True]] == [1, 2, 3]


def test_failed_data_parallel_trial_is_retried_from_rank_0s_checkpoint(
    ray_local: None, storage: Path, tmp_path: Path
) -> None:
    """2 DDP workers; one fails in epoch 2 (80 rows each, 3 batches an epoch: the 5th
    batch). Ray Train ends the worker group, Tune retries the trial, and the workers
    resume from rank 0's epoch-1 checkpoint: the step counter and the epoch agree
    (a restart from scratch would report epoch 3 at step 4)."""
    import json

    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    spec = _spec(storage, {"model": {"type": "build", "function": "raytuner.testing:flaky_torch_model"},
                           "params": {"marker_dir": str(marker_dir), "fail_after_batches": 4},
                           "epochs": 3, "workers": 2},
                 resources={"cpu": 1}, metric="val_accuracy", failure={"max_retries": 1})
    trial = run_experiment(spec, show_progress=False).trials[0]
    assert (marker_dir / "failed-once").exists()
    assert trial.status == "ok", trial.error
    assert trial.metrics["workers"] == 2 and trial.metrics["epoch"] == 3 and trial.steps == 3
    rows = [json.loads(line) for line in Path(trial.path, "result.json").read_text().splitlines() if line.strip()]
    assert [r["epoch"] for r in rows if r["training_iteration"] > 1] == [2, 3]
