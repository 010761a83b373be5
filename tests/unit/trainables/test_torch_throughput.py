"""The torch loop's hot path: checkpoints written off the training thread (complete and
loadable when listed or reported, holding the reported epoch's state), no per-batch
host syncs, no per-batch session calls when the session cannot interrupt."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from raytuner.spec.torch import TorchTrainableSpec  # noqa: E402
from raytuner.trainables.torch import checkpoint as ckpt  # noqa: E402
from raytuner.trainables.torch.loop import TrialSetup, prepare, train, train_epoch  # noqa: E402
from raytuner.trainables.torch.models import unwrap  # noqa: E402
from raytuner.trainables.torch.report import LocalSession, TuneSession  # noqa: E402

DIGITS = {"source": "sklearn:digits", "subset": 320, "batch_size": 32}


def make_setup(epochs: int = 3) -> TrialSetup:
    spec = TorchTrainableSpec.model_validate(
        {"data": DIGITS, "model": {"type": "mlp", "depth": 1, "width": 16}, "epochs": epochs,
         "optimizer": {"name": "adam", "lr": 0.01}}
    )
    return TrialSetup(spec=spec.model_dump(mode="json"), metric="val_loss", mode="min", seed=3, cpus=1, gpus=0,
                      task="classification")


def test_packed_state_is_a_copy_training_cannot_change() -> None:
    weight, bias = torch.ones(3), torch.zeros(2, dtype=torch.float64)  # bias: the only tensor of its dtype
    state = {"model": {"w": weight, "b": bias}, "groups": [{"lr": 0.1, "params": [0]}], "rng": (1, 2)}
    packed = ckpt.pack(state)
    weight.add_(5)
    bias.add_(5)
    state["groups"][0]["lr"] = 9.0
    copy = packed.unpack()
    assert torch.equal(copy["model"]["w"], torch.ones(3)) and torch.equal(copy["model"]["b"], torch.zeros(2).double())
    assert copy["groups"][0]["lr"] == 0.1 and copy["rng"] == (1, 2)


def test_saved_state_loads_back_exactly_and_old_torch_save_files_still_load(tmp_path: Path) -> None:
    """Dtypes, strides (channels_last, expanded), 0-d, empty, sparse and requires_grad come back
    as they were; the RNG states restore the same draws; a state.pt written by torch.save
    (checkpoints from before the packed format) still loads."""
    import random

    import numpy as np

    ckpt.seed_everything(7)
    rng = ckpt.rng_state()
    draws = (random.random(), float(np.random.normal()), torch.rand(2))
    state = {
        "w": torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last), "step": torch.tensor(3.0),
        "half": torch.randn(4, dtype=torch.bfloat16), "mask": torch.tensor([True, False]),
        "empty": torch.zeros(0, dtype=torch.float64), "wide": torch.ones(2).expand(3, 2),
        "sparse": torch.eye(3).to_sparse(), "grad": torch.ones(2, requires_grad=True),
        "groups": [{"lr": 0.1, "betas": (0.9, 0.99)}], "rng": rng,
    }
    ckpt.save(state, tmp_path)
    back = ckpt.load(tmp_path)
    for key in ("w", "step", "half", "mask", "empty", "wide", "grad"):
        assert torch.equal(back[key], state[key]) and back[key].dtype == state[key].dtype, key
        assert back[key].requires_grad == state[key].requires_grad, key
    assert back["w"].stride() == state["w"].stride()
    assert torch.equal(back["sparse"].to_dense(), torch.eye(3)) and back["groups"] == state["groups"]
    ckpt.set_rng_state(back["rng"])
    assert (random.random(), float(np.random.normal())) == draws[:2] and torch.equal(torch.rand(2), draws[2])

    old = {"epoch": 2, "w": torch.ones(2), "rng": {**rng, "python": random.getstate()}}
    torch.save(old, tmp_path / ckpt.STATE_FILE)
    loaded = ckpt.load(tmp_path)
    assert loaded["epoch"] == 2 and torch.equal(loaded["w"], torch.ones(2))
    ckpt.set_rng_state(loaded["rng"])


def test_background_checkpoint_is_listed_only_once_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """report() returns before the file is written; the directory is listed once the file is
    whole; it holds the state as it was at report time, not the tensors trained since."""
    release, writing = threading.Event(), threading.Event()
    real_save = ckpt.save

    def slow_save(state: dict[str, Any], directory: Any) -> Path:
        writing.set()
        assert release.wait(10)
        return real_save(state, directory)

    monkeypatch.setattr(ckpt, "save", slow_save)
    session = LocalSession(tmp_path)
    weight = torch.zeros(4)
    session.report({"epoch": 1}, {"model": {"w": weight}})
    assert writing.wait(10)
    weight.add_(1.0)  # the next epoch trains while the write is in flight
    assert session.checkpoints == [] and not (tmp_path / "epoch-1" / ckpt.STATE_FILE).exists()
    release.set()
    session.close()
    assert session.checkpoints == [tmp_path / "epoch-1"]
    assert torch.equal(ckpt.load(tmp_path / "epoch-1")["model"]["w"], torch.zeros(4))


def test_every_epoch_checkpoint_written_when_train_returns_and_resume_continues(tmp_path: Path) -> None:
    setup = make_setup(epochs=4)
    straight = prepare(setup, {})
    s1 = LocalSession(tmp_path)
    train(straight, s1)
    assert s1.checkpoints == [tmp_path / f"epoch-{e}" for e in (1, 2, 3, 4)]
    assert [ckpt.load(d)["epoch"] for d in s1.checkpoints] == [1, 2, 3, 4]
    resumed = prepare(setup, {})
    s2 = LocalSession(restore_from=tmp_path / "epoch-2")
    train(resumed, s2)
    assert [r["epoch"] for r in s2.reports] == [3, 4]
    assert [r["val_loss"] for r in s2.reports] == [r["val_loss"] for r in s1.reports[2:]]
    a, b = unwrap(straight.model).state_dict(), unwrap(resumed.model).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_failed_background_write_stops_training_and_is_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(state: dict[str, Any], directory: Any) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "save", full_disk)
    session = LocalSession(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        train(prepare(make_setup(epochs=5), {}), session)
    assert len(session.reports) < 5 and session.checkpoints == []


def test_overlapped_report_names_a_complete_checkpoint_of_its_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    from ray import tune

    from raytuner.trainables.torch.report import OverlappedTuneSession

    loaded: list[tuple[int, float]] = []

    def fake_report(metrics: dict[str, Any], checkpoint: Any = None) -> None:
        state = ckpt.load(checkpoint.path)  # complete when the report names it
        loaded.append((state["epoch"], float(state["model"]["w"].sum())))

    monkeypatch.setattr(tune, "report", fake_report)
    session = OverlappedTuneSession()
    weight = torch.zeros(2)
    for epoch in (1, 2, 3):
        weight.fill_(float(epoch))
        session.report({"epoch": epoch}, {"epoch": epoch, "model": {"w": weight}})
    session.close()
    assert loaded == [(1, 2.0), (2, 4.0), (3, 6.0)]


class _SyncCounter:
    """Counts host syncs (Tensor.item/__float__/tolist/__bool__) made by raytuner's code
    (torch's own optimisers read their CPU step counters with .item(): not ours to count)."""

    NAMES = ("item", "__float__", "tolist", "__bool__")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(name, original))

    def _wrap(self, name: str, original: Any) -> Any:
        def counted(tensor: Any, *args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code.co_filename
            if f"{os.sep}raytuner{os.sep}" in caller:
                self.calls.append(f"{name} from {Path(caller).name}:{sys._getframe(1).f_lineno}")
            return original(tensor, *args, **kwargs)

        return counted


def test_small_models_get_torchs_fused_optimizer_step_unless_turned_off() -> None:
    assert prepare(make_setup(), {}).optimizer.defaults.get("fused") is True
    spec = {**make_setup().spec, "optimizer": {"name": "adam", "lr": 0.01, "fused": False}}
    off = prepare(TrialSetup(**{**make_setup().__dict__, "spec": spec}), {})
    assert not off.optimizer.defaults.get("fused")


def test_no_per_batch_host_sync_or_session_call(monkeypatch: pytest.MonkeyPatch) -> None:
    run = prepare(make_setup(), {})
    batches = len(run.train_loader)
    assert batches >= 8
    counter = _SyncCounter(monkeypatch)
    loss = train_epoch(run)
    assert loss > 0 and len(counter.calls) <= 1, counter.calls  # one sync per epoch: the mean loss

    asked: list[int] = []

    class Counting(TuneSession):
        def interrupted(self) -> bool:
            asked.append(1)
            return False

        def restore(self) -> None:
            return None

        def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
            return None

    train(prepare(make_setup(epochs=2), {}), Counting())
    assert len(asked) == 2  # once per epoch (after training it), never per batch
