"""the mail the daemon sends (receipts, acknowledgements, answers): one row each, recorded before sending

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'replies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_pk', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('job_id', sa.String(length=100), nullable=False),
        sa.Column('message_id', sa.String(length=998), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_by_pk', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_replies_message_pk_messages'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_replies')),
        sa.UniqueConstraint('message_id', name=op.f('uq_replies_message_id')),
        sa.UniqueConstraint('message_pk', 'kind', name=op.f('uq_replies_message_pk')),
    )
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replies_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_replies_message_pk'), ['message_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_replies_recipient'), ['recipient'], unique=False)
        batch_op.create_index(batch_op.f('ix_replies_status'), ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('replies')
