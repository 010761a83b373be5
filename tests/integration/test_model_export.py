"""The best model back for torch runs (issue 13 item 6) and the results tables (item 7), on the
session's local Ray: one small pruned torch run (metric.scope: best) serves every check."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raytuner.results.summary import read_summary  # noqa: E402
from raytuner.runner.experiment import run_experiment  # noqa: E402
from raytuner.spec.loader import validate_spec  # noqa: E402


@pytest.fixture(scope="module")
def torch_run(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Any]:
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("export")
    frame = load_digits(as_frame=True).frame.rename(columns={"target": "label"}).iloc[:300]
    csv = root / "digits.csv"
    frame.to_csv(csv, index=False)
    spec = validate_spec({
        "name": "torch-export",
        "trainable": {"type": "torch", "data": {"source": str(csv), "target": "label", "task": "classification",
                               "batch_size": 32},
                      "model": {"type": "mlp", "depth": 1, "width": 24}, "epochs": 4,
                      "optimizer": {"name": "adam", "lr": 0.01},
                      "pruning": {"sparsity": 0.5, "when": "during"}},
        "space": {"optimizer": {"lr": {"type": "float", "low": 0.002, "high": 0.05, "log": True}}},
        "metric": {"name": "val_loss", "scope": "best"},
        "strategy": {"name": "random", "seed": 0},
        "budget": {"trials": 2, "max_concurrent": 2},
        "storage": {"path": str(root / "results")},
    })
    return run_experiment(spec, show_progress=False), csv, spec


def test_load_model_reproduces_the_search_validation_score(torch_run: tuple[Any, Path, Any]) -> None:
    import raytuner
    from raytuner.trainables.torch.data import split_table

    summary, _, spec = torch_run
    assert summary.scope == "best" and summary.best is not None
    best = summary.best
    # the score is the best step's, not the last's: equal to the minimum of the trial's history
    history = raytuner.read_experiment(summary.experiment_path).curve(best.trial_id)
    assert best.score == pytest.approx(float(history["val_loss"].min()))
    assert best.score_step == int(history.loc[history["val_loss"].idxmin(), "training_iteration"])
    export = summary.final.export
    assert export.trial_id == best.trial_id and export.exported_step == best.score_step
    saved = raytuner.load_model(summary.experiment_path)
    assert saved.meta["framework"] == "torch" and saved.meta["epoch"] == best.score_step
    split = split_table(spec.trainable.data, spec.strategy.seed, "classification")
    labels = np.asarray(split.classes)[split.y_val]
    metrics = saved.model.evaluate(split.X_val, labels)
    assert metrics["val_loss"] == pytest.approx(best.score, rel=1e-5)
    row = history[history["training_iteration"] == best.score_step].iloc[0]
    assert metrics["val_accuracy"] == pytest.approx(float(row["val_accuracy"]), abs=1e-9)
    assert set(saved.model.predict(split.X_val[:5])) <= set(split.classes)
    assert saved.model.predict_proba(split.X_val[:3]).sum(axis=1) == pytest.approx([1.0, 1.0, 1.0])


def test_export_is_a_plain_state_dict_without_pruning_wrappers(torch_run: tuple[Any, Path, Any]) -> None:
    summary, _, _ = torch_run
    model_dir = Path(summary.experiment_path) / "model"
    state = torch.load(model_dir / "model.pt", weights_only=True)
    assert not [k for k in state if k.endswith(("_orig", "_mask"))]
    weights = [v for k, v in state.items() if k.endswith("weight")]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert zeros >= 0.2  # the pruned zeros are in the plain weights (4 epochs of a 0.5 schedule)
    pre = torch.load(model_dir / "preprocess.pt", weights_only=True)
    assert pre["mean"].shape == pre["std"].shape == (64,)
    # rebuilt with plain torch, as the README shows
    import json

    from torch import nn

    meta = json.loads((model_dir / "model.json").read_text())
    width, n_in = meta["model"]["width"], int(np.prod(meta["in_shape"]))
    plain = nn.Sequential(nn.Flatten(), nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, meta["out_dim"]))
    plain.load_state_dict(state)


def test_predict_command_on_a_torch_run(torch_run: tuple[Any, Path, Any], tmp_path: Path) -> None:
    import pandas as pd

    from raytuner.cli.main import main

    summary, csv, _ = torch_run
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["predict", "--model", summary.experiment_path, "--data", str(csv), "--proba"])
    assert code == 0, err.getvalue()
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert len(table) == 300 and set(table["prediction"]) <= set(range(10))
    assert [c for c in table.columns if c.startswith("proba_")] == [f"proba_{i}" for i in range(10)]
    assert "val_loss:" in err.getvalue() and "300 rows" in err.getvalue()


def test_results_tables_and_leaderboard_read_the_same_trials(torch_run: tuple[Any, Path, Any]) -> None:
    import raytuner
    from raytuner.cli.main import main

    summary, _, _ = torch_run
    exp = raytuner.read_experiment(summary.experiment_path)
    assert sorted(exp.trials["trial_id"]) == sorted(t.trial_id for t in summary.trials)
    assert "config.optimizer.lr" in exp.trials.columns and exp.scope == "best"
    by_id = exp.trials.set_index("trial_id")
    for trial in summary.trials:
        assert by_id.loc[trial.trial_id, "score"] == pytest.approx(trial.score)
        assert len(exp.curve(trial.trial_id)) == trial.steps == 4
    assert list(exp.ranked()["trial_id"])[0] == summary.best.trial_id
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["results", summary.experiment_path]) == 0
    text = out.getvalue()
    assert "(best step)" in text and text.index(summary.best.trial_id) < min(
        text.index(t.trial_id) for t in summary.trials if t.trial_id != summary.best.trial_id)
    assert read_summary(summary.experiment_path).final.export.saved.files == ["model.json", "model.pt",
                                                                              "preprocess.pt", "spec.yaml"]
