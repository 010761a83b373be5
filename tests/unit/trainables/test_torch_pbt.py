"""PBT on the torch trainable in-process (no Ray): a clone restored under a mutated lr
continues its donor's schedule position, and what PBT may mutate is refused before Ray
starts when a clone could not load its donor's checkpoint (issue #16, item 6)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from raytuner.errors import SpecError  # noqa: E402
from raytuner.runner.plan import make_plan  # noqa: E402
from raytuner.spec.loader import validate_spec  # noqa: E402
from raytuner.spec.torch import TorchTrainableSpec  # noqa: E402
from raytuner.trainables.torch.loop import TrialSetup, prepare, train  # noqa: E402
from raytuner.trainables.torch.report import LocalSession  # noqa: E402

DIGITS = {"source": "sklearn:digits", "subset": 200, "batch_size": 50}


class SafeDropout(torch.nn.Dropout):
    """A model class that declares which constructor arguments keep its parameter shapes."""

    raytuner_mutable = ("p",)


def setup(schedule: dict[str, Any], lr: float = 0.2, epochs: int = 6) -> TrialSetup:
    spec = TorchTrainableSpec.model_validate({
        "data": DIGITS, "model": {"type": "mlp", "depth": 1, "width": 8}, "epochs": epochs,
        "optimizer": {"name": "sgd", "lr": lr, "momentum": 0.5}, "schedule": schedule,
    })
    return TrialSetup(spec=spec.model_dump(mode="json"), metric="val_loss", mode="min", seed=3, cpus=1, gpus=0,
                      task="classification")


class LrLog(LocalSession):
    """Records the lr in the optimiser's param groups at every report (what the next epoch
    trains with) and stops after ``stop_after`` epochs, its checkpoint written."""

    def __init__(self, run: Any = None, directory: Path | None = None, stop_after: int | None = None,
                 restore_from: Path | None = None) -> None:
        super().__init__(directory, restore_from=restore_from)
        self.run, self.stop_after, self.lrs = run, stop_after, {}

    def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
        super().report(metrics, state)
        self.lrs[metrics["epoch"]] = self.run.optimizer.param_groups[0]["lr"]
        assert self.lrs[metrics["epoch"]] == metrics["lr"]  # the reported lr is the optimiser's
        if metrics["epoch"] == self.stop_after:
            self.close()
            raise KeyboardInterrupt("the donor is cloned here")


def lrs(trial: TrialSetup, config: dict[str, Any] | None = None, **session: Any) -> dict[int, float]:
    run = prepare(trial, config or {})
    log = LrLog(run, **session)
    try:
        train(run, log)
    except KeyboardInterrupt:
        pass
    return log.lrs


def cosine(base: float, epoch: int, t_max: int, eta_min: float) -> float:
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2


SCHEDULES = {
    "step": ({"name": "step", "step_size": 1, "gamma": 0.5}, lambda base, e: base * 0.5**e),
    "step-every-2": ({"name": "step", "step_size": 2, "gamma": 0.5}, lambda base, e: base * 0.5 ** (e // 2)),
    "cosine": ({"name": "cosine", "t_max": 8, "eta_min": 0.01}, lambda base, e: cosine(base, e, 8, 0.01)),
    "one-cycle": ({"name": "one_cycle"}, None),  # per batch: compared with an uninterrupted run at the new lr
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_a_clone_continues_its_donors_schedule_with_the_mutated_base_lr(name: str, tmp_path: Path) -> None:
    schedule, expected = SCHEDULES[name]
    donor = lrs(setup(schedule, lr=0.2), directory=tmp_path, stop_after=4)
    clone = lrs(setup(schedule, lr=0.2), {"optimizer": {"lr": 0.05}}, restore_from=tmp_path / "epoch-4")
    assert sorted(clone) == [5, 6]
    if expected is None:
        fresh = lrs(setup(schedule, lr=0.05))  # one-cycle at base 0.05 from the start
        want = {e: fresh[e] for e in (5, 6)}
    else:
        assert donor == pytest.approx({e: expected(0.2, e) for e in range(1, 5)})
        want = {e: expected(0.05, e) for e in (5, 6)}
    assert clone == pytest.approx(want, rel=1e-9)  # not the undecayed 0.05, and still decaying


def test_mutating_another_optimizer_value_keeps_the_lr_where_the_schedule_is(tmp_path: Path) -> None:
    schedule = {"name": "step", "step_size": 1, "gamma": 0.5}
    lrs(setup(schedule), directory=tmp_path, stop_after=2)
    clone = lrs(setup(schedule), {"optimizer": {"momentum": 0.8}}, restore_from=tmp_path / "epoch-2")
    assert clone == pytest.approx({3: 0.2 * 0.5**3, 4: 0.2 * 0.5**4, 5: 0.2 * 0.5**5, 6: 0.2 * 0.5**6})


# -- what PBT may mutate, before Ray starts -----------------------------------------


def pbt_spec(space: dict[str, Any], options: dict[str, Any] | None = None, name: str = "pbt",
             model: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": "t",
            "trainable": {"type": "torch", "data": {"source": "sklearn:digits"}, "epochs": 4,
                          "model": model or {"type": "mlp"}},
            "space": space, "metric": "val_accuracy", "strategy": {"name": "random"},
            "scheduler": {"name": name, "options": {"perturbation_interval": 2, **(options or {})}}}


SPACE = {"model": {"width": {"type": "int", "low": 8, "high": 64}, "dropout": {"type": "float", "low": 0, "high": 0.5}},
         "optimizer": {"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}}}


@pytest.mark.parametrize("name, options, where", [
    ("pbt", {"mutations": ["optimizer.lr", "model.width"]}, "scheduler.options.mutations.1"),
    ("pbt", {"mutations": {"model": {"width": {"type": "int", "low": 8, "high": 64}}}},
     "scheduler.options.mutations.model.width"),
    ("pb2", {"bounds": ["model.width"]}, "scheduler.options.bounds.0"),
    ("pb2", {"bounds": {"model.width": [8, 64]}}, "scheduler.options.bounds.model.width"),
])
def test_mutating_a_shape_changing_field_is_a_spec_error(name: str, options: dict[str, Any], where: str) -> None:
    with pytest.raises(SpecError) as info:
        make_plan(validate_spec(pbt_spec(SPACE, options, name)))
    problem = info.value.problems[0]
    assert problem.path == where and problem.value == "model.width"
    assert "parameter shapes" in problem.expected and "dropout" in problem.expected


def test_the_default_mutations_leave_shape_changing_fields_out() -> None:
    plan = make_plan(validate_spec(pbt_spec(SPACE)))
    assert plan.scheduler.explored_space(plan.schedule).keys() == {"model", "optimizer"}
    assert set(plan.scheduler.explored_space(plan.schedule)["model"]) == {"dropout"}
    with pytest.raises(SpecError, match=r"scheduler\.options\.mutations.*model\.width cannot be"):
        make_plan(validate_spec(pbt_spec({"model": {"width": SPACE["model"]["width"]}})))


def test_a_schedule_setting_is_refused_and_a_model_class_declares_its_safe_arguments() -> None:
    gamma = {"schedule": {"gamma": {"type": "float", "low": 0.1, "high": 0.9}}}
    raw = pbt_spec(gamma, {"mutations": ["schedule.gamma"]})
    raw["trainable"]["schedule"] = {"name": "step"}
    with pytest.raises(SpecError, match="restores its donor's schedule"):
        make_plan(validate_spec(raw))
    dropout = {"model": {"args": {"p": {"type": "float", "low": 0.0, "high": 0.5}}}}
    model = {"type": "class", "path": "torch.nn.Dropout"}
    with pytest.raises(SpecError, match="raytuner_mutable"):
        make_plan(validate_spec(pbt_spec(dropout, {"mutations": ["model.args.p"]}, model=model)))
    model["path"] = f"{__name__}:SafeDropout"
    make_plan(validate_spec(pbt_spec(dropout, {"mutations": ["model.args.p"]}, model=model)))
