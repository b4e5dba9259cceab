"""Witnesses that run through the whole storm: a PSUBSCRIBE client and one websocket per session.

Both reconnect on their own, as real clients do. The tap notes when it was not
subscribed (pub/sub keeps nothing for an absent subscriber, so an event published
in such a window is not its to see); each listener resumes with `?after=<last id>`
and notes every `resync` it is told (the page then reloads its state from the API).
"""

import json
import threading
import time
from dataclasses import dataclass, field

import redis
import websocket


@dataclass
class Sighting:
    first_seen: float
    times: int = 1


class EventTap:
    """`PSUBSCRIBE orderwire.events.*` for the whole run: what a subscriber saw, in order."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.seen: dict[str, Sighting] = {}
        self.order: list[tuple[str, str, int]] = []  # (event id, aggregate id, version)
        self.blind: list[tuple[float, float]] = []  # (from, to): not subscribed
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-tap", daemon=True)

    def start(self) -> "EventTap":
        self._thread.start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the event tap could not subscribe")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        blind_since: float | None = None
        while not self._stop.is_set():
            client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.5)
            pubsub = client.pubsub()
            try:
                pubsub.psubscribe("orderwire.events.*")
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        self._subscribed.set()
                        if blind_since is not None:
                            self.blind.append((blind_since, time.time()))
                            blind_since = None
                    elif message["type"] == "pmessage":
                        self._saw(json.loads(message["data"]))
            except (redis.RedisError, OSError):
                if blind_since is None:
                    blind_since = time.time()
                time.sleep(0.02)  # reconnect at once: every ms blind is a ms of events missed
            finally:
                pubsub.close()
                client.close()

    def _saw(self, envelope: dict) -> None:
        sighting = self.seen.get(envelope["id"])
        if sighting is not None:
            sighting.times += 1
            return
        self.seen[envelope["id"]] = Sighting(time.time())
        self.order.append((envelope["id"], envelope["aggregate_id"],
                           envelope["aggregate_version"]))

    @property
    def duplicates(self) -> int:
        return sum(sighting.times - 1 for sighting in self.seen.values())


@dataclass
class LiveListener:
    """One browser tab: a websocket that reconnects with `?after=` whenever it drops."""

    base_url: str
    cookie: str
    received: dict[str, int] = field(default_factory=dict)  # event id -> times received
    resyncs: list[float] = field(default_factory=list)
    connections: int = 0
    last_id: str | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-ws", daemon=True)

    def start(self) -> "LiveListener":
        self._thread.start()
        if not self._connected.wait(15):
            raise RuntimeError("a websocket listener could not connect")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        url = self.base_url.replace("http://", "ws://") + "/ws"
        while not self._stop.is_set():
            try:
                after = f"?after={self.last_id}" if self.last_id else ""
                ws = websocket.create_connection(url + after, cookie=self.cookie,
                                                 origin=self.base_url, timeout=10)
            except (websocket.WebSocketException, OSError):
                self._stop.wait(0.3)
                continue
            self.connections += 1
            try:
                self._listen(ws)
            except (websocket.WebSocketException, OSError, ValueError):
                self._stop.wait(0.2)
            finally:
                ws.close()

    def _listen(self, ws: websocket.WebSocket) -> None:
        ws.settimeout(1.0)
        while not self._stop.is_set():
            try:
                raw = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            if not raw:
                raise websocket.WebSocketConnectionClosedException("closed")
            frame = json.loads(raw)
            if frame["kind"] == "hello":
                self._connected.set()
            elif frame["kind"] == "resync":
                self.resyncs.append(time.time())
            elif frame["kind"] == "event":
                event_id = frame["event"]["id"]
                self.received[event_id] = self.received.get(event_id, 0) + 1
                self.last_id = event_id

    @property
    def duplicates(self) -> int:
        return sum(times - 1 for times in self.received.values())
