"""Commands are keyed by session and request id: an Idempotency-Key is scoped to its session.

The primary key moves from `request_id` to `command_id` (orderwire.db.command_log.command_id:
a UUID derived from the session id and the request id), and commands are indexed by session
and order for the web's ownership check. Existing rows get their derived id.

Revision ID: 0003_i12
Revises: 0002
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003_i12"
down_revision = "0002"
branch_labels = None
depends_on = None

# The same namespace as orderwire.db.command_log (a migration does not import app code,
# which may change after it).
COMMAND_ID_NAMESPACE = uuid.UUID("5f0c2a52-7a1e-4c36-9d0b-4f3f7d2f9a11")

commands = sa.table(
    "commands",
    sa.column("command_id", sa.String),
    sa.column("request_id", sa.String),
    sa.column("session_id", sa.String),
)


def upgrade() -> None:
    op.add_column("commands", sa.Column("command_id", sa.String(length=36), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(commands.c.request_id, commands.c.session_id)).all()
    for request_id, session_id in rows:
        derived = uuid.uuid5(COMMAND_ID_NAMESPACE, f"{session_id or ''}\n{request_id}")
        connection.execute(
            commands.update()
            .where(commands.c.request_id == request_id)
            .values(command_id=str(derived))
        )
    with op.batch_alter_table("commands") as batch:
        batch.alter_column("command_id", existing_type=sa.String(length=36), nullable=False)
        batch.drop_constraint("pk_commands", type_="primary")
        batch.create_primary_key("pk_commands", ["command_id"])
    op.create_index("ix_commands_session_id_order_id", "commands", ["session_id", "order_id"])


def downgrade() -> None:
    # Only possible while no request id is used by two sessions (the old key was global).
    op.drop_index("ix_commands_session_id_order_id", table_name="commands")
    with op.batch_alter_table("commands") as batch:
        batch.drop_constraint("pk_commands", type_="primary")
        batch.create_primary_key("pk_commands", ["request_id"])
        batch.drop_column("command_id")
