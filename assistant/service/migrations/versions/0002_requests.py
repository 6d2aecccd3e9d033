"""Requests: the conversation stored once per request (not once per suggestion) and the key that asked.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("conversation_text", sa.Text(), nullable=False),
        sa.Column("principal", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_requests"),
    )
    op.create_index("ix_requests_created_at", "requests", ["created_at"])
    # Suggestions served before this revision keep their conversation (one copy per request) and take
    # feedback from any key, as they did.
    op.execute(
        "INSERT INTO requests (id, conversation_text, principal, created_at) "
        "SELECT s.request_id, MIN(s.conversation_text), NULL, MIN(s.created_at) FROM suggestions s "
        "GROUP BY s.request_id"
    )
    with op.batch_alter_table("suggestions") as batch:
        batch.drop_column("conversation_text")
        batch.create_index("ix_suggestions_request_id", ["request_id"])
        batch.create_foreign_key(
            "fk_suggestions_request_id_requests", "requests", ["request_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        batch.drop_constraint("fk_suggestions_request_id_requests", type_="foreignkey")
        batch.drop_index("ix_suggestions_request_id")
        batch.add_column(sa.Column("conversation_text", sa.Text(), nullable=False, server_default=""))
    op.execute(
        "UPDATE suggestions SET conversation_text = "
        "(SELECT r.conversation_text FROM requests r WHERE r.id = suggestions.request_id)"
    )
    op.drop_table("requests")
