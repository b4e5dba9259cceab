"""Several hosts, one Redis, one database: a page's session made on host 1 streams from
host 2; host 1's web and worker are killed mid-load; nothing is lost, nothing doubled.

As root the two hosts are network namespaces (tools/harness/hosts.py), each with its own
address and its own gunicorn and Celery worker, sharing the machine's hostname as
cloned hosts do; the relay, Redis and the clients are in the test's own namespace.
Otherwise they are processes on loopback with ports of their own, and the test says
why. Both hosts run the Procfile's worker command line (`--hostname worker@%h`).
"""

import contextlib
import json
import signal
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket

from orderwire.local_redis import PrivateRedis, free_port
from tests.e2e.outcomes import assert_each_command_ended_once
from tests.live_tools import placed_orders, read_until
from tests.payloads import a_key, a_line, order_body
from tools.harness.hosts import Host, Hosts
from tools.harness.system import BIN, LiveClient, System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

ORDER = order_body("Ada", a_line("tea", 1, "2"))
SECRET_KEY = "multi-host-test-key-shared-by-every-web-host"


class Deployment:
    def __init__(self, workdir: Path, hosts: list[Host]) -> None:
        self.hosts = hosts
        self.system = System(workdir, env={"SECRET_KEY": SECRET_KEY,
                                           "ORDERWIRE_RATE_LIMIT": "off",
                                           "ORDERWIRE_SWEEP_ACCEPTED_AFTER": "3"})
        gateways = sorted({host.gateway for host in hosts} | {"127.0.0.1"})
        self.system.redis = PrivateRedis(workdir / "redis", extra_args=("--bind", *gateways))
        self.ports = {host.name: free_port() for host in hosts}

    def url(self, host: Host) -> str:
        return f"http://{host.address}:{self.ports[host.name]}"

    def start(self, *, slow_worker_on: Host | None = None) -> None:
        self.system.redis.start()
        self.system.create_schema()
        for host in self.hosts:
            env = {
                "REDIS_URL": f"redis://{host.gateway}:{self.system.redis.port}/0",
                "PORT": str(self.ports[host.name]),
                "GUNICORN_BIND": f"{host.address}:{self.ports[host.name]}",
            }
            web = [str(BIN / "gunicorn"), "--config", "python:orderwire.gunicorn_conf",
                   "web:create_app()"]
            self.system._spawn(f"web-{host.name}", host.command(web), env)
            worker = [str(BIN / "celery"), "--app", "worker.celery_app", "worker",
                      "--loglevel", "INFO", "--concurrency", "2", "--hostname", "worker@%h",
                      "--without-mingle", "--without-gossip"]
            if host is slow_worker_on:
                # Half a second inside each transaction: when the host dies, its worker is
                # sure to be holding commands that someone else must finish.
                env = {**env, "ORDERWIRE_FAULTS": "transaction.before_commit=sleep:0.5"}
            self.system._spawn(f"worker-{host.name}", host.command(worker), env)
        self.system.start_relay_process()
        for host in self.hosts:
            wait_for(
                lambda host=host: self._ready(host),  # type: ignore[misc]  # a lambda with defaults: python/mypy#15459
                timeout=60, what=f"{host.name}'s web",
            )
            self.system.wait_for_worker(f"worker-{host.name}")

    def _ready(self, host: Host) -> bool:
        try:
            return requests.get(f"{self.url(host)}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def kill_host(self, host: Host) -> None:
        for role in ("web", "worker"):
            self.system.stop_process(f"{role}-{host.name}", sig=signal.SIGKILL)

    def inside_a_transaction(self, host: Host) -> bool:
        """Whether the host's worker is pausing before a commit now: its latest injected
        fault belongs to a command it has not finished."""
        pausing: str | None = None
        for line in (self.system.logs / f"worker-{host.name}.log").read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "fault.injected":
                pausing = record.get("request_id")
            elif record.get("event") == "command.finished" and record.get("request_id") == pausing:
                pausing = None
        return pausing is not None

    def node_name(self, host: Host) -> str:
        for line in (self.system.logs / f"worker-{host.name}.log").read_text().splitlines():
            try:
                message = json.loads(line).get("message", "")
            except ValueError:
                continue
            if message.endswith(" ready."):
                return message.removesuffix(" ready.")
        raise AssertionError(f"{host.name}'s worker never said it was ready")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with Hosts(2) as hosts:
        if not hosts.isolated:
            # A warning, not a print: pytest's summary shows it without -s.
            warnings.warn(
                f"multi-host test without network namespaces: {hosts.why_not_isolated}; "
                "each host is processes on loopback with ports of their own",
                stacklevel=1,
            )
        running = Deployment(tmp_path, hosts.hosts)
        try:
            running.start(slow_worker_on=hosts.hosts[0])
            yield running
        except BaseException:
            running.system.dump_logs()
            raise
        finally:
            running.system.stop()


class Page:
    """A browser whose requests go to whichever host is up (a load balancer's job). Behind
    a balancer every host is one site, so the browser sends its one cookie to all of them
    (requests would keep it for the address that set it only)."""

    def __init__(self, deployment: Deployment, first: Host) -> None:
        self.deployment = deployment
        answer = requests.get(f"{deployment.url(first)}/", timeout=5)
        assert answer.status_code == 200
        self.cookie = "; ".join(f"{name}={value}" for name, value in answer.cookies.items())
        self.accepted: list[str] = []  # order ids

    def place(self, hosts: list[Host]) -> None:
        key = a_key("multi")
        for host in hosts:  # the same key again on the next host: one command at most
            try:
                answer = requests.post(
                    f"{self.deployment.url(host)}/api/orders", data=json.dumps(ORDER),
                    headers={"Content-Type": "application/json", "Idempotency-Key": key,
                             "Cookie": self.cookie},
                    timeout=5,
                )
            except requests.RequestException:
                continue
            if answer.status_code == 202:
                self.accepted.append(answer.json()["order_id"])
                return


def test_a_host_dies_mid_load_and_nothing_is_lost_or_doubled(deployment: Deployment) -> None:
    one, two = deployment.hosts
    assert deployment.node_name(one) != deployment.node_name(two)

    page = Page(deployment, first=one)  # the session is made on host 1
    other = Page(deployment, first=two)
    system = deployment.system
    ws = websocket.create_connection(  # ...and its socket is on host 2
        f"ws://{two.address}:{deployment.ports[two.name]}/ws", cookie=page.cookie,
        origin=deployment.url(two), timeout=10,
    )
    live = LiveClient(ws)
    stop = threading.Event()
    targets = {"page": [one, two], "other": [two]}

    def load(client: Page, name: str) -> None:
        while not stop.is_set():
            client.place(targets[name])
            stop.wait(0.05)

    def keep_reading() -> None:
        # Reading is also what answers the server's pings: a socket left unread for a
        # ping interval is closed as dead.
        while not stop.is_set():
            with contextlib.suppress(websocket.WebSocketTimeoutException):
                live.next_frame(timeout=1)

    reader = threading.Thread(target=keep_reading, daemon=True)
    threads = [threading.Thread(target=load, args=(client, name), daemon=True)
               for client, name in ((page, "page"), (other, "other"))] + [reader]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(page.accepted) >= 15, timeout=60, what="orders through host 1")
        # Killed inside a transaction's half-second pause, after the attempt was counted: a
        # kill that lands before the count leaves nothing to show host 2 finished it.
        wait_for(lambda: deployment.inside_a_transaction(one), timeout=30,
                 what="host 1's worker inside a command's transaction")
        deployment.kill_host(one)
        targets["page"] = [two]  # the balancer notices host 1 is gone
        placed_at_kill = len(page.accepted)
        wait_for(lambda: len(page.accepted) >= placed_at_kill + 10, timeout=60,
                 what="orders through host 2 after host 1 died")
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)

    accepted = set(page.accepted) | set(other.accepted)
    rescued = assert_each_command_ended_once(system.database_url, accepted)
    assert rescued >= 1  # host 1 died holding at least one command; host 2 finished it
    print(f"\nmulti-host: {len(accepted)} commands accepted, {rescued} finished by host 2 "
          f"after host 1 died holding them")

    # Every order of the session made on host 1 reached its socket on host 2, once.
    mine = set(page.accepted)
    read_until(live, lambda events: mine <= placed_orders(events), timeout=60,
               what="the page's orders on its socket on host 2")
    ws.close()
    ids = [event["id"] for event in live.events]
    assert len(ids) == len(set(ids))
    assert placed_orders(live.events) == mine  # and no other session's
