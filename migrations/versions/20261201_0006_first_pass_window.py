"""the first pass's window over a folder ([imap] since, skip_seen) and what it left out

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('folders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('window_end_uid', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('window_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('window_unseen', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('skipped', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('folders', schema=None) as batch_op:
        for column in ('skipped', 'window_unseen', 'window_since', 'window_end_uid'):
            batch_op.drop_column(column)
