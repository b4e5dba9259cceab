"""Believe X-Forwarded-For/-Proto/-Host only from the reverse proxies in TRUSTED_PROXIES.

Behind a proxy, the peer of every request is the proxy: without this the rate limit
counts the proxy (everyone shares one limit), the websocket Origin check compares the
browser's `https://` origin with the `http://` the app sees (every `/ws` is a 403),
logs name the proxy, and the session cookie cannot tell it travelled over TLS.

werkzeug's ProxyFix does the rewriting; it trusts a fixed number of hops, from anyone.
This wrapper decides per request how many hops to trust:

- addresses/CIDRs: none unless the peer is a trusted proxy; then one more for each
  trusted address at the right end of X-Forwarded-For (a chain of our own proxies),
  so the client is the rightmost address no trusted proxy vouches for. Headers from
  anyone else (a client reaching gunicorn directly) are ignored.
- a hop count N: every request came through N proxies. Only for deployments where
  nothing can reach gunicorn except through them.

The scheme and host are the values the nearest proxy passed on (the last in their
lists): a chain must forward what the edge proxy saw, as nginx's `$http_x_forwarded_proto`
does. gunicorn's own forwarded-header handling is off (orderwire/gunicorn_conf.py), so this
is the one place that decides.
"""

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, app: WsgiApp, *, networks: tuple[str, ...] = (), hops: int = 0) -> None:
        self.app = app
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in networks)
        self.hops = hops
        self._fixers: dict[int, ProxyFix] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        hops = self.hops or self.trusted_hops(environ)
        if not hops:
            return self.app(environ, start_response)
        fixer = self._fixers.get(hops)
        if fixer is None:
            fixer = ProxyFix(self.app, x_for=hops, x_proto=1, x_host=1, x_port=1)
            self._fixers[hops] = fixer
        return fixer(environ, start_response)

    def trusted_hops(self, environ: dict[str, Any]) -> int:
        """How many X-Forwarded-For entries, from the right, our own proxies wrote."""
        if not self._trusted(environ.get("REMOTE_ADDR")):
            return 0
        chain = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        chain = [part for part in chain if part]
        hops = 1
        # The entry `hops` from the right is the client unless it is one of our proxies
        # and someone stands before it.
        while hops < len(chain) and self._trusted(chain[-hops]):
            hops += 1
        return hops

    def _trusted(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped  # a dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d
        return any(ip in network for network in self.networks)

