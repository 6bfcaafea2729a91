"""the days the oldest and newest mail left out by a folder's first pass arrived

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 16:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('folders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skipped_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('skipped_until', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('folders', schema=None) as batch_op:
        for column in ('skipped_until', 'skipped_from'):
            batch_op.drop_column(column)
