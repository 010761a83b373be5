"""The history store on SQLite (PostgreSQL and several writers at once: tests/integration/test_history_store.py): record, read, forget; a store made at
the first schema revision is migrated; the default location follows RAYTUNER_HOME."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from raytuner.results.history.records import HistoryExperiment, HistoryTrial
from raytuner.results.history.store import HistoryStore, _engine, current_revision, resolve_url, upgrade_schema

def experiment(name: str = "exp", family: str = "sklearn.tree.DecisionTreeClassifier", best: float = 0.9) -> HistoryExperiment:
    trials = (
        HistoryTrial("t1", {"max_depth": 3, "criterion": "gini"}, best, "ok", 3),
        HistoryTrial("t2", {"max_depth": 9, "criterion": "entropy"}, best - 0.1, "ok", 3),
        HistoryTrial("t3", {"max_depth": 1, "criterion": "gini"}, float("nan"), "diverged", 1),
    )
    return HistoryExperiment(
        name=name, path=f"/results/{name}", spec={"name": name}, metric="accuracy", mode="max", strategy="random",
        scheduler="fifo", started_at="2026-12-01T10:00:00", wall_time_s=12.5, state="finished", family=family,
        fingerprint={"family": family, "rows": 100}, best_score=best, best_config=dict(trials[0].config), trials=trials,
    )


def test_default_store_is_sqlite_in_raytuner_home(raytuner_home: Path) -> None:
    store = HistoryStore()
    assert store.url == f"sqlite:///{raytuner_home / 'history.db'}"
    assert (raytuner_home / "history.db").is_file()
    assert current_revision(store.engine) == "0002"


def test_env_url_and_postgres_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAYTUNER_HISTORY_URL", f"sqlite:///{tmp_path / 'team.db'}")
    assert resolve_url() == f"sqlite:///{tmp_path / 'team.db'}"
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_record_read_forget(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    first = store.record(experiment("a"))
    second = store.record(experiment("b", best=0.8))
    assert [e.name for e in store.experiments()] == ["b", "a"]  # newest first
    got = store.get(first)
    assert (got.name, got.metric, got.mode, got.state, got.best_score) == ("a", "accuracy", "max", "finished", 0.9)
    assert [t.trial_id for t in got.trials] == ["t1", "t2", "t3"]
    assert got.trials[2].score is None  # NaN is stored as no score
    assert got.ranked_configs()[0] == {"max_depth": 3, "criterion": "gini"}
    assert got.fingerprint["rows"] == 100 and got.host
    assert store.forget(first) is True
    assert store.forget(first) is False
    assert [e.id for e in store.experiments()] == [second]
    with pytest.raises(Exception, match="no experiment with id"):
        store.get(first)


def test_migration_from_the_first_schema_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = _engine(url)
    upgrade_schema(engine, "0001")
    assert current_revision(engine) == "0001"
    from sqlalchemy import text

    with engine.begin() as conn:  # what raytuner at revision 0001 wrote
        conn.execute(text(
            "INSERT INTO experiments (name, path, spec, metric, mode, strategy, scheduler, started_at, wall_time_s, "
            "state, family, fingerprint, best_score, best_config, recorded_at) VALUES ('old', '/r/old', '{}', "
            "'accuracy', 'max', 'tpe', 'fifo', '2026-01-01', 3.0, 'finished', 'F', '{\"family\": \"F\"}', 0.7, "
            "'{\"x\": 1}', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO trials (experiment_id, trial_id, config, score, status, steps) "
                          "VALUES (1, 'o1', '{\"x\": 1}', 0.7, 'ok', 2)"))
    engine.dispose()
    store = HistoryStore(url)  # opening migrates to head
    assert current_revision(store.engine) == "0002"
    old = store.get(1)
    assert (old.name, old.best_score, old.host, [t.config for t in old.trials]) == ("old", 0.7, None, [{"x": 1}])
    new_id = store.record(experiment("new", family="F"))
    assert [e.name for e in store.experiments(family="F")] == ["new", "old"]
    assert store.get(new_id).host


def test_unopenable_store_is_a_results_error(tmp_path: Path) -> None:
    from raytuner.errors import ResultsError

    (tmp_path / "file").write_text("")
    with pytest.raises(ResultsError, match="cannot open it"):
        HistoryStore(f"sqlite:///{tmp_path / 'file' / 'h.db'}")
    assert not math.isnan(0.0)
