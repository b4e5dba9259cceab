"""Handlers through the bus, on a fake unit of work: the use cases without any infrastructure."""

import uuid
from decimal import Decimal

import pytest

from domain.commands import CancelOrder, OrderLine, PayOrder, PlaceOrder, ShipOrder
from domain.errors import OrderAlreadyExists, OrderNotFound
from domain.events import NotificationCreated, OrderPaid, OrderPlaced
from domain.ports import CommandContext
from orderwire import registry
from orderwire.bus import MessageBus
from tests.fakes import FakeUnitOfWork


def a_bus() -> MessageBus:
    return MessageBus(registry.COMMAND_HANDLERS, registry.IN_TRANSACTION_SUBSCRIBERS)


def place(bus: MessageBus, uow: FakeUnitOfWork, order_id: str) -> None:
    command = PlaceOrder(order_id, "Ada", (OrderLine("tea", 2, Decimal("1.25")),))
    bus.handle(command, uow, CommandContext("r1", "session-a"))
    uow.commit()


def test_place_order_adds_an_order_and_sets_off_a_notification() -> None:
    bus, uow, order_id = a_bus(), FakeUnitOfWork(), str(uuid.uuid4())
    command = PlaceOrder(order_id, "Ada", (OrderLine("tea", 2, Decimal("1.25")),))
    result, recorded = bus.handle(command, uow, CommandContext("r1", "session-a"))
    assert result == {"order_id": order_id, "status": "placed", "version": 1}
    assert [type(r.event) for r in recorded] == [OrderPlaced, NotificationCreated]
    notified = recorded[1].event
    assert isinstance(notified, NotificationCreated)
    assert notified.text == "Thank you, Ada: your order of 2.50 is placed."
    assert uow.orders.seen[order_id].owner_session == "session-a"


def test_pay_order_pays_and_notifies() -> None:
    bus, uow, order_id = a_bus(), FakeUnitOfWork(), str(uuid.uuid4())
    place(bus, uow, order_id)
    result, recorded = bus.handle(PayOrder(order_id), uow, CommandContext("r2"))
    assert result["status"] == "paid" and result["version"] == 2
    assert [type(r.event) for r in recorded] == [OrderPaid, NotificationCreated]


def test_the_whole_lifecycle_through_the_bus() -> None:
    bus, uow, order_id = a_bus(), FakeUnitOfWork(), str(uuid.uuid4())
    place(bus, uow, order_id)
    bus.handle(PayOrder(order_id), uow, CommandContext("r2"))
    result, _ = bus.handle(ShipOrder(order_id), uow, CommandContext("r3"))
    assert result == {"order_id": order_id, "status": "shipped", "version": 3}


def test_commands_on_an_unknown_order_raise_order_not_found() -> None:
    bus, uow = a_bus(), FakeUnitOfWork()
    for command in (PayOrder(str(uuid.uuid4())), CancelOrder(str(uuid.uuid4()), "why")):
        with pytest.raises(OrderNotFound):
            bus.handle(command, uow, CommandContext("r"))


def test_placing_the_same_order_id_twice_is_refused() -> None:
    bus, uow, order_id = a_bus(), FakeUnitOfWork(), str(uuid.uuid4())
    place(bus, uow, order_id)
    with pytest.raises(OrderAlreadyExists):
        place(bus, uow, order_id)
