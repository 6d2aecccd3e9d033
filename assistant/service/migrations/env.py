"""Alembic environment: runs on the connection and transaction `FeedbackStore.migrate` passes in."""

from alembic import context

from assistant.service.store import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the feedback store's migrations with FeedbackStore(url).migrate()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
