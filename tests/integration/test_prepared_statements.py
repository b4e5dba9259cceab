"""orderwire/db/prepared.py and driver_transaction.py on each database: a prepared statement
reads and writes exactly what the same statement through `Connection.execute` does, raises
what SQLAlchemy raises, and refuses what it cannot run; a driver transaction commits or
leaves nothing, and gives its connection back."""

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from orderwire.db.driver_transaction import DriverTransaction
from orderwire.db.engine import make_engine, utcnow
from orderwire.db.prepared import Prepared
from orderwire.db.tables import commands, orders

pytestmark = pytest.mark.integration

GET_ORDER = select(orders).where(orders.c.order_id == bindparam("the_order_id"))


def an_order(order_id: str) -> dict:
    now = utcnow()
    return {
        "order_id": order_id,
        "customer_name": "Zoë «quoted» 'name'",
        "lines": [{"product": "Café", "quantity": 2, "unit_price": "12.50"}],
        "total": Decimal("25.00"),
        "status": "placed",
        "version": 1,
        "owner_session": "s-1",
        "placed_at": now,
        "updated_at": now,
    }


def test_a_row_written_prepared_reads_back_as_sqlalchemy_reads_it(engine: Engine) -> None:
    order_id = str(uuid.uuid4())
    with engine.begin() as connection:
        assert Prepared(insert(orders)).execute(connection, an_order(order_id)) == 1

    with engine.connect() as connection:
        prepared = Prepared(GET_ORDER).first(connection, {"the_order_id": order_id})
        through_sqlalchemy = connection.execute(
            GET_ORDER, {"the_order_id": order_id}
        ).mappings().one()

    assert prepared == dict(through_sqlalchemy)
    assert prepared is not None
    assert prepared["lines"] == [{"product": "Café", "quantity": 2, "unit_price": "12.50"}]
    assert prepared["total"] == Decimal("25.00")
    assert prepared["placed_at"] == through_sqlalchemy["placed_at"]


def test_no_row_is_none_and_a_changed_count_is_returned(engine: Engine) -> None:
    order_id = str(uuid.uuid4())
    set_status = Prepared(
        update(orders)
        .where(orders.c.order_id == bindparam("the_order_id"),
               orders.c.status.in_([literal("placed"), literal("paid")]))
        .values(status=bindparam("new_status"))
    )
    with engine.begin() as connection:
        assert Prepared(GET_ORDER).first(connection, {"the_order_id": order_id}) is None
        assert set_status.execute(connection, {"the_order_id": order_id, "new_status": "x"}) == 0
        Prepared(insert(orders)).execute(connection, an_order(order_id))
        changed = set_status.execute(connection, {"the_order_id": order_id, "new_status": "paid"})
        # The literal list is part of the statement: "paid" is in it, "shipped" is not.
        again = set_status.execute(connection, {"the_order_id": order_id, "new_status": "shipped"})
        then = set_status.execute(connection, {"the_order_id": order_id, "new_status": "paid"})

    assert (changed, again, then) == (1, 1, 0)


def test_it_runs_inside_the_connection_s_transaction(engine: Engine) -> None:
    order_id = str(uuid.uuid4())
    with engine.connect() as connection:
        transaction = connection.begin()
        Prepared(insert(orders)).execute(connection, an_order(order_id))
        transaction.rollback()

    with engine.connect() as connection:
        assert Prepared(GET_ORDER).first(connection, {"the_order_id": order_id}) is None


def test_executemany_writes_every_row(engine: Engine) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    with engine.begin() as connection:
        Prepared(insert(orders)).executemany(connection, [an_order(order_id) for order_id in ids])
        Prepared(insert(orders)).executemany(connection, [])  # nothing to write: no statement

    with engine.connect() as connection:
        found = [Prepared(GET_ORDER).first(connection, {"the_order_id": i}) for i in ids]
    assert all(row is not None for row in found)


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(engine: Engine) -> None:
    order_id = str(uuid.uuid4())
    with engine.begin() as connection:
        Prepared(insert(orders)).execute(connection, an_order(order_id))

    with pytest.raises(IntegrityError), engine.begin() as connection:
        Prepared(insert(orders)).execute(connection, an_order(order_id))
    with pytest.raises((OperationalError, ProgrammingError)), engine.begin() as connection:
        Prepared(text("SELECT * FROM no_such_table")).first(connection, {})


def test_what_it_cannot_run_is_refused_when_compiled(engine: Engine) -> None:
    expanding = select(commands).where(commands.c.status.in_(["accepted", "running"]))
    with engine.connect() as connection, pytest.raises(ValueError, match="expanding IN"):
        Prepared(expanding).first(connection, {})

    # `attempts` has a Python-side default, which only SQLAlchemy's execution would run.
    with engine.connect() as connection, pytest.raises(ValueError, match="Python-side default"):
        Prepared(insert(commands)).execute(connection, {"command_id": "c"})


def test_a_driver_transaction_commits_or_leaves_nothing(engine: Engine) -> None:
    kept, dropped = str(uuid.uuid4()), str(uuid.uuid4())
    with DriverTransaction(engine) as transaction:
        Prepared(insert(orders)).execute(transaction, an_order(kept))
        transaction.commit()
    with DriverTransaction(engine) as transaction:
        Prepared(insert(orders)).execute(transaction, an_order(dropped))  # never committed
    with pytest.raises(RuntimeError), DriverTransaction(engine) as transaction:
        Prepared(insert(orders)).execute(transaction, an_order(str(uuid.uuid4())))
        raise RuntimeError("the caller failed half way")

    with engine.connect() as connection:
        assert Prepared(GET_ORDER).first(connection, {"the_order_id": kept}) is not None
        assert Prepared(GET_ORDER).first(connection, {"the_order_id": dropped}) is None
    # Every connection went back to the pool (SQLite's and PostgreSQL's pools both count them).
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_database_that_cannot_be_reached_is_sqlalchemy_s_operational_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-directory").mkdir()
    unreachable = make_engine(f"sqlite:///{tmp_path / 'a-directory'}")
    with pytest.raises(OperationalError), DriverTransaction(unreachable):
        pass
