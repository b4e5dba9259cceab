"""Parked deliveries an operator gave up on are recorded, not deleted.

`orderwire deliveries discard EVENT_ID --reason TEXT` moves a parked delivery to
`discarded_deliveries`, with the event's type, the attempts, the last error, when and
why; the subscriber never applies it. The downgrade puts them back as parked, so the
older code, which has no discard, still shows them to an operator.

Revision ID: 0005_discarded_deliveries
Revises: 0004_subscriber_positions
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_discarded_deliveries"
down_revision = "0004_subscriber_positions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discarded_deliveries",
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("discarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber", "event_id", name=op.f("pk_discarded_deliveries")),
    )


def downgrade() -> None:
    op.execute(
        """
        INSERT INTO parked_deliveries
            (subscriber, event_id, seq, attempts, last_error, parked_at)
        SELECT subscriber, event_id, seq, attempts, last_error, parked_at
        FROM discarded_deliveries
        """
    )
    op.drop_table("discarded_deliveries")
