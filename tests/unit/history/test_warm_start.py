"""Warm starts without Ray: past configs fitted to a new space (clipped, dropped, ignored),
seeded as points_to_evaluate from the history store or an experiment directory; the
`raytuner history` commands; a history write error is one warning line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raytuner.cli.main import main
from raytuner.errors import SpecError
from raytuner.results.history.records import HistoryExperiment, HistoryTrial, WarmStart
from raytuner.results.history.store import HistoryStore
from raytuner.results.summary import Summary, TrialRecord, best_of, write_summary
from raytuner.runner.history import model_family, record_history, task_fingerprint
from raytuner.runner.plan import make_plan
from raytuner.runner.warm_start import fit_to_space, warm_start
from raytuner.spec.loader import validate_spec
from raytuner.spec.params import parse_space

SPACE = {"x": {"type": "float", "low": -1.0, "high": 1.0},
         "n": {"type": "int", "low": 2, "high": 10, "step": 2},
         "kind": {"type": "choice", "values": ["a", "b"]}}


def spec(**extra):  # type: ignore[no-untyped-def]
    data = {"name": "ws", "trainable": {"type": "function", "function": "raytuner.testing:quadratic"},
            "space": SPACE, "metric": {"name": "loss", "mode": "min"}, "strategy": {"name": "random", "seed": 0},
            "budget": {"trials": 6}}
    data.update(extra)
    return validate_spec(data)


def test_fit_to_space_clips_drops_and_ignores() -> None:
    report = WarmStart(source="history")
    configs = [{"x": 3.0, "n": 7, "kind": "a", "old": 1}, {"x": 0.5, "n": 4, "kind": "c"},
               {"x": 0.2, "kind": "a"}, {"x": 3.5, "n": 7, "kind": "a"}]
    points = fit_to_space(configs, parse_space(SPACE), report)
    assert points == [{"x": 1.0, "n": 8, "kind": "a"}]  # the 4th is the 1st once clipped: one point
    assert report.clipped == ["x: 3.0 -> 1.0", "n: 7 -> 8", "x: 3.5 -> 1.0", "n: 7 -> 8"]
    assert report.dropped == ["config 2: kind='c' not among ['a', 'b']", "config 3: no value for n"]
    assert report.ignored == ["old"]


def record(store: HistoryStore, plan, configs: list[dict], name: str = "past") -> int:  # type: ignore[no-untyped-def]
    trials = tuple(HistoryTrial(f"t{i}", c, float(i), "ok", 1) for i, c in enumerate(configs))
    return store.record(HistoryExperiment(
        name=name, path=f"/r/{name}", spec={}, metric="loss", mode="min", strategy="random", scheduler="fifo",
        started_at="2026", wall_time_s=1.0, state="finished", family=model_family(plan.spec),
        fingerprint=task_fingerprint(plan), best_score=0.0, best_config=configs[0], trials=trials))


def test_warm_start_from_history_seeds_points_to_evaluate() -> None:
    plan = make_plan(spec(warm_start={"from": "history", "k": 2}))
    store = HistoryStore()
    record(store, plan, [{"x": 0.1, "n": 4, "kind": "b"}, {"x": 9.0, "n": 2, "kind": "a"}, {"x": 0.3, "n": 2, "kind": "a"}])
    seeded, report = warm_start(plan)
    assert seeded.search.points_to_evaluate == [{"x": 0.1, "n": 4, "kind": "b"}, {"x": 1.0, "n": 2, "kind": "a"}]
    assert report is not None and report.configs == 2 and report.clipped == ["x: 9.0 -> 1.0"]
    assert [e["name"] for e in report.experiments] == ["past"]
    assert seeded.notes[-1] == report.describe()
    assert "warm start from history: 2 config(s) of past; clipped x: 9.0 -> 1.0" == report.describe()


def test_warm_start_from_empty_history_says_so() -> None:
    seeded, report = warm_start(make_plan(spec(warm_start={"from": "history"})))
    assert seeded.search.points_to_evaluate == [] and report is not None and report.configs == 0
    assert "no past experiment" in report.describe()


def test_warm_start_from_directory_and_bad_directory(tmp_path: Path) -> None:
    trials = [TrialRecord(f"t{i}", "ok", {"x": x, "n": 4, "kind": "a"}, score, 1, 0.1)
              for i, (x, score) in enumerate([(0.5, 2.0), (-0.5, 1.0), (0.0, 3.0)])]
    summary = Summary(name="prev", experiment_path=str(tmp_path), metric="loss", mode="min", strategy="random",
                      scheduler="fifo", started_at="2026", wall_time_s=1.0, trials=trials, best=best_of(trials, "min"))
    write_summary(summary, tmp_path)
    seeded, report = warm_start(make_plan(spec(warm_start={"from": str(tmp_path), "k": 2})))
    assert seeded.search.points_to_evaluate == [{"x": -0.5, "n": 4, "kind": "a"}, {"x": 0.5, "n": 4, "kind": "a"}]
    assert report is not None and report.source == str(tmp_path) and report.configs == 2
    with pytest.raises(SpecError, match="warm_start.from"):
        warm_start(make_plan(spec(warm_start={"from": str(tmp_path / "nowhere")})))


def test_warm_start_respects_the_trial_budget_and_the_grid_strategy() -> None:
    plan = make_plan(spec(warm_start={"from": "history", "k": 5}, budget={"trials": 1}))
    record(HistoryStore(), plan, [{"x": 0.1, "n": 4, "kind": "b"}, {"x": 0.2, "n": 4, "kind": "b"}])
    seeded, _ = warm_start(plan)
    assert len(seeded.search.points_to_evaluate) == 1
    grid = {"x": {"type": "grid", "values": [0.1, 0.2]}}
    plan = make_plan(spec(space=grid, strategy={"name": "grid"}, budget={}, warm_start={"from": "history"}))
    record(HistoryStore(), plan, [{"x": 0.1}])
    seeded, report = warm_start(plan)
    assert seeded.search.points_to_evaluate == [] and report is not None and "takes no seeded configs" in str(report.note)


def test_history_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = make_plan(spec())
    store = HistoryStore()
    first = record(store, plan, [{"x": 0.1, "n": 4, "kind": "b"}], name="one")
    record(store, plan, [{"x": 0.2, "n": 4, "kind": "a"}], name="two")
    assert main(["history", "list", "--json"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["two", "one"]
    assert main(["history", "list"]) == 0 and "one" in capsys.readouterr().out
    assert main(["history", "show", str(first), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trials"][0]["config"] == {"x": 0.1, "n": 4, "kind": "b"}
    assert main(["history", "show", str(first)]) == 0 and "fingerprint:" in capsys.readouterr().out
    path = tmp_path / "ws.yaml"
    path.write_text(json.dumps(spec().to_data()))
    assert main(["history", "similar", str(path), "--json"]) == 0
    assert sorted(e["name"] for e in json.loads(capsys.readouterr().out)) == ["one", "two"]
    assert main(["history", "export", "-o", str(tmp_path / "t.csv")]) == 0
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 3  # header and two trials
    assert main(["history", "export", "--json"]) == 0 and len(json.loads(capsys.readouterr().out)) == 2
    assert main(["history", "forget", str(first), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"forgotten": first}
    assert main(["history", "forget", str(first)]) == 2
    assert "no experiment with id" in capsys.readouterr().err


def test_a_history_write_error_is_one_warning_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    bad = spec(history={"url": f"sqlite:///{tmp_path / 'file' / 'h.db'}"})
    summary = Summary(name="ws", experiment_path="/r/ws", metric="loss", mode="min", strategy="random",
                      scheduler="fifo", started_at="2026", wall_time_s=1.0, trials=[], best=None)
    assert record_history(bad, make_plan(bad), summary) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: experiment not recorded") and "/r/ws" in err[0]
    off = spec(history={"record": False})
    assert record_history(off, make_plan(off), summary) is None


def test_a_far_task_is_not_seeded() -> None:
    plan = make_plan(spec(warm_start={"from": "history", "max_distance": 0.01}))
    other = make_plan(spec(space={"x": {"type": "float", "low": -1.0, "high": 1.0}}))  # another space: farther
    record(HistoryStore(), other, [{"x": 0.1}], name="far")
    seeded, report = warm_start(plan)
    assert seeded.search.points_to_evaluate == [] and report is not None and report.configs == 0
    assert "the nearest past experiment (far) is at distance" in report.describe()


def sk_spec(source: str = "sklearn:iris", strategy: str = "optuna-tpe", **extra):  # type: ignore[no-untyped-def]
    data = {"name": "sk", "trainable": {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
                                         "data": {"source": source}, "cv": {"folds": 3}},
            "space": {"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}},
            "metric": {"name": "accuracy", "mode": "max"}, "strategy": {"name": strategy, "seed": 0},
            "budget": {"trials": 6}}
    data.update(extra)
    return validate_spec(data)


def record_sk(store: HistoryStore, plan, scored: list[tuple[dict, float]], name: str = "past") -> int:  # type: ignore[no-untyped-def]
    trials = tuple(HistoryTrial(f"t{i}", c, s, "ok", 3) for i, (c, s) in enumerate(scored))
    return store.record(HistoryExperiment(
        name=name, path=f"/r/{name}", spec={}, metric="accuracy", mode="max", strategy="random", scheduler="fifo",
        started_at="2026", wall_time_s=1.0, state="finished", family=model_family(plan.spec),
        fingerprint=task_fingerprint(plan), best_score=max(s for _, s in scored), best_config=scored[0][0],
        trials=trials))


PAST_SK = [({"C": 1.0}, 0.95), ({"C": 0.1}, 0.9), ({"C": 50.0}, 0.96), ({"C": 1.0}, 0.94)]


def test_same_task_results_are_told_not_rerun() -> None:
    plan = make_plan(sk_spec(warm_start={"from": "history", "k": 3}))
    store = HistoryStore()
    record_sk(store, plan, PAST_SK)
    seeded, report = warm_start(plan)
    # C=50 lies outside the new space (it would be clipped: its score is not C=10's); C=1.0 once, its best score
    assert seeded.search.evaluated == [({"C": 1.0}, 0.95), ({"C": 0.1}, 0.9)]
    assert seeded.search.points_to_evaluate == [{"C": 10.0}]  # only the clipped one is re-run
    assert report.reused == 2 and "2 past result(s) of the same task told to the searcher" in report.describe()


def test_other_data_or_a_strategy_that_does_not_learn_is_seeded_only() -> None:
    store = HistoryStore()
    record_sk(store, make_plan(sk_spec()), PAST_SK)
    for other in (sk_spec(warm_start={"from": "history", "k": 3}, strategy="random"),
                  sk_spec(warm_start={"from": "history", "k": 3, "reuse": False})):
        seeded, report = warm_start(make_plan(other))
        assert seeded.search.evaluated == [] and report.reused == 0
        assert {p["C"] for p in seeded.search.points_to_evaluate} == {1.0, 10.0}  # the 3 best, once each
    changed = make_plan(sk_spec(warm_start={"from": "history", "k": 3}, trainable={
        "type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
        "data": {"source": "sklearn:iris"}, "cv": {"folds": 5}}))  # other folds: other scores
    assert warm_start(changed)[0].search.evaluated == []


def test_same_task_results_from_a_directory(tmp_path: Path) -> None:
    plan = make_plan(sk_spec(warm_start={"from": str(tmp_path), "k": 2}))
    from raytuner.runner.history import plan_task_key

    trials = [TrialRecord(f"t{i}", "ok", c, s, 3, 0.1) for i, (c, s) in enumerate(PAST_SK[:2])]
    write_summary(Summary(name="sk", experiment_path=str(tmp_path), metric="accuracy", mode="max", strategy="random",
                          scheduler="fifo", started_at="2026", wall_time_s=1.0, trials=trials,
                          best=best_of(trials, "max"), task_key=plan_task_key(plan)), str(tmp_path))
    seeded, report = warm_start(plan)
    assert seeded.search.evaluated == [({"C": 1.0}, 0.95), ({"C": 0.1}, 0.9)]
    assert seeded.search.points_to_evaluate == [] and report.reused == 2


def test_validate_checks_warm_start_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_file = tmp_path / "ws.yaml"
    spec_file.write_text(json.dumps(spec().to_data()))
    missing = tmp_path / "no-such-experiment"
    assert main(["validate", str(spec_file), "--set", f"warm_start={{from: {missing}}}"]) == 2
    err = capsys.readouterr().err
    assert "warm_start.from" in err and str(missing) in err and "Traceback" not in err
    assert main(["validate", str(spec_file), "--set", "warm_start={from: history}"]) == 0
    assert "warm start from history: nothing seeded" in capsys.readouterr().out
