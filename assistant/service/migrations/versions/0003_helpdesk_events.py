"""Helpdesk integrations: the conversation a request answered, and the webhook events already taken.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("conversation_key", sa.String(), nullable=True))
        batch.create_index("ix_requests_conversation_key", ["conversation_key"])
    op.create_table(
        "helpdesk_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_key", sa.String(), nullable=False),
        sa.Column("delivery_key", sa.String(), nullable=True),
        sa.Column("conversation_key", sa.String(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_helpdesk_events"),
        sa.UniqueConstraint("message_key", name="uq_helpdesk_events_message_key"),
        sa.UniqueConstraint("delivery_key", name="uq_helpdesk_events_delivery_key"),
    )
    op.create_index("ix_helpdesk_events_conversation_key", "helpdesk_events", ["conversation_key"])
    op.create_index("ix_helpdesk_events_created_at", "helpdesk_events", ["created_at"])


def downgrade() -> None:
    op.drop_table("helpdesk_events")
    with op.batch_alter_table("requests") as batch:
        batch.drop_index("ix_requests_conversation_key")
        batch.drop_column("conversation_key")
