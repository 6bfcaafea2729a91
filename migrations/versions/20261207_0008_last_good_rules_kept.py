"""the last good rule set of each rules folder, kept so that a start with invalid rule files can use it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 16:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rules_kept',
        sa.Column('folder', sa.String(length=1000), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('files', sa.Text(), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('folder', name=op.f('pk_rules_kept')),
    )


def downgrade() -> None:
    op.drop_table('rules_kept')
