"""trainable.train_step / eval_step in-process (no Ray): the hooks are called, the loop's
optimiser step, schedules, pruning and checkpoints keep working, bad hooks are spec errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from raytuner.errors import SpecError  # noqa: E402
from raytuner.runner.plan import make_plan  # noqa: E402
from raytuner.spec.loader import validate_spec  # noqa: E402
from raytuner.trainables.torch.models import unwrap  # noqa: E402
from raytuner.trainables.torch.report import LocalSession  # noqa: E402

from tests.unit.trainables.test_torch import CrashAfter, make_setup, run  # noqa: E402

STEPS = "raytuner.testing.torch_steps"
HERE = __name__


def plain_step(model: Any, batch: Any, ctx: Any) -> Any:
    x, y = batch
    return ctx.loss_fn(model(x), y)


SEEN_DTYPES: set[Any] = set()


def recording_step(model: Any, batch: Any, ctx: Any) -> Any:
    x, y = batch
    out = model(x)
    SEEN_DTYPES.add(out.dtype)
    return ctx.loss_fn(out, y)


def detached_step(model: Any, batch: Any, ctx: Any) -> Any:
    return plain_step(model, batch, ctx).detach()


def two_args(model: Any, batch: Any) -> Any:  # no ctx
    return None


def undeclared_eval(model: Any, batch: Any, ctx: Any) -> dict[str, Any]:
    return {"val_f1": 0.5}


def lying_eval(model: Any, batch: Any, ctx: Any) -> dict[str, Any]:
    return {"val_f1": 0.5}


lying_eval.metrics = {"val_f2": "max"}  # type: ignore[attr-defined]


def bad_flag(model: Any, batch: Any, ctx: Any) -> Any:
    return None


bad_flag.optimizes = "yes"  # type: ignore[attr-defined]

NOT_A_FUNCTION = 3

SCHEDULED = {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "schedule": {"name": "one_cycle"},
             "grad_clip": 0.5}


def _weights(r: Any) -> dict[str, Any]:
    return unwrap(r.model).state_dict()


def test_a_plain_train_step_trains_exactly_like_the_built_in_step() -> None:
    """Same weights and reports: raytuner's zero_grad/backward/clip/step/per-batch schedule run around the hook."""
    builtin, s1 = run(make_setup({"epochs": 2, **SCHEDULED}))
    hooked, s2 = run(make_setup({"epochs": 2, **SCHEDULED, "train_step": f"{HERE}:plain_step"}))
    a, b = _weights(builtin), _weights(hooked)
    assert all(torch.equal(a[k], b[k]) for k in a)
    for before, after in zip(s1.reports, s2.reports):
        assert after["train_loss"] == pytest.approx(before["train_loss"], rel=1e-9)
        assert (after["val_loss"], after["lr"]) == (before["val_loss"], before["lr"])


def test_mixed_precision_runs_the_step_under_autocast_and_through_the_grad_scaler() -> None:
    """AMP needs CUDA in a spec; here a prepared run gets bf16 autocast and an enabled scaler on the CPU."""
    from raytuner.trainables.torch.loop import prepare, train

    def amp_run(trainable: dict[str, Any]) -> tuple[Any, LocalSession]:
        r = prepare(make_setup({"epochs": 2, "grad_clip": 0.5, **trainable}), {})
        r.amp, r.scaler = torch.bfloat16, torch.amp.GradScaler("cpu", init_scale=2.0**8)
        session = LocalSession()
        train(r, session)
        return r, session

    builtin, s1 = amp_run({})
    SEEN_DTYPES.clear()
    hooked, s2 = amp_run({"train_step": f"{HERE}:recording_step"})
    assert SEEN_DTYPES == {torch.bfloat16}
    a, b = _weights(builtin), _weights(hooked)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same scale/unscale/clip/step as the built-in loop
    assert s1.reports[-1]["val_loss"] == s2.reports[-1]["val_loss"]


def test_mixup_is_called_and_its_values_are_reported() -> None:
    _, plain = run(make_setup({"epochs": 1}))
    _, mixed = run(make_setup({"epochs": 1, "train_step": f"{STEPS}:mixup_step", "params": {"mixup_alpha": 0.4}}))
    assert mixed.reports[0]["train_loss"] != plain.reports[0]["train_loss"]
    assert 0.0 < mixed.reports[0]["train_mix"] < 1.0  # the mapping's other value, as train_<name>


def test_eval_step_replaces_the_evaluation_and_its_metric_can_be_the_experiments() -> None:
    raw = {"name": "t", "trainable": {"type": "torch", "data": {"source": "sklearn:digits"},
                                      "eval_step": f"{STEPS}:top2_eval",
                                      "early_stopping": {"patience": 2, "monitor": "val_loss"}},
           "metric": "val_top2_accuracy"}
    assert make_plan(validate_spec(raw)).mode == "max"  # the mode eval_step.metrics declares
    _, s = run(make_setup({"epochs": 2, "eval_step": f"{STEPS}:top2_eval"}, metric="val_top2_accuracy", mode="max"))
    last = s.reports[-1]
    assert {"val_loss", "val_accuracy", "val_top2_accuracy"} <= set(last)
    assert last["val_accuracy"] <= last["val_top2_accuracy"] <= 1.0
    _, builtin = run(make_setup({"epochs": 2}))
    assert last["val_accuracy"] == pytest.approx(builtin.reports[-1]["val_accuracy"])  # same model, same rows


