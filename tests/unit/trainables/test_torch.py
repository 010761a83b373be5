"""The torch trainable in-process (no Ray): restore exactness, hypergradients, pruning,
threads, data caching and spec checks. Small: digits subsets, a few epochs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from raytuner.cli.main import main  # noqa: E402
from raytuner.errors import DependencyError, SpecError  # noqa: E402
from raytuner.spec.loader import validate_spec  # noqa: E402
from raytuner.runner.plan import make_plan  # noqa: E402
from raytuner.spec.torch import TorchTrainableSpec  # noqa: E402
from raytuner.trainables.torch import data as tdata  # noqa: E402
from raytuner.trainables.torch.devices import set_threads, trial_threads  # noqa: E402
from raytuner.trainables.torch.loop import TrialSetup, prepare, train  # noqa: E402
from raytuner.trainables.torch.models import unwrap  # noqa: E402
from raytuner.trainables.torch.pruning import counts, prune_to, weight_sparsity  # noqa: E402
from raytuner.trainables.torch.report import LocalSession  # noqa: E402

DIGITS = {"source": "sklearn:digits", "subset": 300, "batch_size": 32}


def make_setup(trainable: dict[str, Any], metric: str = "val_loss", mode: str = "min", cpus: float = 1) -> TrialSetup:
    spec = TorchTrainableSpec.model_validate({"data": DIGITS, **trainable})
    return TrialSetup(spec=spec.model_dump(mode="json"), metric=metric, mode=mode, seed=7, cpus=cpus, gpus=0,
                      task="classification")


def run(setup: TrialSetup, config: dict[str, Any] | None = None, session: LocalSession | None = None) -> tuple[Any, LocalSession]:
    session = session or LocalSession()
    r = prepare(setup, config or {})
    train(r, session)
    return r, session


class CrashAfter(LocalSession):
    """Stops the trial (like a killed worker) right after epoch `epoch` was reported and its
    checkpoint written (the background write finished: ``close``)."""

    def __init__(self, directory: Path, epoch: int) -> None:
        super().__init__(directory)
        self.epoch = epoch

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        super().report(metrics, state)
        if metrics["epoch"] == self.epoch:
            self.close()
            raise KeyboardInterrupt("simulated crash")


RESTORE_CASES = {
    "sgd-momentum-step-dropout": {
        "model": {"type": "mlp", "depth": 2, "width": 32, "dropout": 0.3},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
        "schedule": {"name": "step", "step_size": 1, "gamma": 0.7},
    },
    "adam-hypergradient-pruning-during": {
        "model": {"type": "mlp", "depth": 1, "width": 48, "dropout": 0.2},
        "optimizer": {"name": "adam", "lr": 0.002, "hypergradient": {"beta": 1e-6}},
        "pruning": {"sparsity": 0.6, "when": "during", "start_epoch": 2},
    },
    "cnn-adamw-one-cycle-clip": {
        "model": {"type": "cnn", "channels": 4, "hidden": 16, "dropout": 0.2},
        "data": {**DIGITS, "shape": "image"},
        "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": 0.01},
        "schedule": {"name": "one_cycle"},
        "grad_clip": 1.0,
    },
}


@pytest.mark.parametrize("case", sorted(RESTORE_CASES))
def test_restore_resumes_exactly(case: str, tmp_path: Path) -> None:
    """4 epochs straight == 2 epochs, crash, restore from the checkpoint, 2 more (same weights)."""
    setup = make_setup({"epochs": 4, **RESTORE_CASES[case]})
    straight, s1 = run(setup)

    with pytest.raises(KeyboardInterrupt):
        run(setup, session=CrashAfter(tmp_path, epoch=2))
    torch.manual_seed(12345)  # a fresh process would have other RNG state: restore must set it
    resumed, s2 = run(setup, session=LocalSession(restore_from=tmp_path / "epoch-2"))

    assert [m["epoch"] for m in s2.reports] == [3, 4]
    a, b = unwrap(straight.model).state_dict(), unwrap(resumed.model).state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    for before, after in zip(s1.reports[2:], s2.reports):
        for key in ("train_loss", "val_loss", "val_accuracy", "lr", "sparsity"):
            assert before[key] == after[key], key


def test_restore_applies_mutated_hyperparameters(tmp_path: Path) -> None:
    """PBT restores a checkpoint under a new config: the optimiser takes the new lr."""
    setup = make_setup({"epochs": 3, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}})
    with pytest.raises(KeyboardInterrupt):
        run(setup, session=CrashAfter(tmp_path, epoch=1))
    _, s = run(setup, {"optimizer": {"lr": 0.011}}, LocalSession(restore_from=tmp_path / "epoch-1"))
    assert [m["epoch"] for m in s.reports] == [2, 3]
    assert all(m["lr"] == pytest.approx(0.011) for m in s.reports)


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "sgd", "lr": 1e-4, "hypergradient": {"beta": 0.1}},
        {"name": "adam", "lr": 1e-5, "hypergradient": {"beta": 1e-5}},
    ],
    ids=["sgd", "adam"],
)
def test_hypergradient_rescues_a_bad_initial_lr(optimizer: dict[str, Any]) -> None:
    plain_opt = {k: v for k, v in optimizer.items() if k != "hypergradient"}
    _, plain = run(make_setup({"epochs": 4, "optimizer": plain_opt}))
    _, hd = run(make_setup({"epochs": 4, "optimizer": optimizer}))
    # the lr is adapted online and its trajectory is reported
    lrs = [m["lr"] for m in hd.reports]
    assert lrs[0] > optimizer["lr"] and lrs == sorted(lrs) and len(set(lrs)) == 4
    assert all(m["lr"] == optimizer["lr"] for m in plain.reports)
    assert "hypergradient" in hd.reports[-1]
    # with a far too small lr, the plain optimiser barely moves; HD reaches a clearly lower loss
    assert hd.reports[-1]["train_loss"] < plain.reports[-1]["train_loss"] - 0.2
    assert hd.reports[-1]["val_loss"] < plain.reports[-1]["val_loss"] - 0.2


def test_hypergradient_sgd_matches_plain_sgd_when_beta_is_tiny() -> None:
    """With beta -> 0 SGD-HD is plain SGD with momentum (same update rule as torch.optim.SGD)."""
    base = {"name": "sgd", "lr": 0.05, "momentum": 0.9}
    _, plain = run(make_setup({"epochs": 2, "optimizer": base}))
    _, hd = run(make_setup({"epochs": 2, "optimizer": {**base, "hypergradient": {"beta": 1e-30}}}))
    assert hd.reports[-1]["val_loss"] == pytest.approx(plain.reports[-1]["val_loss"], rel=1e-4)


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
def test_pruning_after_training_reaches_the_sparsity(sparsity: float) -> None:
    r, s = run(make_setup({"epochs": 2, "pruning": {"sparsity": sparsity, "finetune_epochs": 1},
                           "model": {"type": "mlp", "depth": 2, "width": 64}}))
    before, pruned, tuned = s.reports
    assert before["sparsity"] == 0.0 and before["params"] == before["params_total"]
    for m in (pruned, tuned):  # fine-tuning keeps the mask
        assert m["sparsity"] == pytest.approx(sparsity, abs=1e-3)
        assert m["params"] < m["params_total"]
    nonzero, total = counts(unwrap(r.model))
    assert (nonzero, total) == (tuned["params"], tuned["params_total"])
    weights = sum(m.weight.numel() for m in unwrap(r.model).modules() if isinstance(m, torch.nn.Linear))
    assert total - nonzero == pytest.approx(sparsity * weights, abs=2)
    assert 0.0 <= tuned["val_accuracy"] <= 1.0


def test_pruning_during_training_is_gradual_and_global() -> None:
    _, s = run(make_setup({"epochs": 4, "pruning": {"sparsity": 0.8, "when": "during"}}))
    levels = [m["sparsity"] for m in s.reports]
    assert levels == sorted(levels) and levels[0] > 0 and levels[-1] == pytest.approx(0.8, abs=1e-3)
    model = torch.nn.Sequential(torch.nn.Linear(10, 10), torch.nn.Linear(10, 1000))
    with torch.no_grad():
        model[0].weight.fill_(5.0)  # big weights in the first layer: global pruning spares it
    prune_to(model, 0.5)
    assert weight_sparsity(model) == pytest.approx(0.5, abs=1e-3)
    assert int((model[0].weight == 0).sum()) == 0


def test_threads_follow_the_trials_cpus() -> None:
    spec = TorchTrainableSpec.model_validate({"data": DIGITS})
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert trial_threads(spec, 1) == 1 and trial_threads(spec, 0.5) == 1 and trial_threads(spec, 3) == 3
        assert set_threads(trial_threads(spec, 1)) == 1 and torch.get_num_threads() == 1
        pinned = TorchTrainableSpec.model_validate({"data": DIGITS, "threads": 2})
        assert trial_threads(pinned, 1) == 2
        r, s = run(make_setup({"epochs": 1}, cpus=1))
        assert s.reports[0]["threads"] == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_data_is_loaded_once_per_worker_and_batches_are_seeded() -> None:
    tdata.clear_cache()
    start = tdata.LOADS["count"]
    setup = make_setup({"epochs": 2})
    r1, _ = run(setup)
    r2, _ = run(setup, {"data": {"batch_size": 16}})  # a DataLoader option: same data
    assert tdata.LOADS["count"] == start + 1
    assert r1.train_loader.dataset is r2.train_loader.dataset
    r1.generator.manual_seed(3)
    first = [y.tolist() for _, y in r1.train_loader]
    r1.generator.manual_seed(3)
    assert [y.tolist() for _, y in r1.train_loader] == first
    x, _ = next(iter(prepare(make_setup({"model": {"type": "cnn"}, "data": {**DIGITS, "shape": "image"}}), {}).train_loader))
    assert tuple(x.shape[1:]) == (1, 8, 8)


def test_early_stopping_on_patience() -> None:
    # lr 0 never improves: patience 2 stops after epoch 3
    _, s = run(make_setup({"epochs": 10, "optimizer": {"name": "sgd", "lr": 1e-12},
                           "early_stopping": {"patience": 2, "min_delta": 0.01}}))
    assert len(s.reports) == 3 and s.reports[-1]["stopped_early"] is True


def test_schedules_move_the_lr() -> None:
    lrs = {}
    for name in ("step", "cosine", "plateau"):
        sched: dict[str, Any] = {"name": name}
        if name == "step":
            sched["step_size"] = 1
        if name == "plateau":
            sched["patience"] = 0
        _, s = run(make_setup({"epochs": 3, "optimizer": {"name": "sgd", "lr": 1e-6 if name == "plateau" else 0.1},
                               "schedule": sched}))
        lrs[name] = [m["lr"] for m in s.reports]
    assert lrs["step"] == pytest.approx([0.01, 0.001, 0.0001])
    assert lrs["cosine"][0] < 0.1 and lrs["cosine"][-1] == pytest.approx(0.0, abs=1e-12)
    assert lrs["plateau"] == pytest.approx([1e-6, 1e-7, 1e-8])  # the loss barely moves at lr 1e-6


def test_regression_data_reports_mae_and_r2() -> None:
    spec = TorchTrainableSpec.model_validate({"data": {"source": "sklearn:diabetes"}, "epochs": 2,
                                              "optimizer": {"lr": 0.01}})
    setup = TrialSetup(spec=spec.model_dump(mode="json"), metric="val_r2", mode="max", seed=0, cpus=1, gpus=0,
                       task="regression")
    _, s = run(setup)
    assert {"val_mae", "val_r2", "val_loss"} <= set(s.reports[-1])


# -- spec checks before Ray starts ------------------------------------------------


def _spec(trainable: dict[str, Any], space: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": "t", "trainable": {"type": "torch", "data": {"source": "sklearn:digits"}, **trainable},
            "space": space or {}, "metric": extra.pop("metric", "val_accuracy"), **extra}


@pytest.mark.parametrize(
    "raw, where, words",
    [
        (_spec({}, {"optimizer": {"lrr": {"type": "float", "low": 0.1, "high": 0.2}}}), "space.optimizer.lrr", "typo"),
        (_spec({}, {"model": {"dropout": {"type": "float", "low": 0.1, "high": 1.5}}}), "space.model.dropout", "less than 1"),
        (_spec({}, {"hidden": {"type": "int", "low": 1, "high": 4}}), "space.hidden", "build or data.load"),
        (_spec({}, {"workers": {"type": "choice", "values": [1, 2]}}), "space.workers", "fixed per experiment"),
        (_spec({"optimizer": {"name": "adamw", "hypergradient": {"beta": 0.1}}}), "trainable.optimizer", "sgd and adam"),
        (_spec({"optimizer": {"name": "sgd", "hypergradient": {"beta": 0.1}}, "schedule": {"name": "cosine"}}), "trainable", "hypergradient"),
        (_spec({"model": {"type": "cnn"}}), "trainable.data.shape", "[C, H, W]"),
        (_spec({"data": {"source": "sklearn:iris", "shape": "image"}}), "trainable.data.shape", "[C, H, W]"),
        (_spec({"amp": True}), "trainable.amp", "GPUs"),
        (_spec({}, metric="accuracy"), "metric.name", "val_accuracy"),
        (_spec({"loss": "mse"}), "trainable.loss", "classification loss"),
        (_spec({"loss": "nonsense"}), "trainable.loss", "import path"),
        (_spec({}, {"loss": {"type": "choice", "values": ["cross_entropy", "mse"]}}), "space.loss", "classification loss"),
        (_spec({"model": {"type": "class", "path": "collections.OrderedDict"}}), "trainable.model.path", "nn.Module"),
        (_spec({"data": {"source": "sklearn:digits", "load": "x:y"}}), "trainable.data", "exactly one"),
        (_spec({"workers": 2}, resources={"cpu": 1, "gpu": 0.5}), "resources.gpu", "whole number"),
    ],
)
def test_spec_errors_name_the_field(raw: dict[str, Any], where: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        make_plan(validate_spec(raw))
    text = str(info.value)
    assert where in text and words in text, text


def test_valid_spec_defaults_and_max_steps() -> None:
    plan = make_plan(validate_spec(_spec({"epochs": 5, "pruning": {"sparsity": 0.5, "finetune_epochs": 2}},
                                         {"epochs": {"type": "int", "low": 3, "high": 9}}, metric="val_loss")))
    assert plan.mode == "min" and plan.trainable.max_steps() == 11


def test_cli_validate_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ntrainable: {type: torch, data: {source: sklearn:digits}, optimizer: {name: sgdd}}\nmetric: val_loss\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "trainable.optimizer.name" in err and "Traceback" not in err


def test_missing_torch_is_a_clear_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(DependencyError, match=r"raytuner\[torch\]"):
        make_plan(validate_spec(_spec({})))


def test_cuda_request_without_cuda_falls_back_to_cpu_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from raytuner.trainables.torch.devices import amp_dtype, choose_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    spec = TorchTrainableSpec.model_validate({"data": DIGITS, "amp": True})
    with pytest.warns(RuntimeWarning, match="no CUDA device"):
        device = choose_device(spec, 0.5)
    assert device.type == "cpu"
    with pytest.warns(RuntimeWarning, match="mixed precision is off"):
        assert amp_dtype(spec, device) is None
    assert choose_device(spec, 0).type == "cpu"


def test_class_model_arguments_are_checked_and_tuned() -> None:
    raw = _spec({"model": {"type": "class", "path": "torch.nn.Bilinear", "args": {"in1_features": 64}}},
                {"model": {"args": {"out_featurez": {"type": "int", "low": 2, "high": 4}}}})
    with pytest.raises(SpecError, match=r"space\.model\.args\.out_featurez.*in1_features, in2_features"):
        make_plan(validate_spec(raw))
    ok = _spec({"model": {"type": "class", "path": "torch.nn.Sequential"}}, metric="val_loss")
    make_plan(validate_spec(ok))  # *args/**kwargs-free but no named args: nothing to check
    # a tuned constructor argument reaches the model
    from raytuner.trainables.torch.models import build_model

    spec = TorchTrainableSpec.model_validate({"data": DIGITS, "model": {"type": "class", "path": "torch.nn.Linear",
                                                                       "args": {"in_features": 64}}})
    from raytuner.trainables.torch.tuning import effective_spec

    model = build_model(effective_spec(spec, {"model": {"args": {"out_features": 10}}}), (64,), 10, {})
    assert (model.in_features, model.out_features) == (64, 10)


def test_bce_with_logits_on_class_labels() -> None:
    _, s = run(make_setup({"epochs": 1, "loss": "bce_with_logits"}))
    assert 0.0 <= s.reports[0]["val_accuracy"] <= 1.0


# -- user functions and files ---------------------------------------------------------


def load_pairs(config: dict[str, Any]) -> tuple[Any, Any]:
    """A user load(config): y = sum(x) > 0, as (train, val) TensorDatasets."""
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(int(config.get("data_seed", 0)))
    x = torch.randn(int(config["rows"]), 6, generator=g)
    y = (x.sum(dim=1) > 0).long()
    return TensorDataset(x[:160], y[:160]), TensorDataset(x[160:], y[160:])


def build_net(config: dict[str, Any]) -> Any:
    """A user build(config) with a tuned top-level key."""
    return torch.nn.Sequential(torch.nn.Linear(6, int(config["hidden"])), torch.nn.ReLU(),
                               torch.nn.Linear(int(config["hidden"]), 2))


def test_user_load_and_build_functions_get_the_config() -> None:
    raw = _spec({"model": {"type": "build", "function": f"{__name__}:build_net"},
                 "data": {"load": f"{__name__}:load_pairs", "task": "classification", "batch_size": 16},
                 "params": {"rows": 200}, "epochs": 3, "optimizer": {"lr": 0.01}},
                {"hidden": {"type": "int", "low": 4, "high": 16}})
    plan = make_plan(validate_spec(raw))  # 'hidden' is allowed: a build function gets it
    setup = plan.trainable.setup()
    run_, s = run(setup, {"hidden": 8})
    assert unwrap(run_.model)[0].out_features == 8
    assert s.reports[-1]["val_accuracy"] > 0.6  # learnable: better than chance


def test_csv_and_parquet_sources(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["colour"] = rng.choice(["red", "blue"], size=120)  # text: one-hot encoded
    frame["label"] = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        raw = _spec({"data": {"source": str(tmp_path / name), "target": "label", "task": "classification"},
                     "epochs": 2, "optimizer": {"lr": 0.01}})
        setup = make_plan(validate_spec(raw)).trainable.setup()
        r, s = run(setup)
        assert r.train_loader.dataset.tensors[0].shape[1] == 5  # a, b, c + 2 colour columns
        assert 0.0 <= s.reports[-1]["val_accuracy"] <= 1.0
    missing = _spec({"data": {"source": str(tmp_path / "t.csv"), "target": "nope", "task": "classification"}})
    with pytest.raises(SpecError, match="trainable.data.target"):
        make_plan(validate_spec(missing))


def test_tuned_values_are_merged_into_the_spec() -> None:
    from raytuner.trainables.torch.tuning import effective_spec

    spec = TorchTrainableSpec.model_validate({"data": DIGITS, "schedule": {"name": "step"}})
    tuned = effective_spec(spec, {"pruning": {"sparsity": 0.7}, "schedule": {"gamma": 0.5},
                                  "optimizer": {"lr": 0.02}, "data": {"batch_size": 8}, "hidden": 3})
    assert tuned.pruning is not None and tuned.pruning.sparsity == 0.7
    assert tuned.schedule.name == "step" and tuned.schedule.gamma == 0.5  # type: ignore[union-attr]
    assert (tuned.optimizer.lr, tuned.data.batch_size, tuned.data.source) == (0.02, 8, "sklearn:digits")
    with pytest.raises(ValueError, match="does not fit"):
        effective_spec(spec, {"model": {"dropout": 2.0}})
    plan = make_plan(validate_spec(_spec({}, {"pruning": {"sparsity": {"type": "float", "low": 0.0, "high": 0.9}}},
                                         metric="params")))
    assert plan.mode == "min"  # size as an objective: fewer non-zero parameters is better


def test_overlapped_session_reports_in_the_background_and_reraises_a_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report is made from another thread while the caller goes on; the next report
    waits for it; Tune's stop (SystemExit in the report) reaches the training thread."""
    import threading

    from ray import tune

    from raytuner.trainables.torch.report import OverlappedTuneSession

    release = threading.Event()
    seen: list[tuple[int, bool]] = []
    directories: list[Path] = []

    def fake_report(metrics: dict[str, Any], checkpoint: Any = None) -> None:
        if checkpoint is not None:
            directories.append(Path(checkpoint.path))
        seen.append((metrics["epoch"], checkpoint is not None and (Path(checkpoint.path) / "state.pt").is_file()))
        release.wait(10)
        if metrics["epoch"] == 2:
            sys.exit(0)  # what Ray's report does when Tune stopped the trial

    monkeypatch.setattr(tune, "report", fake_report)
    session = OverlappedTuneSession()
    session.report({"epoch": 1}, {"w": torch.ones(2)})
    assert not release.is_set()  # returned while the report is still blocked
    for _ in range(100):
        if seen:
            break
        threading.Event().wait(0.05)
    assert seen == [(1, True)] and not session.interrupted()
    release.set()
    session.report({"epoch": 2}, None)  # waits for epoch 1's report, then sends epoch 2's
    for _ in range(100):
        if session.interrupted():
            break
        threading.Event().wait(0.05)
    assert session.interrupted() and seen == [(1, True), (2, False)]
    with pytest.raises(SystemExit):
        session.close()
    assert directories and not any(d.exists() for d in directories)  # temporary checkpoint dirs removed
    session.close()  # raised once; nothing left in flight


def test_training_stops_between_batches_once_interrupted() -> None:
    class StopAtEpoch2(LocalSession):
        def __init__(self) -> None:
            super().__init__()
            self.batches = 0

        def interrupted(self) -> bool:
            self.batches += 1
            return len(self.reports) >= 1 and self.batches > 12  # some way into epoch 2

        def close(self) -> None:
            if self.interrupted():
                raise SystemExit(0)

    session = StopAtEpoch2()
    with pytest.raises(SystemExit):
        run(make_setup({"model": {"type": "mlp", "depth": 1, "width": 8}, "epochs": 4}), session=session)
    assert [r["epoch"] for r in session.reports] == [1]  # the interrupted epoch was not reported
