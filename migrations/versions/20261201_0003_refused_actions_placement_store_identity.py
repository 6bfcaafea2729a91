"""refused mailbox actions, where the mail was placed, the database's identity

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:00:00
"""
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    identity = op.create_table('store_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_identity'))
    )
    op.bulk_insert(identity, [{"id": 1, "instance": uuid.uuid4().hex, "created_at": datetime.now(UTC)}])
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('action_error', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('placed_folder', sa.String(length=1000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('placed_uid', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('placed_uid')
        batch_op.drop_column('placed_folder')
        batch_op.drop_column('action_error')
        batch_op.drop_column('action_attempts')
    op.drop_table('store_identity')
