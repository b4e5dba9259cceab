"""After-commit subscribers keep a position in the outbox instead of a row per handled event.

`subscriber_positions` (one row per subscriber: every event up to `position`, a seq, is
handled or parked) and `parked_deliveries` (what a subscriber kept failing on) replace
`handled_events`, and the index that only the delivery sweeper used goes with it.

Carrying over what `handled_events` knew: each subscriber found there starts after the
newest event it handled, and every older event of a type it handles (a type it handled at
least once) that it never handled (given up after Celery's retries, or still queued at the
upgrade) is parked, so an operator sees it and can re-drive it: nothing is skipped silently.
The downgrade writes `handled_events` back from the positions (every event up to a
subscriber's position that is not parked counts as handled), so the old delivery sweeper
does not deliver them again.

Revision ID: 0004_subscriber_positions
Revises: 0003_i12
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_subscriber_positions"
down_revision = "0003_i12"
branch_labels = None
depends_on = None

PARKED_ON_UPGRADE = "not handled before migration 0004 (given up by Celery, or still queued)"


def upgrade() -> None:
    op.create_table(
        "subscriber_positions",
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("failing_event_id", sa.String(length=36), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscriber", name=op.f("pk_subscriber_positions")),
    )
    op.create_table(
        "parked_deliveries",
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscriber", "event_id", name=op.f("pk_parked_deliveries")),
    )
    op.create_index("ix_parked_deliveries_event_id", "parked_deliveries", ["event_id"])
    op.execute(
        """
        INSERT INTO subscriber_positions
            (subscriber, position, failures, updated_at)
        SELECT h.subscriber, MAX(e.seq), 0, CURRENT_TIMESTAMP
        FROM handled_events h JOIN events e ON e.event_id = h.event_id
        GROUP BY h.subscriber
        """
    )
    op.execute(
        sa.text(
            """
            INSERT INTO parked_deliveries
                (subscriber, event_id, seq, attempts, last_error, parked_at)
            SELECT p.subscriber, e.event_id, e.seq, 0, :why, CURRENT_TIMESTAMP
            FROM subscriber_positions p JOIN events e ON e.seq <= p.position
            WHERE e.type IN (
                SELECT handled.type FROM events handled
                JOIN handled_events h ON h.event_id = handled.event_id
                WHERE h.subscriber = p.subscriber
            )
            AND NOT EXISTS (
                SELECT 1 FROM handled_events h
                WHERE h.event_id = e.event_id AND h.subscriber = p.subscriber
            )
            """
        ).bindparams(why=PARKED_ON_UPGRADE)
    )
    op.drop_table("handled_events")
    op.drop_index("ix_events_type_occurred_at", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_type_occurred_at", "events", ["type", "occurred_at"])
    op.create_table(
        "handled_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "subscriber", name=op.f("pk_handled_events")),
    )
    op.execute(
        """
        INSERT INTO handled_events (event_id, subscriber, handled_at)
        SELECT e.event_id, p.subscriber, CURRENT_TIMESTAMP
        FROM subscriber_positions p JOIN events e ON e.seq <= p.position
        WHERE NOT EXISTS (
            SELECT 1 FROM parked_deliveries d
            WHERE d.event_id = e.event_id AND d.subscriber = p.subscriber
        )
        """
    )
    op.drop_index("ix_parked_deliveries_event_id", table_name="parked_deliveries")
    op.drop_table("parked_deliveries")
    op.drop_table("subscriber_positions")
