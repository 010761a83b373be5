"""The experiment history: a SQLAlchemy store of finished experiments and their trials
(``store``), its schema (``models``, versioned by the Alembic scripts in ``migrations/``),
typed records (``records``) and task fingerprints (``fingerprint``) to rank similar past
experiments for warm starts. SQLite at ``$RAYTUNER_HOME/history.db`` by default; any
SQLAlchemy URL through ``history.url`` or ``RAYTUNER_HISTORY_URL``.
"""
