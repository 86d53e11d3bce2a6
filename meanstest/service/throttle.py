"""Failed authentications counted per address: an address that fails more than
`failures` times within `window` seconds is locked out for `window` seconds
(`meanstest serve --auth-failures N --auth-window-seconds W`, docs/service.md "Tokens
file"). A security review's leftover: any number of wrong tokens could be tried from
one address.

- While an address is locked out, every call from it is refused RESOURCE_EXHAUSTED
  (Flight: UNAVAILABLE) before its token is read: were the token still checked, a
  right guess would be answered otherwise than a wrong one, and guessing would go on.
- A success resets nothing: a holder of one valid token could otherwise interleave its
  own calls with guesses at other callers' tokens.
- One limiter per server, shared by gRPC and Flight (`MeansTestService.limiter`):
  guesses on one count on the other.
- The table holds an address only while it has a failure within the window or is
  locked out, and at most `max_peers` of them (the stalest dropped first): guesses
  from many addresses cannot grow it without bound.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
import urllib.parse
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from meanstest.service.errors import ResourceExhausted, Unauthenticated

log = logging.getLogger("meanstest.service")
MAX_PEERS = 10_000
_T = TypeVar("_T")


class LockedOut(ResourceExhausted):
    """A call from an address locked out for its failed authentications."""


def peer_host(peer: str) -> str:
    """The address a gRPC or Flight peer is counted under: `ipv4:10.1.2.3:51234` →
    `10.1.2.3`; an IPv6 peer (`ipv6:[2001:db8::7]:51234`, or `%5B…%5D` as gRPC also
    writes it) → its /64 (`2001:db8::/64`), which one host may hold whole and draw new
    addresses from at will; an IPv4-mapped IPv6 address → the IPv4 address (a server
    bound on `::` sees IPv4 clients so). Anything else (`unix:/run/m.sock`, `-`) is kept
    as it is: it has no port."""
    scheme, _, rest = peer.partition(":")
    if scheme not in ("ipv4", "ipv6"):
        return peer
    host = urllib.parse.unquote(rest).rpartition(":")[0]
    try:
        ip = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return peer
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        prefix = ipaddress.IPv6Address(int(ip) >> 64 << 64)  # any %zone dropped too
        return f"{prefix}/64"
    return str(ip)


@dataclass
class _Address:
    failed: deque[float] = field(default_factory=deque)  # times of failures in the window
    last: float = 0.0  # the last failure
    until: float = 0.0  # locked out until then


class AuthLimiter:
    """Failed authentications per address (`peer_host`); thread-safe. `clock` gives
    seconds (time.monotonic; a test's own clock)."""

    def __init__(
        self,
        failures: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_peers: int = MAX_PEERS,
    ) -> None:
        if not isinstance(failures, int) or failures < 1:
            raise ValueError(f"failures: a whole number of at least 1, not {failures!r}")
        if not 0 < window < math.inf:  # NaN too
            raise ValueError(f"window: a positive number of seconds, not {window!r}")
        if max_peers < 1:
            raise ValueError(f"max_peers: at least 1, not {max_peers!r}")
        self.failures, self.window, self.max_peers = failures, window, max_peers
        self._clock = clock
        self._lock = threading.Lock()
        self._table: OrderedDict[str, _Address] = OrderedDict()  # the stalest first

    def __len__(self) -> int:
        with self._lock:
            return len(self._table)

    def check(self, peer: str) -> None:
        """LockedOut while `peer`'s address is locked out, saying for how long."""
        host = peer_host(peer)
        with self._lock:
            address = self._table.get(host)
            left = address.until - self._clock() if address is not None else 0.0
        if left > 0:
            raise LockedOut(
                f"too many failed authentications from this address (more than "
                f"{self.failures} in {self.window:g} s): calls refused for "
                f"{math.ceil(left)} s more (serve --auth-failures, --auth-window-seconds)"
            )

    def failed(self, peer: str) -> None:
        """Count a failed authentication of `peer`; lock its address out when that makes
        more than `failures` within the window (one log line, naming the peer)."""
        host, now = peer_host(peer), self._clock()
        with self._lock:
            self._forget(now)
            address = self._table.pop(host, None) or _Address()
            self._table[host] = address  # the freshest last
            while address.failed and address.failed[0] <= now - self.window:
                address.failed.popleft()
            address.failed.append(now)
            address.last = now
            count = len(address.failed)
            if count > self.failures:
                address.until = now + self.window
                address.failed.clear()  # counted afresh once the lockout ends
            while len(self._table) > self.max_peers:
                self._table.popitem(last=False)
        if count > self.failures:
            log.warning(
                "authentication: %d failed from %s within %g s (--auth-failures %d): every "
                "call from it refused for %g s peer=%s",
                count,
                host,
                self.window,
                self.failures,
                self.window,
                peer,
            )

    def _forget(self, now: float) -> None:
        """Drop the addresses with no failure in the window and no lockout. The table is
        in the order of last failures, and a lockout ends a window after its address's
        last failure: those are all at its head."""
        while self._table:
            host, address = next(iter(self._table.items()))
            if address.last > now - self.window or address.until > now:
                return
            del self._table[host]


def admit(
    limiter: AuthLimiter | None,
    peer: str,
    authenticate: Callable[[Iterable[tuple[str, str]] | None], _T],
    metadata: Iterable[tuple[str, str]] | None,
) -> _T:
    """`authenticate(metadata)` for a call from `peer`, its Unauthenticated counted;
    LockedOut, the token not read, while the peer's address is locked out."""
    if limiter is None:
        return authenticate(metadata)
    limiter.check(peer)
    try:
        return authenticate(metadata)
    except Unauthenticated:
        limiter.failed(peer)
        raise
