"""The schema. Alembic migrations (orderwire/migrations) are made from it and checked against it."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY, so the big integer becomes a plain one there.
Sequence64 = BigInteger().with_variant(Integer(), "sqlite")

commands = Table(
    "commands",
    metadata,
    # command_log.command_id(session, request id): a request id is unique per session only.
    Column("command_id", String(36), primary_key=True),
    Column("request_id", String(128), nullable=False),
    Column("command", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    # sha256 of endpoint + canonical body: tells a replay from a reused key.
    Column("fingerprint", String(64), nullable=False),
    Column("session_id", String(64), nullable=True),
    Column("order_id", String(36), nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("result", JSON, nullable=True),
    Column("error", JSON, nullable=True),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # When the command was last handed to Celery or last started: the sweeper's clock.
    Column("touched_at", DateTime(timezone=True), nullable=False),
    Index("ix_commands_status_touched_at", "status", "touched_at"),
    # Is this order being placed by this session? (the web's ownership check)
    Index("ix_commands_session_id_order_id", "session_id", "order_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("customer_name", String(100), nullable=False),
    Column("lines", JSON, nullable=False),
    Column("total", Numeric(14, 2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("owner_session", String(64), nullable=True),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_orders_owner_session_placed_at", "owner_session", "placed_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", String(36), primary_key=True),
    Column("order_id", String(36), nullable=False),
    Column("session_id", String(64), nullable=True),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_notifications_session_id_created_at", "session_id", "created_at"),
)

# The transactional outbox: every domain event, written in its command's transaction.
events = Table(
    "events",
    metadata,
    Column("seq", Sequence64, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("aggregate_id", String(128), nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("request_id", String(128), nullable=True),
    # Sessions whose live stream gets this event (the order's owner, the command's sender).
    Column("audience", JSON, nullable=False),
    Column("envelope", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("aggregate_id", "aggregate_version", name="uq_events_aggregate_version"),
    Index(
        "ix_events_unpublished",
        "seq",
        postgresql_where=Column("published_at").is_(None),
        sqlite_where=Column("published_at").is_(None),
    ),
    Index("ix_events_aggregate_id_seq", "aggregate_id", "seq"),
)

# Each after-commit subscriber's place in the outbox (orderwire/outbox/deliveries/): every
# event up to `position` (a seq) is handled or parked. Advanced in the same transaction as
# the subscriber's effect, so an event is applied at most once. The failure columns
# describe the subscriber's next event while it keeps failing on it (retried with backoff).
subscriber_positions = Table(
    "subscriber_positions",
    metadata,
    Column("subscriber", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("failing_event_id", String(36), nullable=True),
    Column("failures", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("retry_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Events a subscriber kept failing on, set aside for an operator (`orderwire deliveries`).
parked_deliveries = Table(
    "parked_deliveries",
    metadata,
    Column("subscriber", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    # Retention keeps the events parked here: it looks them up by event id.
    Index("ix_parked_deliveries_event_id", "event_id"),
)

# Parked deliveries an operator gave up on (`orderwire deliveries discard`): what was never
# applied and why, kept after the event itself is pruned, so nothing is given up unrecorded.
discarded_deliveries = Table(
    "discarded_deliveries",
    metadata,
    Column("subscriber", String(64), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("type", String(32), nullable=True),  # None if the event was already gone
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    Column("discarded_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
)

# A read model kept by an after-commit subscriber: paid revenue per day.
sales_ledger = Table(
    "sales_ledger",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("orders_paid", Integer, nullable=False),
    Column("revenue", Numeric(16, 2), nullable=False),
)
