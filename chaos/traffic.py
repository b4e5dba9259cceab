"""A steady stream of commands from a few browser sessions, as a person would retry them.

Each command has its own Idempotency-Key, chosen before the first try. A try that
fails on the way (connection refused, a timeout while the database is locked, a
503) is sent again with the same key and body until it is answered 202, which is
exactly what the key is for: whatever happened to the earlier tries, the command
is accepted once. Orders are placed with client-chosen ids, then paid, shipped or
cancelled at random, so some commands are business rejections (paying a cancelled
order), which must end `rejected`, never `failed`.
"""

import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

PLACE = {"product": "Chaos monkey", "quantity": 1, "unit_price": "12.50"}
FOLLOW_UPS = [("pay", 0.4), ("ship", 0.3), ("cancel", 0.3)]
GIVE_UP_AFTER = 90.0


@dataclass
class Browser:
    cookie: str  # "session=<signed value>"
    session_id: str
    orders: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """One try of one request: when it was sent and answered, and how (a status code, or
    "error" when the connection failed), and whether a 503 said when to come back."""

    started: float
    ended: float
    status: int | str
    retry_after: bool = False


@dataclass
class Sent:
    key: str
    path: str
    browser: int
    status: int | None = None  # the final answer: 202, a 4xx, or None (never answered)
    tries: int = 0
    answers: list[Answer] = field(default_factory=list)


def _answer(started: float, response: requests.Response | None) -> Answer:
    if response is None:
        return Answer(started, time.time(), "error")
    return Answer(started, time.time(), response.status_code,
                  "Retry-After" in response.headers)


class CommandStream:
    def __init__(self, base_url: str, browsers: list[Browser], rate: float, *,
                 senders: int = 6, seed: int | None = None) -> None:
        self.base_url = base_url
        self.browsers = browsers
        self.rate = rate
        self.random = random.Random(seed)
        self.sent: list[Sent] = []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(senders, thread_name_prefix="chaos-send")
        self._thread = threading.Thread(target=self._schedule, name="chaos-traffic", daemon=True)
        self._lock = threading.Lock()
        self.in_flight = 0  # requests sent and not yet answered, right now

    def start(self) -> "CommandStream":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sending new commands and wait for the ones in flight to be answered."""
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _schedule(self) -> None:
        started, count = time.monotonic(), 0
        while not self._stop.is_set():
            self._pool.submit(self._send, *self._next_command())
            count += 1
            self._stop.wait(max(0.0, started + count / self.rate - time.monotonic()))

    def _next_command(self) -> tuple[int, str, dict]:
        with self._lock:
            index = self.random.randrange(len(self.browsers))
            browser = self.browsers[index]
            if not browser.orders or self.random.random() < 0.45:
                order_id = str(uuid.uuid4())
                browser.orders.append(order_id)
                body = {"order_id": order_id, "customer_name": f"Chaos {index}", "lines": [PLACE]}
                return index, "/api/orders", body
            order_id = self.random.choice(browser.orders[-5:])
            action = self.random.choices([a for a, _ in FOLLOW_UPS],
                                         [w for _, w in FOLLOW_UPS])[0]
            body = {"reason": "chaos"} if action == "cancel" else {}
            return index, f"/api/orders/{order_id}/{action}", body

    def _send(self, index: int, path: str, body: dict) -> None:
        sent = Sent(key=f"chaos-{uuid.uuid4()}", path=path, browser=index)
        with self._lock:
            self.sent.append(sent)
        headers = {"Content-Type": "application/json", "Idempotency-Key": sent.key,
                   "Cookie": self.browsers[index].cookie}
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:
            sent.tries += 1
            started = time.time()
            with self._lock:
                self.in_flight += 1
            try:
                answer = requests.post(f"{self.base_url}{path}", data=json.dumps(body),
                                       headers=headers, timeout=15)
            except requests.RequestException:
                answer = None
            finally:
                with self._lock:
                    self.in_flight -= 1
            sent.answers.append(_answer(started, answer))
            if answer is None:
                time.sleep(0.5)
                continue
            if answer.status_code >= 500:
                time.sleep(0.5)
                continue
            sent.status = answer.status_code
            return

    @property
    def accepted(self) -> list[Sent]:
        return [sent for sent in self.sent if sent.status == 202]


class ReadStream:
    """Reads while the commands flow, as open pages do: each browser's order list, the
    status of one of its recent commands, and the page itself, in turn. Every answer is
    kept (a read is not retried: what matters is how each was answered)."""

    def __init__(self, base_url: str, browsers: list[Browser], commands: CommandStream,
                 rate: float) -> None:
        self.base_url = base_url
        self.browsers = browsers
        self.commands = commands
        self.rate = rate
        self.answers: list[tuple[str, Answer]] = []  # (what was read, how it was answered)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-reads", daemon=True)

    def start(self) -> "ReadStream":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        turn = 0
        while not self._stop.wait(1 / self.rate):
            browser = self.browsers[turn % len(self.browsers)]
            index = turn % len(self.browsers)
            recent = [sent.key for sent in self.commands.sent[-50:] if sent.browser == index]
            reads = [("orders", "/api/orders"), ("page", "/")]
            if recent:
                reads.append(("command", f"/api/commands/{recent[-1]}"))
            what, path = reads[turn % len(reads)]
            turn += 1
            started = time.time()
            try:
                response = requests.get(f"{self.base_url}{path}", timeout=15,
                                        headers={"Cookie": browser.cookie})
            except requests.RequestException:
                response = None
            self.answers.append((what, _answer(started, response)))


def new_browser(base_url: str, secret_key: str) -> Browser:
    """A session from GET /; its id is read from the signed cookie (chaos knows the key)."""
    answer = requests.get(f"{base_url}/", timeout=10)
    answer.raise_for_status()
    value = answer.cookies["session"]
    app = Flask("chaos")
    app.secret_key = secret_key
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return Browser(cookie=f"session={value}", session_id=serializer.loads(value)["sid"])
