"""The worker's side of orderwire/worker_liveness.py: probes sent to itself, through the
broker, and consumed by the same consumer loop that takes commands.

`ConsumptionProbe` is a consumer bootstep, so Celery starts it each time the consumer
(re)connects and stops it when the connection is lost: the probes run only on a
connection the worker believes is good, and are consumed only if it really is. The
probe message never reaches the pool, so busy pool processes do not delay it.
"""

import logging
from typing import Any

import redis
from celery import bootsteps
from kombu import Consumer, Exchange, Message, Producer, Queue

from orderwire import worker_liveness
from orderwire.config import Settings
from orderwire.redis_clients import redis_client

log = logging.getLogger("orderwire.worker")

_EXCHANGE = Exchange("orderwire.liveness", type="direct", durable=False)


class ConsumptionProbe(bootsteps.ConsumerStep):
    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.node: str = parent.hostname
        self.settings = Settings.from_env()  # valid: worker.celery_app checked it on import
        self.probe_seconds: float = self.settings.worker_probe_seconds
        self.queue = Queue(
            worker_liveness.probe_queue(self.node),
            _EXCHANGE,
            routing_key=self.node,
            durable=False,
        )
        self.redis: redis.Redis | None = None
        self.timer_entry: Any = None
        self.producer: Producer | None = None

    def get_consumers(self, channel: Any) -> list[Consumer]:
        self.producer = Producer(channel, exchange=_EXCHANGE, routing_key=self.node)
        self.queue(channel).declare()
        return [Consumer(channel, queues=[self.queue], callbacks=[self.on_probe],
                         accept=["json"], no_ack=True)]

    def start(self, c: Any) -> None:
        if self.redis is None:
            self.redis = redis_client(self.settings, socket_timeout=2, socket_connect_timeout=2)
        super().start(c)
        self.send_probe()
        self.timer_entry = c.timer.call_repeatedly(
            self.probe_seconds, self.send_probe
        )

    def stop(self, c: Any) -> None:
        self._cancel_timer()
        super().stop(c)

    def shutdown(self, c: Any) -> None:
        self._cancel_timer()
        super().shutdown(c)
        if self.redis is not None:
            self.redis.close()

    def _cancel_timer(self) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def send_probe(self) -> None:
        # Runs in the consumer's event loop: never retry or block here. A probe lost to
        # a broker hiccup is simply not consumed, which is the signal.
        if self.producer is None:
            return
        try:
            self.producer.publish({"probe": self.node}, retry=False, serializer="json")
        except Exception as error:  # a broken connection: the consumer will notice too
            log.debug("liveness probe not sent: %r", error)

    def on_probe(self, _body: Any, _message: Message) -> None:
        assert self.redis is not None
        try:
            worker_liveness.record_consumed(self.redis, self.node, self.probe_seconds)
        except redis.RedisError as error:
            log.debug("liveness probe not recorded: %r", error)
