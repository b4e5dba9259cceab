"""The tutorial's web app, served by gunicorn as `bench.tutorial.web:create_app()`.

The same session cookie, request body and frames as orderwire's API, so the one load
generator (bench/load.py) drives both. The Idempotency-Key header is only the id the
OrderPlaced frame carries back (the tutorial has no idempotency).
"""

import os
import secrets
import uuid

import redis
from flask import Flask, jsonify, request, session
from flask.typing import ResponseReturnValue
from flask_sock import Sock
from marshmallow import ValidationError
from simple_websocket import Server
from wsproto.frame_protocol import CloseReason

from bench.tutorial.tasks import place_order, session_channel
from web.api.schemas import PlaceOrderSchema

PLACE_ORDER_SCHEMA = PlaceOrderSchema()


def _session_id() -> str:
    if "sid" not in session:
        session["sid"] = secrets.token_urlsafe(18)
    return session["sid"]


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "tutorial-bench-only")
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    sock = Sock(app)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return {"status": "ok"}

    @app.get("/api/orders")
    def list_orders() -> ResponseReturnValue:
        _session_id()
        return jsonify([])

    @app.post("/api/orders")
    def create_order() -> ResponseReturnValue:
        try:
            data = PLACE_ORDER_SCHEMA.load(request.get_json())
        except ValidationError as error:
            return {"errors": error.messages}, 400
        order_id = str(data.get("order_id") or uuid.uuid4())
        request_id = request.headers.get("Idempotency-Key") or str(uuid.uuid4())
        place_order.delay({
            "order_id": order_id, "request_id": request_id, "session_id": _session_id(),
            "customer_name": data["customer_name"],
            "lines": [{**line, "unit_price": str(line["unit_price"])} for line in data["lines"]],
        })
        return {"request_id": request_id, "order_id": order_id}, 202

    @sock.route("/ws")
    def live(ws: Server) -> None:
        sid = session.get("sid")
        if sid is None:
            ws.close(reason=CloseReason.POLICY_VIOLATION, message="no session")
            return
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(session_channel(sid))
        try:
            ws.send('{"kind": "hello"}')
            while ws.connected:
                message = pubsub.get_message(timeout=1.0)
                if message is not None:
                    ws.send(message["data"].decode())
        finally:
            pubsub.close()

    return app
