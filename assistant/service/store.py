"""The feedback and audit store: every suggestion served and what the agent did with it.

SQLite (WAL) by default, PostgreSQL by URL; the schema is managed by the Alembic migrations next to this
module. Free text is masked with `mask_pii` before it is written.

>>> store = FeedbackStore("sqlite:////var/lib/kefu/kefu.db")
>>> store.migrate()
>>> store.record_feedback(suggestion_id="3f2a9c1b7d4e", action="edited", final_text="亲，已为您登记退货",
...                       reason=None, agent_id="a7")
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    FromClause,
    Index,
    MetaData,
    Select,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    case,
    create_engine,
    delete,
    distinct,
    event,
    func,
    inspect,
    join,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import DeclarativeBase, Mapped, QueryableAttribute, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from assistant.errors import AssistantError
from assistant.pii import mask_pii

ACTIONS = ("shown", "accepted", "edited", "rejected", "ignored")  # ignored: the agent sent something else
SENT_ACTIONS = ("accepted", "edited", "ignored")  # what the agent's sent reply says of the suggestions
MAX_EDIT_CHARS = 4000  # longer texts are cut before the edit distance is computed
MAX_FEEDBACK_PER_SUGGESTION = 20  # an agent shows, edits and accepts a suggestion a few times, not thousands
_MIGRATIONS = Path(__file__).with_name("migrations")
_WRITE = "kefu_write"  # execution option: this transaction will write
_MIGRATION_LOCK = 0x6B656675  # PostgreSQL advisory lock key ("kefu") held while migrating


class StoreError(AssistantError):
    """The feedback store cannot do what was asked (database unreachable, not migrated, bad input)."""


class UnknownSuggestionError(StoreError):
    """Feedback names a suggestion id the store has not recorded."""


class FeedbackLimitError(StoreError):
    """A suggestion already has MAX_FEEDBACK_PER_SUGGESTION feedback events."""


class InvalidActionError(StoreError, ValueError):
    """A feedback action other than shown, accepted, edited or rejected."""


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters, each text cut to `MAX_EDIT_CHARS`.

    Bit-parallel (Hyyrö 2003) on Python ints: one pass over `a` with whole-column bit operations, a few
    milliseconds at the cap where the two-row dynamic programme takes seconds.
    """
    a, b = a[:MAX_EDIT_CHARS], b[:MAX_EDIT_CHARS]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    match: dict[str, int] = {}
    for i, ch in enumerate(b):
        match[ch] = match.get(ch, 0) | 1 << i
    mask = (1 << len(b)) - 1
    last = 1 << (len(b) - 1)
    plus, minus, score = mask, 0, len(b)  # vertical deltas of the current column: all +1 at first
    for ch in a:
        eq = match.get(ch, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        h_plus = (minus | ~(xh | plus)) & mask
        h_minus = plus & xh
        if h_plus & last:
            score += 1
        elif h_minus & last:
            score -= 1
        h_plus = ((h_plus << 1) | 1) & mask
        h_minus = (h_minus << 1) & mask
        plus = (h_minus | ~(xv | h_plus)) & mask
        minus = h_plus & xv
    return score


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """UTC in, tz-aware UTC out on every backend (SQLite stores no zone, PostgreSQL answers in its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _utc(value)


# JSONB on PostgreSQL: plain json has no equality, so it could not be grouped or unnested in `stats`.
JSONList = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        }
    )


class RequestRow(Base):
    """One /v1/suggest request: the conversation (stored once, however many suggestions it got) and the key
    that asked, which alone may send feedback on its suggestions."""

    __tablename__ = "requests"
    __table_args__ = (Index(None, "created_at"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    conversation_text: Mapped[str] = mapped_column(Text)
    principal: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    # The helpdesk conversation it answered ("chatwoot:1:42"), when it came from one.
    conversation_key: Mapped[str | None] = mapped_column(String, index=True)


class HelpdeskEventRow(Base):
    """A helpdesk message already taken from a webhook: once per message and per delivery (a replay finds its
    row), and the newest customer message of a conversation, which supersedes work on older ones."""

    __tablename__ = "helpdesk_events"
    __table_args__ = (
        UniqueConstraint("message_key", name="uq_helpdesk_events_message_key"),
        UniqueConstraint("delivery_key", name="uq_helpdesk_events_delivery_key"),
        Index(None, "conversation_key"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    message_key: Mapped[str] = mapped_column(String)
    delivery_key: Mapped[str | None] = mapped_column(String)
    conversation_key: Mapped[str] = mapped_column(String)
    message_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String)  # customer | agent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class SuggestionRow(Base):
    __tablename__ = "suggestions"
    __table_args__ = (Index(None, "created_at"), Index(None, "intent"), Index(None, "request_id"))

    id: Mapped[str] = mapped_column(String, primary_key=True)
    request_id: Mapped[str] = mapped_column(String, ForeignKey("requests.id", ondelete="CASCADE"))
    rank: Mapped[int]
    style: Mapped[str] = mapped_column(String)
    text: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[str]] = mapped_column(JSONList)
    intent: Mapped[str] = mapped_column(String)
    emotion: Mapped[str] = mapped_column(String)
    handoff: Mapped[bool]
    kb_version: Mapped[str] = mapped_column(String)
    latency_ms: Mapped[float] = mapped_column(Float)
    agent_id: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        Index(None, "created_at"),
        Index(None, "suggestion_id"),
        Index("ux_feedback_suggestion_id_request_id", "suggestion_id", "request_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    suggestion_id: Mapped[str] = mapped_column(String, ForeignKey("suggestions.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String)
    final_text: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(String)
    edit_distance: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    request_id: Mapped[str | None] = mapped_column(String)  # the sender's X-Request-ID: a retry is stored once


@dataclass(frozen=True)
class ServedSuggestion:
    """One suggestion of a request, as `FeedbackStore.record_served` stores it."""

    suggestion_id: str
    rank: int
    style: str
    text: str
    citations: Sequence[str]
    intent: str
    emotion: str
    handoff: bool
    kb_version: str
    latency_ms: float
    agent_id: str | None = None


def _as_dict(row: Base) -> dict[str, Any]:
    out = {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}
    out["created_at"] = out["created_at"].isoformat()
    return out


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, decides when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA foreign_keys = ON")
    # WAL is kept in the file, so only a new database is switched (an in-memory one stays "memory"). The
    # switch needs the file to itself and busy_timeout does not wait for that: when several connections open
    # a new database at once, retry.
    deadline = time.monotonic() + 30
    while cursor.execute("PRAGMA journal_mode").fetchone()[0] not in ("wal", "memory"):
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked: others kept it from switching to WAL")
        with suppress(sqlite3.OperationalError):
            cursor.execute("PRAGMA journal_mode = WAL")
        time.sleep(0.01)
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes cannot take the write lock if another connection
    # committed in between (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry), so writers lock first.
    immediate = connection.get_execution_options().get(_WRITE)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:"):
        # One shared connection, or every pooled connection would see its own empty database (tests only).
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


class FeedbackStore:
    """Suggestions served and feedback events, safe to share between the server's threads.

    One engine per store; every call runs in its own short transaction.
    """

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
            self._engine = (
                _sqlite_engine(parsed)
                if parsed.get_backend_name() == "sqlite"
                else create_engine(parsed, pool_pre_ping=True)
            )
        except ArgumentError as exc:
            shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
            raise StoreError(
                f"feedback store URL {shown!r} is not usable ({exc}); give e.g. sqlite:////path/to/kefu.db "
                "or postgresql+psycopg://user:password@host:5432/dbname"
            ) from exc
        self.url = parsed.render_as_string(hide_password=True)
        self._read = sessionmaker(self._engine, expire_on_commit=False)
        self._write = sessionmaker(self._engine.execution_options(**{_WRITE: True}), expire_on_commit=False)

    def __repr__(self) -> str:
        return f"FeedbackStore({self.url!r})"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (DBAPIError, PoolTimeoutError) as exc:
            orig = exc.orig if isinstance(exc, DBAPIError) else None
            reason = (str(orig) if orig is not None else str(exc)).strip().splitlines()[0]
            raise StoreError(
                f"feedback store {self.url}: {reason}; check that the database is reachable "
                "and migrated (FeedbackStore.migrate)"
            ) from exc

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        with self._errors(), (self._write if write else self._read).begin() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest migration; a no-op when it is there, safe to run concurrently."""
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self._errors(), self._engine.execution_options(**{_WRITE: True}).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except CommandError as exc:  # e.g. a revision from a newer kefu than this one
                raise StoreError(f"feedback store {self.url}: cannot migrate: {exc}") from exc

    def close(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()

    def ping(self) -> bool:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    def record_served(
        self,
        *,
        request_id: str,
        conversation_text: str,
        principal: str | None,
        suggestions: Sequence[ServedSuggestion],
        conversation_key: str | None = None,
    ) -> None:
        """Store one request: its conversation once (masked), and each suggestion served (masked);
        `conversation_key` names the helpdesk conversation it answered."""
        with self._session(write=True) as session:
            ids = [s.suggestion_id for s in suggestions]
            taken = session.scalars(select(SuggestionRow.id).where(SuggestionRow.id.in_(ids))).all()
            if taken or len(set(ids)) != len(ids):
                raise StoreError(f"suggestion id {(taken or ids)[0]!r} is already recorded; ids must be unique")
            if session.get(RequestRow, request_id) is None:
                session.add(
                    RequestRow(
                        id=request_id,
                        conversation_text=mask_pii(conversation_text),
                        principal=principal,
                        conversation_key=conversation_key,
                    )
                )
            for s in suggestions:
                session.add(
                    SuggestionRow(
                        id=s.suggestion_id,
                        request_id=request_id,
                        rank=s.rank,
                        style=s.style,
                        text=mask_pii(s.text),
                        citations=list(s.citations),
                        intent=s.intent,
                        emotion=s.emotion,
                        handoff=s.handoff,
                        kb_version=s.kb_version,
                        latency_ms=s.latency_ms,
                        agent_id=None if s.agent_id is None else mask_pii(s.agent_id),
                    )
                )

    def record_suggestion(
        self, *, request_id: str, conversation_text: str, principal: str | None = None, **suggestion: Any
    ) -> None:
        """Store one suggestion served (`ServedSuggestion`'s fields), with its request's conversation."""
        self.record_served(
            request_id=request_id,
            conversation_text=conversation_text,
            principal=principal,
            suggestions=[ServedSuggestion(**suggestion)],
        )

    def purge(self, *, before: datetime) -> int:
        """Delete the requests served before `before` (naive meaning UTC), with their suggestions and
        feedback; the number of requests deleted."""
        with self._session(write=True) as session:
            old = select(RequestRow.id).where(RequestRow.created_at < _utc(before))
            session.execute(delete(HelpdeskEventRow).where(HelpdeskEventRow.created_at < _utc(before)))
            gone = select(SuggestionRow.id).where(SuggestionRow.request_id.in_(old))
            session.execute(delete(FeedbackRow).where(FeedbackRow.suggestion_id.in_(gone)))
            session.execute(delete(SuggestionRow).where(SuggestionRow.request_id.in_(old)))
            deleted = session.execute(delete(RequestRow).where(RequestRow.created_at < _utc(before)))
            return int(getattr(deleted, "rowcount", 0))

    def record_feedback(
        self,
        *,
        suggestion_id: str,
        action: str,
        final_text: str | None,
        reason: str | None,
        agent_id: str | None,
        principal: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Store what the agent did with a suggestion; returns the stored row.

        A suggestion served to a key takes feedback only from that key (`principal`): another key is told it
        does not exist. `edit_distance` is between the stored (masked) suggestion and the masked text sent,
        None without one. `request_id` names the event: sent again (a client retrying after a lost
        response, perhaps to another replica), the event is stored once and the stored row returned.
        """
        if action not in ACTIONS:
            raise InvalidActionError(f"feedback action {action!r} is not one of {', '.join(ACTIONS)}")
        try:
            return self._record_feedback(suggestion_id, action, final_text, reason, agent_id, principal, request_id)
        except StoreError as e:
            # Two replicas storing the same retried event at once: the unique index let one in.
            if request_id is None or not isinstance(e.__cause__, IntegrityError):
                raise
            return self._record_feedback(suggestion_id, action, final_text, reason, agent_id, principal, request_id)

    def _record_feedback(
        self,
        suggestion_id: str,
        action: str,
        final_text: str | None,
        reason: str | None,
        agent_id: str | None,
        principal: str | None,
        request_id: str | None,
    ) -> dict[str, Any]:
        sent = None if final_text is None else mask_pii(final_text)
        with self._session(write=True) as session:
            found = session.execute(
                select(SuggestionRow.text, RequestRow.principal)
                .join(RequestRow, RequestRow.id == SuggestionRow.request_id)
                .where(SuggestionRow.id == suggestion_id)
            ).first()
            if found is None or found.principal not in (None, principal):
                raise UnknownSuggestionError(
                    f"no suggestion with id {suggestion_id!r} was recorded for this key; send feedback only for "
                    "suggestions the service returned to you"
                )
            if request_id is not None:
                stored = session.scalars(
                    select(FeedbackRow).where(
                        FeedbackRow.suggestion_id == suggestion_id, FeedbackRow.request_id == request_id
                    )
                ).first()
                if stored is not None:
                    return _as_dict(stored)
            given = session.scalar(select(func.count()).where(FeedbackRow.suggestion_id == suggestion_id))
            if (given or 0) >= MAX_FEEDBACK_PER_SUGGESTION:
                raise FeedbackLimitError(
                    f"suggestion {suggestion_id!r} already has {given} feedback events, the most one suggestion "
                    "takes; send one event per thing the agent did"
                )
            suggested = found.text
            row = FeedbackRow(
                suggestion_id=suggestion_id,
                action=action,
                final_text=sent,
                reason=None if reason is None else mask_pii(reason),
                agent_id=None if agent_id is None else mask_pii(agent_id),
                edit_distance=None if sent is None else edit_distance(suggested, sent),
                request_id=request_id,
            )
            session.add(row)
            session.flush()
            return _as_dict(row)

    def claim_event(
        self, *, message_key: str, delivery_key: str | None, conversation_key: str, message_id: int, role: str
    ) -> bool:
        """Take a helpdesk message once: False when this message or this delivery was taken before."""
        try:
            with self._session(write=True) as session:
                session.add(
                    HelpdeskEventRow(
                        message_key=message_key,
                        delivery_key=delivery_key,
                        conversation_key=conversation_key,
                        message_id=message_id,
                        role=role,
                    )
                )
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):  # taken before: the unique keys said so
                return False
            raise
        return True

    def superseded(self, *, conversation_key: str, message_id: int) -> bool:
        """Whether a newer customer message of the conversation than `message_id` has been taken."""
        with self._session() as session:
            newer = session.scalar(
                select(func.count()).where(
                    HelpdeskEventRow.conversation_key == conversation_key,
                    HelpdeskEventRow.role == "customer",
                    HelpdeskEventRow.message_id > message_id,
                )
            )
            return bool(newer)

    def open_request(self, *, conversation_key: str, principal: str | None) -> tuple[str, list[tuple[str, str]]] | None:
        """The latest request of a helpdesk conversation served to `principal`, with its suggestions as
        (id, masked text), unless what the agent sent after it is already recorded (SENT_ACTIONS)."""
        with self._session() as session:
            request_id = session.scalar(
                select(RequestRow.id)
                .where(RequestRow.conversation_key == conversation_key, RequestRow.principal == principal)
                .order_by(RequestRow.created_at.desc())
                .limit(1)
            )
            if request_id is None:
                return None
            return self._unanswered(session, request_id)

    def request_suggestions(
        self, *, request_id: str, principal: str | None
    ) -> tuple[str, list[tuple[str, str]]] | None:
        """The suggestions of a request served to `principal` as (id, masked text), None when what the agent
        sent after it is already recorded; `UnknownSuggestionError` when it was not served to `principal`."""
        with self._session() as session:
            owner = session.execute(select(RequestRow.principal).where(RequestRow.id == request_id)).first()
            if owner is None or owner.principal not in (None, principal):
                raise UnknownSuggestionError(
                    f"no request with id {request_id!r} was recorded for this key; use request_id from a "
                    "/v1/suggest response this server gave to the same key"
                )
            return self._unanswered(session, request_id)

    @staticmethod
    def _unanswered(session: Session, request_id: str) -> tuple[str, list[tuple[str, str]]] | None:
        rows = session.execute(
            select(SuggestionRow.id, SuggestionRow.text)
            .where(SuggestionRow.request_id == request_id)
            .order_by(SuggestionRow.rank)
        ).all()
        answered = session.scalar(
            select(func.count()).where(
                FeedbackRow.suggestion_id.in_([r.id for r in rows]), FeedbackRow.action.in_(SENT_ACTIONS)
            )
        )
        return None if answered else (request_id, [(r.id, r.text) for r in rows])

    def feedback_rows(
        self,
        *,
        suggestion_id: str | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Feedback events, newest first; with `since`/`until`, only on the suggestions served in that range."""
        stmt = select(FeedbackRow).order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
        if suggestion_id is not None:
            stmt = stmt.where(FeedbackRow.suggestion_id == suggestion_id)
        if since is not None or until is not None:
            served = _in_range(select(SuggestionRow.id), since, until)
            stmt = stmt.where(FeedbackRow.suggestion_id.in_(served))
        with self._session() as session:
            return [_as_dict(row) for row in session.scalars(stmt.limit(_limit(limit)))]

    def suggestion_rows(
        self, *, limit: int = 100, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Suggestions served at or after `since` and before `until` (naive meaning UTC), newest first, each
        with its request's `conversation_text`."""
        stmt = (
            select(SuggestionRow, RequestRow.conversation_text)
            .join(RequestRow, RequestRow.id == SuggestionRow.request_id)
            .order_by(SuggestionRow.created_at.desc(), SuggestionRow.id.desc())
        )
        with self._session() as session:
            return [
                {**_as_dict(row), "conversation_text": conversation}
                for row, conversation in session.execute(_in_range(stmt, since, until).limit(_limit(limit)))
            ]

    def sent_replies(
        self, *, since: datetime | None = None, until: datetime | None = None, limit: int = 100_000
    ) -> list[dict[str, Any]]:
        """What agents sent after the requests served at or after `since` and before `until`, oldest request
        first, one row per request (its first sent event): `request_id`, `conversation_key`, `conversation_text`
        (masked), `requested_at`, `principal`, `text` (the reply sent, masked; an accepted suggestion's text when
        none was recorded), `agent_id`, `sent_at`. For 质检 of agents' own replies."""
        stmt = (
            select(
                RequestRow.id.label("request_id"),
                RequestRow.conversation_key,
                RequestRow.conversation_text,
                RequestRow.created_at.label("requested_at"),
                RequestRow.principal,
                func.coalesce(FeedbackRow.final_text, SuggestionRow.text).label("text"),
                func.coalesce(FeedbackRow.agent_id, SuggestionRow.agent_id).label("agent_id"),
                FeedbackRow.created_at.label("sent_at"),
            )
            .join(SuggestionRow, SuggestionRow.request_id == RequestRow.id)
            .join(FeedbackRow, FeedbackRow.suggestion_id == SuggestionRow.id)
            .where(FeedbackRow.action.in_(SENT_ACTIONS))
            .order_by(RequestRow.created_at, FeedbackRow.created_at, FeedbackRow.id)
        )
        if since is not None:
            stmt = stmt.where(RequestRow.created_at >= _utc(since))
        if until is not None:
            stmt = stmt.where(RequestRow.created_at < _utc(until))
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        with self._session() as session:
            for row in session.execute(stmt.limit(max(1, limit))):
                if row.request_id in seen:
                    continue
                seen.add(row.request_id)
                out.append(dict(row._mapping))
        return out

    def stats(self, *, since: datetime | None = None) -> list[dict[str, Any]]:
        """Counts per intent and per cited document of the suggestions served at or after `since`.

        One dict per key: `{"by": "intent" | "doc", "key", "served", "shown", "accepted", "edited",
        "rejected"}`, where each action counts the suggestions with at least one such event. Intents come
        first, then documents, each by most served.
        """
        if self._engine.dialect.name == "postgresql":
            cited = func.jsonb_array_elements_text(SuggestionRow.citations).table_valued("value")
        else:
            cited = func.json_each(SuggestionRow.citations).table_valued("value")
        queries = {
            "intent": _counts(SuggestionRow.intent, SuggestionRow.__table__, since),
            "doc": _counts(cited.c.value, join(SuggestionRow, cited, true()), since),
        }
        out: list[dict[str, Any]] = []
        with self._session() as session:
            for by, stmt in queries.items():
                rows = [{"by": by, **row._asdict()} for row in session.execute(stmt)]
                out += sorted(rows, key=lambda r: (-r["served"], str(r["key"])))
        return out


class Retention:
    """Deletes what the store served more than `days` ago, at most once per `every_s` seconds (0 days: keep
    everything).

    >>> Retention(store, days=365).run_if_due()   # on start-up, then after requests
    """

    def __init__(
        self, store: FeedbackStore, *, days: int, every_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.days = days
        self.every_s = every_s
        self._clock = clock
        self._next = float("-inf")
        self._lock = threading.Lock()

    def run_if_due(self) -> int:
        """Purge if the last purge is `every_s` old; the number of requests deleted."""
        if self.days <= 0:
            return 0
        with self._lock:
            if self._clock() < self._next:
                return 0
            self._next = self._clock() + self.every_s
        return self.store.purge(before=_now() - timedelta(days=self.days))


_Select = TypeVar("_Select", bound="Select[*tuple[Any, ...]]")


def _in_range(stmt: _Select, since: datetime | None, until: datetime | None) -> _Select:
    """`stmt` limited to the suggestions served at or after `since` and before `until`."""
    if since is not None:
        stmt = stmt.where(SuggestionRow.created_at >= _utc(since))
    if until is not None:
        stmt = stmt.where(SuggestionRow.created_at < _utc(until))
    return stmt


def _counts(
    key: ColumnElement[Any] | QueryableAttribute[Any], source: FromClause, since: datetime | None
) -> Select[Any]:
    """Per value of `key`: suggestions served, and how many of them got each feedback action."""
    per_action = [
        func.count(distinct(case((FeedbackRow.action == action, SuggestionRow.id)))).label(action) for action in ACTIONS
    ]
    stmt = (
        select(key.label("key"), func.count(distinct(SuggestionRow.id)).label("served"), *per_action)
        .select_from(source)
        .outerjoin(FeedbackRow, FeedbackRow.suggestion_id == SuggestionRow.id)
        .group_by(key)
    )
    return stmt if since is None else stmt.where(SuggestionRow.created_at >= since)
