"""Unique Celery node names, whatever the hosts are called.

Celery names a worker `name@host` from the command line (`--hostname worker@%h`). Two
hosts with the same hostname (cloned VMs, containers on the host network, network
namespaces) would run two workers with one name: Flower shows them as one, and a
control command (`inspect`, `shutdown`) or a liveness probe addressed to it reaches
either. So a worker claims its name in Redis for as long as it lives (a key it renews);
a second worker that finds the name taken by a live one takes `worker-3fa9c1@host`
instead. The usual case, one worker per hostname, keeps the plain name that health
checks and operators expect.
"""

import logging
import secrets
import threading

import redis

log = logging.getLogger("orderwire.worker")

KEY_PREFIX = "orderwire:node:"
CLAIM_SECONDS = 15
RENEW_SECONDS = 5

# Renew our claim; take the name again if it lapsed (a Redis that restarted empty), but
# never from another worker that holds it now.
RENEW_SCRIPT = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not held then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return 1 end
return 0
"""


def suffixed(node_name: str) -> str:
    """`worker@host` -> `worker-3fa9c1@host`."""
    name, at, host = node_name.partition("@")
    if not at:
        name, host = "celery", node_name
    return f"{name}-{secrets.token_hex(3)}@{host}"


class NodeNameClaim:
    def __init__(self, client: redis.Redis, *, claim_seconds: float = CLAIM_SECONDS) -> None:
        self.client = client
        self.claim_ms = int(claim_seconds * 1000)
        self.token = secrets.token_hex(8)
        self.name: str | None = None

    def claim(self, wanted: str) -> str:
        """`wanted` if no live worker holds it, else a suffixed name; held from now on."""
        try:
            if self.client.set(KEY_PREFIX + wanted, self.token, nx=True, px=self.claim_ms):
                self.name = wanted
            else:
                self.name = suffixed(wanted)
                log.warning(
                    "node name %s is taken by a live worker (another host with this "
                    "hostname?); this one is %s", wanted, self.name,
                    extra={"event": "worker.node_renamed"},
                )
                self.client.set(KEY_PREFIX + self.name, self.token, px=self.claim_ms)
        except (redis.RedisError, OSError):
            # Cannot tell whether the name is free: a name nobody else can have.
            self.name = suffixed(wanted)
            log.warning("Redis unreachable; node name %s", self.name, exc_info=True)
        return self.name

    def renew(self) -> bool:
        """Keep the claim alive; False if another worker holds the name now."""
        assert self.name is not None
        renewed = self.client.eval(
            RENEW_SCRIPT, 1, KEY_PREFIX + self.name, self.token, self.claim_ms
        )
        return bool(renewed)

    def keep_renewing(self, every: float = RENEW_SECONDS) -> None:
        """Renew from a daemon thread for as long as the process lives."""
        threading.Thread(target=self._renew_forever, args=(every,), daemon=True,
                         name="node-name-claim").start()

    def _renew_forever(self, every: float) -> None:
        stop = threading.Event()  # never set: the claim lives as long as the worker
        while not stop.wait(every):
            try:
                if not self.renew():
                    log.error("another worker holds node name %s", self.name)
            except (redis.RedisError, OSError):
                log.warning("could not renew the node name claim", exc_info=True)
