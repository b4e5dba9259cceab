"""The hub: one Redis subscription per web process, fanned out to its websockets.

One PubSub per socket would need one Redis connection per socket (redis-py's
pool stops at 100 by default, Redis at 10,000). Instead one background thread
(a greenlet under gevent) listens on this process's own live channel, where every
message names the sessions it is for and each one's stream position, and puts
one prebuilt frame on each matching connection's queue.

Routes make the live path scale with web processes: a socket's session is
registered (`orderwire:route:<session>`, a set of hub ids) before its history is
read, and the publisher's script sends each event only to the hubs of its
sessions. So a web process receives and decodes the events of the sessions it
serves, not every event of the system. Routes expire unless refreshed (a process
that died leaves nothing behind for long), are refreshed every minute, and are
written again whenever the subscription comes back (a Redis that restarted or
failed over may have lost them; the catch-up from history covers the gap).
"""

import contextlib
import json
import logging
import secrets
import threading
import time
from collections import defaultdict

import redis

from orderwire.outbox.keys import live_channel, session_route
from orderwire.redis_outage import RedisOutage
from web.live.connection import LiveConnection

log = logging.getLogger("orderwire.live")

ROUTE_TTL_SECONDS = 300
ROUTE_REFRESH_SECONDS = 60


class LiveHub:
    def __init__(self, client: redis.Redis, *, queue_limit: int) -> None:
        self.client = client
        self.queue_limit = queue_limit
        self.hub_id = secrets.token_hex(8)  # this web process, for the routes
        self.channel = live_channel(self.hub_id)
        self.messages_received = 0  # live messages this process had to decode
        self._by_session: dict[str, set[LiveConnection]] = defaultdict(set)
        self._lock = threading.Lock()
        # Serialises route writes with the "no socket of this session is left" check, so a
        # socket closing cannot remove the route a new socket of its session just wrote.
        self._routes_lock = threading.Lock()
        self._subscribed = threading.Event()
        self._started = False
        self._stopping = False
        self.outage = RedisOutage("live hub", log)

    @property
    def connection_count(self) -> int:
        with self._lock:
            return sum(len(group) for group in self._by_session.values())

    def register(self, session_id: str, *, timeout: float = 5.0) -> LiveConnection | None:
        """A new connection's queue, once the hub is subscribed; None if Redis is unreachable."""
        self._start()
        connection = LiveConnection(session_id, self.queue_limit)
        with self._lock:
            self._by_session[session_id].add(connection)
        if not self._subscribed.wait(timeout):
            self.unregister(connection)
            return None
        try:
            # Before the caller reads the history: an event published after this is routed
            # here, one published before it is in the history.
            with self._routes_lock:
                self._add_routes([session_id])
        except (redis.RedisError, OSError):
            self.unregister(connection)
            return None
        return connection

    def unregister(self, connection: LiveConnection) -> None:
        with self._lock:
            group = self._by_session.get(connection.session_id)
            last = False
            if group is not None:
                group.discard(connection)
                if not group:
                    del self._by_session[connection.session_id]
                    last = True
        if last:
            # Best effort: a route left behind only costs a publish nobody reads, until it
            # expires or a new socket of the session comes back here.
            with self._routes_lock, contextlib.suppress(redis.RedisError, OSError):
                with self._lock:
                    came_back = connection.session_id in self._by_session
                if not came_back:
                    self.client.srem(session_route(connection.session_id), self.hub_id)

    def shutdown(self) -> None:
        """Tell every connection the server is going away (they close with 1001)."""
        self._stopping = True
        with self._lock:
            everyone = [c for group in self._by_session.values() for c in group]
        for connection in everyone:
            connection.signal_going_away()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._listen_forever, name="live-hub", daemon=True).start()

    def _add_routes(self, session_ids: list[str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for session_id in session_ids:
            pipe.sadd(session_route(session_id), self.hub_id)
            pipe.expire(session_route(session_id), ROUTE_TTL_SECONDS)
        pipe.execute()

    def _refresh_routes(self) -> None:
        with self._lock:
            held = list(self._by_session)
        if held:
            self._add_routes(held)

    def _listen_forever(self) -> None:
        delay = 0.1
        first = True
        refresh_at = time.monotonic() + ROUTE_REFRESH_SECONDS
        while not self._stopping:
            pubsub = self.client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while not self._stopping:
                    if time.monotonic() >= refresh_at:
                        self._refresh_routes()
                        refresh_at = time.monotonic() + ROUTE_REFRESH_SECONDS
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        if not first:
                            self._refresh_routes()  # a new or restarted Redis may lack them
                        self._subscribed.set()
                        if first:
                            self.outage.answered()
                        else:
                            self.outage.reconnected()
                            self._everyone_catch_up()
                        first, delay = False, 0.1
                    elif message["type"] == "message":
                        self.messages_received += 1
                        self._dispatch(message["data"])
                        # Let the sockets' loops drain their queues before the next message:
                        # redis-py hands over buffered messages without blocking, and under
                        # gevent nothing else would run until the buffer is empty, so a burst
                        # could fill the queue of a reader that is not slow at all.
                        time.sleep(0)
            except Exception as error:
                # Whatever broke (redis-py also raises ValueError on a socket closed under
                # it), this thread must survive it: without it no page gets live events.
                self._subscribed.clear()
                if self._stopping:
                    return
                self.outage.lost(error)
                log.debug("live subscription lost; reconnecting", exc_info=True)
                time.sleep(delay)
                # Capped low: while the hub is away, pages get nothing live, and one
                # reconnect a second per web process costs Redis nothing.
                delay = min(delay * 2, 1.0)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()

    def _everyone_catch_up(self) -> None:
        # Whatever was published while we were not subscribed is in the session streams.
        with self._lock:
            everyone = [c for group in self._by_session.values() for c in group]
        for connection in everyone:
            connection.signal_gap()

    def _dispatch(self, raw: bytes) -> None:
        try:
            positions, envelope = split_live_message(raw)
        except (ValueError, KeyError, TypeError):
            log.error("unreadable live message")
            return
        with self._lock:
            targets = [
                (connection, position)
                for session_id, position in positions.items()
                for connection in self._by_session.get(session_id, ())
            ]
        if targets:
            # The envelope goes out as the publisher wrote it, as history frames do
            # (web/live/stream.py): decoding and encoding it again here cost more than the rest
            # of a frame's way through this process.
            frame = '{"kind":"event","event":' + envelope + "}"
            for connection, position in targets:
                connection.push(position, frame)


# What the publishing script sends (orderwire/outbox/publisher.py): the positions, then the
# envelope, in this order and with no space between.
_POSITIONS_HEAD = b'{"positions":'
_ENVELOPE_HEAD = b',"envelope":'


def split_live_message(raw: bytes) -> tuple[dict[str, str], str]:
    """(the stream position per session, the envelope's JSON text) of one live message.
    Only the small positions object is decoded; a message of any other shape is decoded
    whole. Raises ValueError if it is not JSON."""
    cut = raw.find(_ENVELOPE_HEAD)
    if raw.startswith(_POSITIONS_HEAD) and raw.endswith(b"}") and cut > 0:
        # Session ids and stream positions never contain the marker, so its first
        # occurrence ends the positions.
        positions = json.loads(raw[len(_POSITIONS_HEAD) : cut])
        return positions or {}, raw[cut + len(_ENVELOPE_HEAD) : -1].decode()
    message = json.loads(raw)
    return message.get("positions") or {}, json.dumps(message["envelope"])
