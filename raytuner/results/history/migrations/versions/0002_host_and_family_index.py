"""Which machine recorded an experiment (a shared store on a cluster); an index on family
(warm starts look experiments up by estimator family).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
    op.create_index("ix_experiments_family", "experiments", ["family"])


def downgrade() -> None:
    op.drop_index("ix_experiments_family", table_name="experiments")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("host")
