"""who resolved a message and when; when its personal data was removed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('personal_data_removed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        for column in ('personal_data_removed_at', 'resolved_at', 'resolved_by'):
            batch_op.drop_column(column)
