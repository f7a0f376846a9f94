"""The client's address, taken from ``X-Forwarded-For`` only when a trusted proxy sent it.

``TRUSTED_PROXY_HOSTS`` lists the proxies (host names, IP addresses or networks). Host names
are resolved, the answer cached for a few seconds and resolved again when a peer is not in it,
because a Swarm task gets a new address when it is replaced. A bare service name also covers
``tasks.<name>``: in Swarm the name resolves to the service's virtual IP while connections come
from the tasks' own addresses.

The client is found as Nginx's ``real_ip_recursive`` finds it: start from the direct peer and,
while that address is a trusted proxy, step to the address it put at the right end of
``X-Forwarded-For``. Anything a client wrote further left is never used.

This file is the same in ``app/api`` and ``app/frontend`` (each image is built from its own
folder); a test keeps the two copies identical.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], set[str]]


def _parse_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def resolve_host(name: str) -> set[str]:
    """Return the addresses ``name`` resolves to now (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return set()
    return {str(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in infos}


class TrustedProxies:
    """Which peers may set ``X-Forwarded-For``, and the client address they vouch for."""

    def __init__(
        self,
        hosts: Iterable[str],
        ttl: float = 10.0,
        min_refresh: float = 1.0,
        resolver: Resolver = resolve_host,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the set.

        Args:
            hosts: Host names, IP addresses or networks (``10.0.0.0/24``).
            ttl: Seconds a name resolution is used before it is resolved again.
            min_refresh: Least seconds between two resolutions caused by an unknown peer, so
                untrusted peers cannot turn every request into a DNS query.
            resolver: Returns the addresses of a name (tests pass their own).
            clock: Monotonic clock (tests pass their own).
        """
        self.networks: list[IPNetwork] = []
        self.names: list[str] = []
        for raw in hosts:
            entry = raw.strip()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.names.append(entry.lower())
        self.ttl = ttl
        self.min_refresh = min_refresh
        self._resolver = resolver
        self._clock = clock
        self._lock = threading.Lock()
        self._resolved: frozenset[str] = frozenset()
        self._resolved_at: float | None = None

    @classmethod
    def from_setting(cls, value: str | None, **kwargs: Any) -> TrustedProxies:
        """Build from a comma-separated ``TRUSTED_PROXY_HOSTS`` value."""
        return cls((value or "").split(","), **kwargs)

    def __bool__(self) -> bool:
        return bool(self.networks or self.names)

    def _resolve(self) -> frozenset[str]:
        addresses: set[str] = set()
        for name in self.names:
            addresses |= self._resolver(name)
            if "." not in name and ":" not in name:
                addresses |= self._resolver(f"tasks.{name}")
        return frozenset(addresses)

    def _names_contain(self, address: str) -> bool:
        if not self.names:
            return False
        now = self._clock()
        resolved_at = self._resolved_at
        fresh = resolved_at is not None and now - resolved_at < self.ttl
        if fresh and address in self._resolved:
            return True
        # Stale, or a miss that may be a replaced task: resolve again, but not too often.
        if fresh and now - resolved_at < self.min_refresh:
            return False
        with self._lock:
            if self._resolved_at == resolved_at:
                self._resolved = self._resolve()
                self._resolved_at = self._clock()
        return address in self._resolved

    def is_trusted(self, address: str | None) -> bool:
        """Whether ``address`` (an IP address as text) is one of the trusted proxies."""
        if not address or not self:
            return False
        ip = _parse_ip(address)
        if ip is None:
            return False
        parsed = ipaddress.ip_address(ip)
        if any(parsed in network for network in self.networks):
            return True
        return self._names_contain(ip)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """Return the client's address.

        Args:
            peer: The direct peer (``REMOTE_ADDR``).
            forwarded_for: The ``X-Forwarded-For`` header (all of its values, comma-joined).

        Returns:
            The right-most address not vouched for by a trusted proxy: ``peer`` itself when the
            peer is not trusted or sent no (valid) ``X-Forwarded-For``.
        """
        address = peer
        hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
        while hops and self.is_trusted(address):
            candidate = _parse_ip(hops.pop())
            if candidate is None:
                break  # garbage from the proxy: keep the last address we know is real
            address = candidate
        return address


class TrustedProxyMiddleware:
    """WSGI middleware: ``REMOTE_ADDR`` (and the scheme) as vouched for by trusted proxies.

    Replaces werkzeug's ``ProxyFix``, which trusts ``X-Forwarded-*`` from any peer. The scheme
    comes from ``X-Forwarded-Proto`` only when the direct peer is trusted; ``Host`` is always
    the one the browser sent.
    """

    def __init__(self, app: Callable[..., Any], proxies: TrustedProxies) -> None:
        """Wrap ``app``.

        Args:
            app: The WSGI application.
            proxies: The trusted proxies.
        """
        self.app = app
        self.proxies = proxies

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Rewrite the environ, then call the application."""
        peer = environ.get("REMOTE_ADDR")
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO")
        if (forwarded_for or forwarded_proto) and self.proxies.is_trusted(peer):
            environ["bf.proxy.peer"] = peer
            if forwarded_for:
                environ["REMOTE_ADDR"] = self.proxies.client_address(peer, forwarded_for)
            proto = (forwarded_proto or "").rsplit(",", 1)[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)
