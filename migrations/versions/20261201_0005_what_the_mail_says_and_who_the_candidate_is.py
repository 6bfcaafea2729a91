"""what the mail says of itself (sender, subject, date, attachments); who the candidate is

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_name', sa.String(length=320), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('sender_email', sa.String(length=320), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('subject', sa.String(length=1000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attachments', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('found_by', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('forwarded_by', sa.String(length=400), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_messages_sender_email'), ['sender_email'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_sender_email'))
        for column in ('forwarded_by', 'found_by', 'attachments', 'sent_at', 'subject', 'sender_email',
                       'sender_name'):
            batch_op.drop_column(column)
