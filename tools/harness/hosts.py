"""Hosts for the multi-host test: Linux network namespaces when the tests run as root,
else plain processes on loopback.

Each `Host` has its own network stack: an address of its own (10.x.i.2) on a veth pair
whose other end (10.x.i.1) is in the test's namespace, where Redis and the test's
clients live. The namespaces share the machine's hostname, as cloned hosts do, which
is the case unique Celery node names exist for. Without root, every host is
127.0.0.1 and only its ports differ; `why_not_isolated` says why.
"""

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass


@dataclass
class Host:
    name: str
    address: str  # where this host's processes listen
    gateway: str  # this host's way to the shared services (Redis)
    namespace: str | None = None

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run on this host."""
        return ["ip", "netns", "exec", self.namespace, *argv] if self.namespace else argv


class Hosts:
    def __init__(self, count: int) -> None:
        self.count = count
        self.tag = secrets.token_hex(3)
        self.subnet = 100 + secrets.randbelow(100)  # 10.<subnet>.<host>.0/24, per run
        self.hosts: list[Host] = []
        self.why_not_isolated = self._why_not()

    @property
    def isolated(self) -> bool:
        return self.why_not_isolated is None

    @staticmethod
    def _why_not() -> str | None:
        if os.geteuid() != 0:
            return "not root: network namespaces need CAP_NET_ADMIN"
        if shutil.which("ip") is None:
            return "no `ip` command (iproute2)"
        probe = f"owprobe{secrets.token_hex(2)}"
        made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, check=False)
        if made.returncode != 0:
            return f"`ip netns add` failed: {made.stderr.decode().strip()}"
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
        return None

    def __enter__(self) -> "Hosts":
        for index in range(1, self.count + 1):
            name = f"host-{index}"
            if not self.isolated:
                self.hosts.append(Host(name, "127.0.0.1", "127.0.0.1"))
                continue
            try:
                self.hosts.append(self._namespace(index, name))
            except BaseException:
                self.__exit__()
                raise
        return self

    def _namespace(self, index: int, name: str) -> Host:
        namespace = f"ow{self.tag}h{index}"
        outside, inside = f"ow{self.tag}o{index}", f"ow{self.tag}i{index}"
        gateway, address = f"10.{self.subnet}.{index}.1", f"10.{self.subnet}.{index}.2"
        steps = [
            ["ip", "netns", "add", namespace],
            ["ip", "link", "add", outside, "type", "veth", "peer", "name", inside],
            ["ip", "link", "set", inside, "netns", namespace],
            ["ip", "addr", "add", f"{gateway}/24", "dev", outside],
            ["ip", "link", "set", outside, "up"],
            ["ip", "netns", "exec", namespace, "ip", "addr", "add", f"{address}/24", "dev", inside],
            ["ip", "netns", "exec", namespace, "ip", "link", "set", inside, "up"],
            ["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"],
        ]
        host = Host(name, address, gateway, namespace)
        self.hosts.append(host)  # so that a failure half-way is still cleaned up
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        self.hosts.pop()
        return host

    def __exit__(self, *_exc: object) -> None:
        for host in self.hosts:
            if host.namespace:
                # Deleting the namespace deletes its veth end, and with it the pair.
                subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True,
                               check=False)
        self.hosts = []
