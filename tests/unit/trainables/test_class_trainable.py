"""The class trainable's spec and plan-time checks (no Ray): what runs, what is refused and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raytuner.cli.main import main
from raytuner.errors import SpecError
from raytuner.runner.plan import make_plan
from raytuner.spec.loader import validate_spec
from raytuner.spec.models import ExperimentSpec

CLASSES = "raytuner.testing.classes"


class Local:  # a plain class with a constructor that takes nothing and no setup
    def step(self) -> dict[str, float]:
        return {"loss": 1.0}


def spec(cls: str = "Descent", scheduler: str = "fifo", **trainable: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": "cls",
        "trainable": {"type": "class", "class": cls if ":" in cls else f"{CLASSES}:{cls}", "steps": 4, **trainable},
        "space": {"lr": {"type": "float", "low": 0.01, "high": 0.5}},
        "metric": {"name": "loss", "mode": "min"},
        "scheduler": {"name": scheduler},
    }
    if scheduler in ("pbt", "pb2"):
        out["scheduler"]["options"] = {"perturbation_interval": 2}
    return out


def plan_of(raw: dict[str, Any]) -> Any:
    return make_plan(validate_spec(raw))


def refusal(raw: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(SpecError) as info:
        plan_of(raw)
    problem = info.value.problems[0]
    return problem.path, str(info.value)


def test_a_plain_class_and_a_tune_trainable_plan_with_pbt_and_asha() -> None:
    for name in ("Descent", "FileDescent"):
        plan = plan_of(spec(name, "pbt"))
        assert plan.trainable.kind == "class" and plan.trainable.checkpoints() and plan.schedule.max_steps == 4
        assert plan_of(spec(name, "asha")).schedule.max_steps == 4


def test_class_key_round_trips_and_params_clash_with_space() -> None:
    loaded = validate_spec(spec(params={"target": 2.0}))
    assert loaded.trainable.cls == f"{CLASSES}:Descent"
    assert ExperimentSpec.model_validate(loaded.to_data()) == loaded
    with pytest.raises(SpecError, match="both fixed in trainable.params and tuned"):
        validate_spec(spec(params={"lr": 0.1}))


@pytest.mark.parametrize(("cls", "expected"), [
    ("NoStep", "a step() method"),
    ("SaveOnly", "it has save_checkpoint; add load_checkpoint"),
    ("raytuner.testing:branin", "a class with setup(config) and step() (got a function)"),
    ("raytuner.testing.classes:Missing", "a name defined in module"),
    (f"{__name__}:Local", "constructor takes the config"),
])
def test_a_class_that_cannot_run_is_refused_naming_the_field(cls: str, expected: str) -> None:
    path, text = refusal(spec(cls))
    assert path == "trainable.class" and expected in text


def test_schedulers_that_clone_need_both_checkpoint_methods_every_step() -> None:
    path, text = refusal(spec("NoCheckpoints", "pbt"))
    assert path == "scheduler.name" and "save_checkpoint and load_checkpoint" in text
    path, _ = refusal(spec("Descent", "hyperband", checkpoint_every=2))
    assert path == "scheduler.name"
    assert plan_of(spec("NoCheckpoints", "asha")).trainable.checkpoints() is False  # asha stops, never restores


def test_a_run_nothing_would_end_is_refused() -> None:
    raw = spec()
    del raw["trainable"]["steps"]
    path, text = refusal(raw)
    assert path == "trainable.steps" and "stop.max_steps" in text
    assert plan_of({**raw, "stop": {"max_steps": 5}}).schedule.max_steps == 5
    assert plan_of({**raw, "budget": {"time_limit_s": 10}}).schedule.max_steps is None


def test_mode_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = refusal({**spec(), "metric": {"name": "loss"}})
    assert path == "metric.mode"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: c\ntrainable: {type: class, class: raytuner.testing.classes:NoStep, steps: 2}\n"
                   "space: {lr: {type: float, low: 0.1, high: 0.2}}\nmetric: {name: loss, mode: min}\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "trainable.class" in err and "Traceback" not in err
