"""The API's answers, as marshmallow schemas: what `/openapi.json` says each endpoint
returns (the views build their JSON themselves; these describe it, for web/openapi.py)."""

from typing import Any

from marshmallow import Schema, fields

from domain.order import OrderStatus

STATUSES = ["accepted", "running", "succeeded", "rejected", "failed"]
ORDER_STATUSES = [status.value for status in OrderStatus]
REQUEST_ID = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}
MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$"}


class FieldErrors(fields.Dict):
    """`{"lines.0.quantity": ["must be 1 to 1000"]}`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), values=fields.List(fields.String()), **kwargs)


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    field_errors = FieldErrors(data_key="fields")


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class AcceptedSchema(Schema):
    request_id = fields.String(required=True, metadata=REQUEST_ID)
    command = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": STATUSES})
    status_url = fields.String(required=True)
    order_id = fields.UUID(required=True, allow_none=True)


class CommandStatusSchema(Schema):
    request_id = fields.String(required=True, metadata=REQUEST_ID)
    command = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": STATUSES})
    attempts = fields.Integer(required=True, metadata={"minimum": 0})
    result = fields.Dict(required=True, allow_none=True)
    error = fields.Dict(required=True, allow_none=True)
    accepted_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(required=True, allow_none=True)
    order_id = fields.UUID(allow_none=True)


class OrderLineOutSchema(Schema):
    product = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price = fields.String(required=True, metadata=MONEY)


class OrderSchema(Schema):
    order_id = fields.UUID(required=True)
    customer_name = fields.String(required=True)
    lines = fields.List(fields.Nested(OrderLineOutSchema), required=True)
    total = fields.String(required=True, metadata=MONEY)
    status = fields.String(required=True, metadata={"enum": ORDER_STATUSES})
    version = fields.Integer(required=True, metadata={"minimum": 1})
    placed_at = fields.DateTime(required=True)


class OrderPageSchema(Schema):
    orders = fields.List(fields.Nested(OrderSchema), required=True)
    page = fields.Integer(required=True, metadata={"minimum": 1})
    per_page = fields.Integer(required=True, metadata={"minimum": 1, "maximum": 100})
    next_page = fields.Integer(required=True, allow_none=True)


class EnvelopeSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True)
    occurred_at = fields.String(required=True)
    request_id = fields.String(required=True, allow_none=True)
    aggregate_id = fields.String(required=True)
    aggregate_version = fields.Integer(required=True, metadata={"minimum": 1})
    data = fields.Dict(required=True)


class OrderEventsSchema(Schema):
    events = fields.List(fields.Nested(EnvelopeSchema), required=True)


class NotificationSchema(Schema):
    notification_id = fields.String(required=True)
    order_id = fields.String(required=True)
    text = fields.String(required=True)
    created_at = fields.String(required=True)


class NotificationsSchema(Schema):
    notifications = fields.List(fields.Nested(NotificationSchema), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)


class ConsumingWorkerSchema(Schema):
    node = fields.String(required=True)
    seconds_since_consumed = fields.Float(required=True)


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ready", "unavailable"]})
    down = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    # Information only: workers never make /readyz 503 (docs/operations.md).
    workers_consuming = fields.List(fields.Nested(ConsumingWorkerSchema), required=True)


# Every answer by its name among the document's components.
ANSWERS: dict[str, type[Schema]] = {
    "Accepted": AcceptedSchema,
    "CommandStatus": CommandStatusSchema,
    "Order": OrderSchema,
    "OrderPage": OrderPageSchema,
    "OrderEvents": OrderEventsSchema,
    "Notifications": NotificationsSchema,
    "Health": HealthSchema,
    "Readiness": ReadinessSchema,
    "Error": ErrorSchema,
}
