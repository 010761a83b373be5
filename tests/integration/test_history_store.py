"""The history store with several processes recording at once (SQLite and PostgreSQL), and
record/read/forget and migrations on a real PostgreSQL server started for the session."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from raytuner.results.history.store import HistoryStore, _engine, current_revision, upgrade_schema
from tests.unit.history.test_store import experiment

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys
    from raytuner.results.history.records import HistoryExperiment, HistoryTrial
    from raytuner.results.history.store import HistoryStore
    store = HistoryStore(sys.argv[1])
    for i in range(int(sys.argv[3])):
        trials = tuple(HistoryTrial(f"t{j}", {"x": j}, 0.1 * j, "ok", 1) for j in range(3))
        store.record(HistoryExperiment(
            name=f"w{sys.argv[2]}-{i}", path="/r", spec={}, metric="m", mode="max", strategy="random",
            scheduler="fifo", started_at="2026", wall_time_s=1.0, state="finished", family="F",
            fingerprint={"family": "F"}, best_score=0.2, best_config={"x": 2}, trials=trials))
""")


def _writers(url: str, tmp_path: Path, processes: int = 6, each: int = 5) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, str(script), url, str(w), str(each)], stderr=subprocess.PIPE,
                              text=True, env=env) for w in range(processes)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, errors
    found = HistoryStore(url).experiments(trials=True)
    assert sorted(e.name for e in found) == sorted(f"w{w}-{i}" for w in range(processes) for i in range(each))
    assert all(len(e.trials) == 3 for e in found)  # every experiment whole


def test_concurrent_writers_on_sqlite_lose_nothing(tmp_path: Path) -> None:
    _writers(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path)  # the store is created by the writers, all at once


def test_record_read_forget_on_postgres(postgres_url: str) -> None:
    store = HistoryStore(postgres_url)
    assert current_revision(store.engine) == "0002"
    first = store.record(experiment("pg-a"))
    got = store.get(first)
    assert (got.name, got.best_score, len(got.trials), got.trials[2].score) == ("pg-a", 0.9, 3, None)
    assert first in [e.id for e in store.experiments()]
    assert store.forget(first) is True
    assert first not in [e.id for e in store.experiments()]
    store.close()


def test_concurrent_writers_on_postgres_lose_nothing(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    engine = _engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA writers"))
    engine.dispose()
    _writers(postgres_url + "?options=-csearch_path%3Dwriters", tmp_path)


def test_postgres_migration_from_the_first_revision(postgres_url: str) -> None:
    from sqlalchemy import text

    engine = _engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA old"))
    engine.dispose()
    url = postgres_url + "?options=-csearch_path%3Dold"
    engine = _engine(url)
    upgrade_schema(engine, "0001")
    assert current_revision(engine) == "0001"
    engine.dispose()
    store = HistoryStore(url)
    assert current_revision(store.engine) == "0002"
    exp_id = store.record(experiment("after-migration"))
    assert store.get(exp_id).host
