"""which mailbox a pass went through ([[mailbox]] name; "" for passes before several mailboxes)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mailbox', sa.String(length=200), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_passes_mailbox'), ['mailbox'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passes_mailbox'))
        batch_op.drop_column('mailbox')
