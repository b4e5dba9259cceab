"""What every failure test asserts at the end: each accepted command ended once, its
order exists once, and every committed event was published."""

from sqlalchemy import ColumnElement, Table, func, select

from orderwire.db.command_log import UNFINISHED
from orderwire.db.engine import make_engine
from orderwire.db.tables import commands, events, orders
from tools.harness.waiting import wait_for


def assert_each_command_ended_once(database_url: str, accepted_orders: set[str]) -> int:
    """Wait for every command to end, then check nothing was lost or doubled; returns how
    many commands needed more than one attempt (rescued from a dead worker or broker)."""
    engine = make_engine(database_url)

    def rows(table: Table, *where: ColumnElement[bool]) -> int:
        with engine.connect() as connection:
            query = select(func.count()).select_from(table).where(*where)
            return connection.execute(query).scalar_one()

    try:
        wait_for(lambda: rows(commands, commands.c.status.in_(UNFINISHED)) == 0, timeout=90,
                 what="every accepted command to end")
        succeeded = rows(commands, commands.c.status == "succeeded")
        assert succeeded == rows(commands) == len(accepted_orders)
        assert rows(orders) == len(accepted_orders)
        assert rows(events, events.c.type == "OrderPlaced") == len(accepted_orders)  # once
        wait_for(lambda: rows(events, events.c.published_at.is_(None)) == 0, timeout=30,
                 what="every committed event to be published")
        return rows(commands, commands.c.attempts >= 2)
    finally:
        engine.dispose()
