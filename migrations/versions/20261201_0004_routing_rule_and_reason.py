"""the routing rule and reason of each message; the rule set of each pass

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 15:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('route_reason', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules_fingerprint', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('rules_problems', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.drop_column('rules_problems')
        batch_op.drop_column('rules_fingerprint')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('route_reason')
        batch_op.drop_column('rule')