@pytest.mark.parametrize(
    "hooks",
    [
        {"train_step": f"{STEPS}:mixup_step", "eval_step": f"{STEPS}:top2_eval",
         "pruning": {"sparsity": 0.5, "when": "during", "start_epoch": 2}, **SCHEDULED},
        {"train_step": f"{STEPS}:sam_step", "grad_clip": 1.0, "schedule": {"name": "step", "step_size": 1}},
    ],
    ids=["mixup-eval-pruning-one-cycle", "sam-optimizes-itself"],
)
def test_restore_with_hooks_resumes_exactly(hooks: dict[str, Any], tmp_path: Path) -> None:
    """4 epochs straight == 2, crash, restore from the checkpoint, 2 more (mixup draws from torch's RNG)."""
    setup = make_setup({"epochs": 4, **hooks})
    straight, s1 = run(setup)
    with pytest.raises(KeyboardInterrupt):
        run(setup, session=CrashAfter(tmp_path, epoch=2))
    torch.manual_seed(12345)
    resumed, s2 = run(setup, session=LocalSession(restore_from=tmp_path / "epoch-2"))
    assert [m["epoch"] for m in s2.reports] == [3, 4]
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [m["val_loss"] for m in s1.reports[2:]] == [m["val_loss"] for m in s2.reports]


def test_a_detached_loss_is_a_clear_error_in_the_trial() -> None:
    with pytest.raises(TypeError, match="optimizes = True"):
        run(make_setup({"epochs": 1, "train_step": f"{HERE}:detached_step"}))


def test_an_eval_step_returning_other_names_than_it_declares_fails_clearly() -> None:
    with pytest.raises(TypeError, match=r"declares metrics \['val_f2'\]"):
        run(make_setup({"epochs": 1, "eval_step": f"{HERE}:lying_eval"}, metric="val_f2", mode="max"))


def _spec(trainable: dict[str, Any], metric: str = "val_loss", space: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": "t", "trainable": {"type": "torch", "data": {"source": "sklearn:digits"}, **trainable},
            "space": space or {}, "metric": metric}


@pytest.mark.parametrize(
    "raw, where, words",
    [
        (_spec({"train_step": "no_such_module:step"}), "trainable.train_step", "importable module"),
        (_spec({"train_step": f"{HERE}:NOT_A_FUNCTION"}), "trainable.train_step", "a function step(model, batch, ctx)"),
        (_spec({"train_step": f"{HERE}:two_args"}), "trainable.train_step", "takes (model, batch, ctx)"),
        (_spec({"train_step": f"{HERE}:bad_flag"}), "trainable.train_step", "'optimizes' attribute"),
        (_spec({"eval_step": f"{HERE}:undeclared_eval"}), "trainable.eval_step", "eval_step.metrics"),
        (_spec({"eval_step": f"{HERE}:lying_eval"}, metric="val_accuracy"), "metric.name", "val_f2"),
        (_spec({"eval_step": f"{HERE}:lying_eval", "schedule": {"name": "plateau"}}, metric="val_f2"),
         "trainable.eval_step", "plateau"),
        (_spec({"eval_step": f"{HERE}:lying_eval"}, metric="val_f2",
               space={"schedule": {"name": {"type": "choice", "values": ["cosine", "plateau"]}}}),
         "trainable.eval_step", "plateau"),
        (_spec({"eval_step": f"{HERE}:lying_eval", "early_stopping": {"patience": 2, "monitor": "val_loss"}},
               metric="val_f2"), "trainable.early_stopping.monitor", "val_f2"),
        (_spec({}, space={"train_step": {"type": "choice", "values": [f"{HERE}:plain_step"]}}),
         "space.train_step", "fixed per experiment"),
    ],
)
def test_hook_spec_errors_name_the_field(raw: dict[str, Any], where: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        make_plan(validate_spec(raw))
    text = str(info.value)
    assert where in text and words in text, text


def test_tuned_config_keys_reach_the_step() -> None:
    """A top-level space key is allowed with a train_step and reaches it in ctx.config."""
    raw = _spec({"train_step": f"{STEPS}:mixup_step"}, space={"mixup_alpha": {"type": "float", "low": 0.0, "high": 0.5}})
    make_plan(validate_spec(raw))  # no SpecError: the key is for the step
    _, s = run(make_setup({"epochs": 1, "train_step": f"{STEPS}:mixup_step"}), {"mixup_alpha": 0.0})
    assert s.reports[0]["train_mix"] == 1.0  # alpha 0: the plain batch
