"""The history store: record, read, rank and forget experiments in any SQLAlchemy database.

One transaction per experiment (a reader never sees half of one). SQLite runs in WAL mode
with a busy timeout, so several experiments finishing at once all get in; the schema is
brought to the head revision with Alembic on open (under a lock: a file lock for SQLite,
an advisory lock for PostgreSQL), so a store made by an older raytuner is migrated.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import socket
import time
from pathlib import Path
from typing import Any, Iterator

from raytuner.errors import ResultsError
from raytuner.results.history.records import HistoryExperiment, HistoryTrial, SimilarExperiment

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HOME_ENV = "RAYTUNER_HOME"
URL_ENV = "RAYTUNER_HISTORY_URL"
_ADVISORY_KEY = 7_042_214  # pg_advisory_lock key of raytuner's schema upgrades
_WRITE_TRIES = 8


def raytuner_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or "~/.raytuner").expanduser()


def default_url() -> str:
    return os.environ.get(URL_ENV) or f"sqlite:///{raytuner_home() / 'history.db'}"


def resolve_url(url: str | None = None) -> str:
    """``url`` (a spec's ``history.url``), else $RAYTUNER_HISTORY_URL, else SQLite in $RAYTUNER_HOME.
    ``postgresql://`` means the psycopg 3 driver (``postgresql+psycopg://``)."""
    url = url or default_url()
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class HistoryStore:
    """``HistoryStore(url)``: open (and create or migrate) the store at a SQLAlchemy URL."""

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        self.url = resolve_url(url)
        try:
            self.engine = _engine(self.url)
            if upgrade:
                upgrade_schema(self.engine)
        except (SQLAlchemyError, OSError, ImportError) as exc:
            raise ResultsError(f"history store {_safe(self.url)}: cannot open it ({_short(exc)})") from None

    def close(self) -> None:
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------

    def record(self, experiment: HistoryExperiment) -> int:
        """Write one experiment and its trials in one transaction; its id."""
        from sqlalchemy.exc import OperationalError
        from sqlalchemy.orm import Session

        from raytuner.results.history.models import ExperimentRow, TrialRow
        from raytuner.results.summary import json_safe

        for attempt in range(_WRITE_TRIES):
            row = ExperimentRow(
                name=experiment.name, path=experiment.path, spec=json_safe(experiment.spec),
                metric=experiment.metric, mode=experiment.mode, strategy=experiment.strategy,
                scheduler=experiment.scheduler, started_at=experiment.started_at,
                wall_time_s=float(experiment.wall_time_s), state=experiment.state, family=experiment.family,
                fingerprint=json_safe(experiment.fingerprint), best_score=_finite(experiment.best_score),
                best_config=json_safe(experiment.best_config), recorded_at=_dt.datetime.now(),
                host=experiment.host or socket.gethostname(),
                trials=[TrialRow(trial_id=t.trial_id, config=json_safe(t.config), score=_finite(t.score),
                                 status=t.status, steps=int(t.steps)) for t in experiment.trials],
            )
            try:
                with Session(self.engine) as session, session.begin():
                    session.add(row)
                    session.flush()
                    return int(row.id)
            except OperationalError as exc:  # SQLite: "database is locked" past the busy timeout
                if "locked" not in str(exc).lower() or attempt == _WRITE_TRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def forget(self, experiment_id: int) -> bool:
        """Delete one experiment and its trials; whether it was there."""
        from sqlalchemy import delete
        from sqlalchemy.orm import Session

        from raytuner.results.history.models import ExperimentRow, TrialRow

        with Session(self.engine) as session, session.begin():
            session.execute(delete(TrialRow).where(TrialRow.experiment_id == experiment_id))
            done = session.execute(delete(ExperimentRow).where(ExperimentRow.id == experiment_id))
            return bool(done.rowcount)

    # -- reading ---------------------------------------------------------------------

    def experiments(self, *, family: str | None = None, trials: bool = False, limit: int | None = None) -> list[HistoryExperiment]:
        """Experiments, newest first (with their trials when ``trials``)."""
        from sqlalchemy import select
        from sqlalchemy.orm import Session, selectinload

        from raytuner.results.history.models import ExperimentRow

        query = select(ExperimentRow).order_by(ExperimentRow.id.desc())
        if family is not None:
            query = query.where(ExperimentRow.family == family)
        if trials:
            query = query.options(selectinload(ExperimentRow.trials))
        if limit is not None:
            query = query.limit(limit)
        with Session(self.engine) as session:
            return [_experiment(row, trials) for row in session.scalars(query)]

    def get(self, experiment_id: int) -> HistoryExperiment:
        from sqlalchemy.orm import Session

        from raytuner.results.history.models import ExperimentRow

        with Session(self.engine) as session:
            row = session.get(ExperimentRow, experiment_id)
            if row is None:
                raise ResultsError(f"history: no experiment with id {experiment_id} in {_safe(self.url)} "
                                   "(raytuner history list shows the ids)")
            return _experiment(row, True)

    def similar(self, fingerprint: dict[str, Any], k: int = 5, *, metric: str | None = None) -> list[SimilarExperiment]:
        """The ``k`` nearest experiments of the same family (and metric, when given) with a best score."""
        from raytuner.results.history.fingerprint import distance

        family = str(fingerprint.get("family", ""))
        found = []
        for exp in self.experiments(family=family, trials=True):
            if exp.best_score is None or (metric is not None and exp.metric != metric):
                continue
            d = distance(fingerprint, exp.fingerprint)
            if math.isfinite(d):
                found.append(SimilarExperiment(exp, d))
        found.sort(key=lambda s: (s.distance, -(s.experiment.id or 0)))
        return found[:k]


def _experiment(row: Any, trials: bool) -> HistoryExperiment:
    return HistoryExperiment(
        name=row.name, path=row.path, spec=row.spec, metric=row.metric, mode=row.mode, strategy=row.strategy,
        scheduler=row.scheduler, started_at=row.started_at, wall_time_s=row.wall_time_s, state=row.state,
        family=row.family, fingerprint=row.fingerprint or {}, best_score=row.best_score, best_config=row.best_config,
        trials=tuple(HistoryTrial(t.trial_id, t.config, t.score, t.status, t.steps) for t in row.trials) if trials else (),
        id=row.id, recorded_at=row.recorded_at.isoformat(timespec="seconds") if row.recorded_at else None,
        host=row.host,
    )


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine, event

    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    database = url.split(":///", 1)[1] if ":///" in url else ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def alembic_config(connection: Any = None, url: str | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url)
    config.attributes["connection"] = connection
    return config


def upgrade_schema(engine: Any, revision: str = "head") -> None:
    """Bring the store's schema to ``revision`` (Alembic), one process at a time."""
    from alembic import command

    with _schema_lock(engine) as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.commit()


def current_revision(engine: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _schema_lock(engine: Any) -> Iterator[Any]:
    from sqlalchemy import text

    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _ADVISORY_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        with engine.connect() as connection:
            yield connection
        return
    import fcntl

    with open(f"{database}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _safe(url: str) -> str:
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for a message
        return url.split("@")[-1]


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
