"""Index events by type and time, for the delivery sweeper.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_type_occurred_at", "events", ["type", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_events_type_occurred_at", table_name="events")
