"""The addresses of the host names the connection pool connects to: looked up once per name, kept for a while.

asyncio's ``create_connection`` looks a host name up for every connection it opens, with ``getaddrinfo`` on the
loop's default executor: a thread hop each time and, without a caching daemon on the machine, a DNS query each
time. A burst that opens a thousand connections to one provider would ask the same question a thousand times
(aiohttp keeps answers for 10 s for the same reason). Here one lookup per name and port serves every connection
opened while it is fresh (:data:`DEFAULT_TTL_S`); connections asked for while it runs wait for that one lookup
instead of starting their own.

A lookup that fails is not kept: the next connection asks again. A name whose addresses all refused a connection
is forgotten at once (:meth:`HostResolver.forget`), so a provider that moved is found again on the next attempt
rather than after the entry ages out. Address literals never come here: they have nothing to look up.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

# Long enough that a burst's connections share one lookup, short enough to follow a provider's DNS changes; a
# failed connect forgets the entry sooner.
DEFAULT_TTL_S = 30.0

AddressInfo = tuple[Any, ...]  # one getaddrinfo entry: (family, type, proto, canonname, sockaddr)
Lookup = Callable[[str, int], Awaitable[list[AddressInfo]]]


class HostResolver:
    """Looks host names up for one event loop's connections and remembers the answers for ``ttl_s``.

    Args:
        loop: The event loop whose connections this serves.
        ttl_s: How long an answer is used, in seconds.
        clock: Monotonic seconds; injectable for tests.
        lookup: Looks one name and port up; ``loop.getaddrinfo`` for TCP by default (injectable for tests).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.monotonic, lookup: Lookup | None = None) -> None:
        self.loop = loop
        self.ttl_s = ttl_s
        self._clock = clock
        self._lookup = lookup or self._getaddrinfo
        self._known: dict[tuple[str, int], tuple[float, list[AddressInfo]]] = {}
        # One task per name being looked up; kept here so that it is not collected, and so waiters share it.
        self._pending: dict[tuple[str, int], asyncio.Task[list[AddressInfo]]] = {}
        self.lookups = 0

    def __repr__(self) -> str:
        return f"HostResolver(known={len(self._known)}, pending={len(self._pending)}, lookups={self.lookups})"

    async def _getaddrinfo(self, host: str, port: int) -> list[AddressInfo]:
        return await self.loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)

    async def resolve(self, host: str, port: int) -> list[AddressInfo]:
        """The addresses of ``host``, from a fresh earlier answer or from one lookup shared by every caller.

        Raises:
            OSError: The lookup failed (``socket.gaierror``) or found no address.
        """
        key = (host, port)
        known = self._known.get(key)
        if known is not None:
            if self._clock() < known[0]:
                return known[1]
            del self._known[key]
        task = self._pending.get(key)
        if task is None:
            task = self._pending[key] = self.loop.create_task(self._look_up(key))
            task.add_done_callback(_retrieve)
        # Shielded: a caller that is cancelled (its call timed out) must not cancel the lookup the others wait for.
        return list(await asyncio.shield(task))

    async def _look_up(self, key: tuple[str, int]) -> list[AddressInfo]:
        self.lookups += 1
        try:
            infos = await self._lookup(*key)
            if not infos:
                raise OSError(f"no address found for {key[0]}")
            self._known[key] = (self._clock() + self.ttl_s, infos)
            return infos
        finally:
            self._pending.pop(key, None)

    def forget(self, host: str, port: int) -> None:
        """Drop what is known of ``host``: none of its addresses took a connection."""
        self._known.pop((host, port), None)

    def close(self) -> None:
        """Cancel the lookups under way and forget every answer (the pool closed)."""
        for task in self._pending.values():
            task.cancel()
        self._pending.clear()
        self._known.clear()


def _retrieve(task: asyncio.Task[list[AddressInfo]]) -> None:
    """Mark a lookup's failure as seen: every caller may have been cancelled before it came."""
    if not task.cancelled():
        task.exception()


__all__ = ["DEFAULT_TTL_S", "AddressInfo", "HostResolver", "Lookup"]
