"""Unique Celery node names, whatever the hosts are called.

Celery names a worker `name@host` from the command line (`--hostname worker@%h`). Two
hosts with the same hostname (cloned VMs, containers on the host network, network
namespaces) would run two workers with one name: Flower shows them as one, and a
control command (`inspect`, `shutdown`) addressed to it reaches both. A short random
suffix on the name part makes every worker process its own node; the host part stays,
so `inspect ping | grep @$HOSTNAME` still finds this host's worker.
"""

import secrets


def unique_node_name(node_name: str) -> str:
    """`worker@host` -> `worker-3fa9c1@host` (a new suffix on every start)."""
    name, at, host = node_name.partition("@")
    if not at:
        name, host = "celery", node_name
    return f"{name}-{secrets.token_hex(3)}@{host}"
