"""The first schema: experiments and their trials.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("strategy", sa.String(100), nullable=False),
        sa.Column("scheduler", sa.String(100), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("wall_time_s", sa.Float, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("family", sa.String(300), nullable=False),
        sa.Column("fingerprint", sa.JSON, nullable=False),
        sa.Column("best_score", sa.Float, nullable=True),
        sa.Column("best_config", sa.JSON, nullable=True),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("trial_id", sa.String(100), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("steps", sa.Integer, nullable=False),
    )
    op.create_index("ix_trials_experiment_id", "trials", ["experiment_id"])


def downgrade() -> None:
    op.drop_index("ix_trials_experiment_id", table_name="trials")
    op.drop_table("trials")
    op.drop_table("experiments")
