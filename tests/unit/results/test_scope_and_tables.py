"""metric.scope (last|best), the results tables of read_experiment, and the leaderboard ranking them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from raytuner.errors import SpecError
from raytuner.results.metric_rule import WORST
from raytuner.results.scope import ScoredStep, scored_step
from raytuner.results.summary import Summary, TrialRecord, best_of
from raytuner.spec.loader import validate_spec

ROWS = [{"training_iteration": 1, "loss": 0.9}, {"training_iteration": 2, "loss": 0.4},
        {"training_iteration": 3, "loss": 0.4}, {"training_iteration": 4, "loss": 0.7}]


def test_scored_step_last_and_best() -> None:
    assert scored_step(ROWS, "loss", "min", "last") == ScoredStep(0.7, 4)
    assert scored_step(ROWS, "loss", "min", "best") == ScoredStep(0.4, 2)  # a tie goes to the earlier step
    assert scored_step(ROWS, "loss", "max", "best") == ScoredStep(0.9, 1)
    bad = [{"training_iteration": 1, "loss": float("nan")}, {"training_iteration": 2, "loss": WORST}]
    assert scored_step(bad, "loss", "min", "best") == ScoredStep(None, None)  # stand-ins are never a best
    assert scored_step([], "loss", "min", "best") == ScoredStep(None, None)


def _spec(**metric: object) -> dict:
    return {"name": "s", "trainable": {"type": "function", "function": "raytuner.testing:quadratic"},
            "space": {"x": {"type": "float", "low": -1, "high": 1}}, "metric": {"name": "loss", **metric}}


def test_metric_scope_defaults_to_last_and_is_validated() -> None:
    assert validate_spec(_spec()).metric.scope == "last"
    assert validate_spec(_spec(scope="best")).metric.scope == "best"
    with pytest.raises(SpecError) as err:
        validate_spec(_spec(scope="worst"))
    assert "metric.scope" in str(err.value) and "worst" in str(err.value) and "best" in str(err.value)


def _trial(tid: str, score: float | None, status: str = "ok", x: float = 0.0) -> TrialRecord:
    return TrialRecord(trial_id=tid, status=status, config={"m": {"x": x}}, score=score, steps=3, time_s=1.0)


def test_leaderboard_ranks_the_trials_table() -> None:
    from raytuner.console.summary import print_summary
    from raytuner.results.experiment import ranked, trials_table

    trials = [_trial("t1", 0.5, x=1.0), _trial("t2", None, "error"), _trial("t3", 0.2, x=3.0),
              _trial("t4", 0.9, x=4.0)]
    summary = Summary(name="e", experiment_path="/nowhere", metric="loss", mode="min", strategy="random",
                      scheduler="fifo", started_at="", wall_time_s=1.0, trials=trials,
                      best=best_of(trials, "min"), scope="best")
    table = trials_table(summary)
    assert list(table.columns[:5]) == ["trial_id", "status", "score", "score_step", "steps"]
    assert "config.m.x" in table.columns
    assert list(ranked(table, "min")["trial_id"]) == ["t3", "t1", "t4", "t2"]
    out = io.StringIO()
    print_summary(summary, stream=out)
    text = out.getvalue()
    assert "(best step)" in text and " m.x " in text
    assert text.index("t3") < text.index("t1") < text.index("t4") < text.index("t2")


def test_read_experiment_of_an_unfinished_run_scores_by_the_spec_scope(tmp_path: Path) -> None:
    from raytuner.results.experiment import read_experiment

    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(_spec(mode="min", scope="best")))
    for tid, losses in (("a", [0.9, 0.3, 0.6]), ("b", [0.8, 0.5])):
        trial = tmp_path / f"trial_{tid}"
        trial.mkdir()
        (trial / "params.json").write_text(json.dumps({"x": 0.5}))
        rows = [{"loss": v, "training_iteration": i + 1, "trial_id": tid, "done": i == len(losses) - 1}
                for i, v in enumerate(losses)]
        pd.DataFrame(rows).to_csv(trial / "progress.csv", index=False)
        (trial / "result.json").write_text("\n".join(json.dumps(r) for r in rows))
    exp = read_experiment(tmp_path)
    assert exp.state == "unknown" and exp.scope == "best"
    trials = exp.trials.set_index("trial_id")
    assert trials.loc["a", "score"] == 0.3 and trials.loc["a", "score_step"] == 2
    assert trials.loc["b", "score"] == 0.5 and trials.loc["b", "steps"] == 2
    assert list(exp.ranked()["trial_id"]) == ["a", "b"]
    assert len(exp.history) == 5 and set(exp.history.columns) >= {"trial_id", "training_iteration", "loss"}
    assert exp.to_summary().best.trial_id == "a"
