"""On a real local Ray: a run is recorded in the history store; a second run with
warm_start: {from: history} tries the first run's best configs (fitted to its space) first,
and says so in its summary; warm_start: {from: DIR} seeds from one experiment directory;
--no-history records nothing."""

from __future__ import annotations

import json
from pathlib import Path

from raytuner import read_summary
from raytuner.cli.main import main
from raytuner.results.history.store import HistoryStore
from raytuner.runner.experiment import run_experiment
from raytuner.spec.loader import validate_spec


def tree_spec(storage: Path, **extra):  # type: ignore[no-untyped-def]
    data = {
        "name": "ws-tree",
        "trainable": {"type": "sklearn", "estimator": "sklearn.tree.DecisionTreeClassifier",
                      "data": {"source": "sklearn:iris"}, "cv": {"folds": 2}},
        "space": {"max_depth": {"type": "int", "low": 1, "high": 10},
                  "criterion": {"type": "choice", "values": ["gini", "entropy"]}},
        "metric": {"name": "accuracy", "mode": "max"},
        "strategy": {"name": "random", "seed": 0},
        "budget": {"trials": 3, "max_concurrent": 2},
        "storage": {"path": str(storage)},
        "refit": False,
    }
    data.update(extra)
    return validate_spec(data)


def test_record_then_warm_start_from_history_and_directory(ray_local, storage: Path, capsys) -> None:
    first = run_experiment(tree_spec(storage), show_progress=False)
    store = HistoryStore()
    [recorded] = store.experiments(trials=True)
    assert recorded.path == first.experiment_path and len(recorded.trials) == 3
    assert recorded.best_score == first.best.score and recorded.fingerprint["rows"] == 150
    ranked = recorded.ranked_configs()

    # a narrower space: max_depth above 3 is clipped to 3
    narrow = {"max_depth": {"type": "int", "low": 1, "high": 3},
              "criterion": {"type": "choice", "values": ["gini", "entropy"]}}
    second = run_experiment(tree_spec(storage, space=narrow, warm_start={"from": "history", "k": 2}), show_progress=False)
    ws = second.warm_start
    assert ws is not None and ws.source == "history" and ws.configs >= 1
    assert ws.experiments[0]["path"] == first.experiment_path
    expected = [{"max_depth": min(c["max_depth"], 3), "criterion": c["criterion"]} for c in ranked[:2]]
    tried = [t.config for t in second.trials]
    for point in expected:
        assert point in tried  # seeded configs were evaluated
    assert all(c["max_depth"] <= 3 for c in expected)
    assert ws.clipped == [f"max_depth: {c['max_depth']} -> 3" for c in ranked[:2] if c["max_depth"] > 3]
    on_disk = json.loads((Path(second.experiment_path) / "summary.json").read_text())
    assert on_disk["warm_start"]["source"] == "history"
    assert read_summary(second.experiment_path).warm_start == ws
    import raytuner

    assert "warm start from history" in raytuner.report(second.experiment_path).read_text()
    assert len(HistoryStore().experiments()) == 2

    # from one directory, through the CLI, and not recorded
    args = ["run", "--no-history", "--set", f"warm_start={{from: {first.experiment_path}, k: 1}}", "--set", "name=ws-dir"]
    spec_file = storage / "spec.yaml"
    spec_file.write_text(json.dumps(tree_spec(storage).to_data()))
    assert main([*args[:1], str(spec_file), *args[1:]]) == 0
    out = capsys.readouterr().out
    assert f"warm start from {first.experiment_path}: 1 config(s) of ws-tree" in out
    assert len(HistoryStore().experiments()) == 2  # --no-history

    # the same task again with a searcher that learns from results: the past trials are told, not re-run
    assert first.task_key is not None and second.task_key == first.task_key
    third = run_experiment(tree_spec(storage, strategy={"name": "optuna-tpe", "seed": 0},  # the seed is part of the task
                                     warm_start={"from": "history", "k": 2}), show_progress=False)
    past = {json.dumps(c, sort_keys=True) for c in ranked}
    assert third.warm_start is not None and third.warm_start.reused >= len(past) >= 1
    assert third.warm_start.configs == 0  # nothing to re-run: every seeded config's score is known
    assert len(third.trials) == 3  # (TPE may still sample a known config of this small space by itself)
    assert "past result(s) of the same task told to the searcher" in third.warm_start.describe()
