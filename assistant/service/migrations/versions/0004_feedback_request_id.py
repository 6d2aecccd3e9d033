"""Feedback events named by the request that sent them, so that a retried request is stored once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("request_id", sa.String(), nullable=True))
        # Rows from before this revision have none (NULLs never collide).
        batch.create_index("ux_feedback_suggestion_id_request_id", ["suggestion_id", "request_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ux_feedback_suggestion_id_request_id")
        batch.drop_column("request_id")
