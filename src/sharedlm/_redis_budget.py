"""An in-flight budget shared through Redis by every process that has ``SHAREDLM_BUDGET_URL`` set.

The books live in two Redis keys: a hash (holder -> slots leased) and a sorted set (holder -> the time its lease
runs out). Three Lua scripts grant, give back and renew; Redis runs each atomically, so two processes never
lease the same slot. Every script first drops the holders whose lease ran out, so a process that was killed
while holding slots frees them within ``lease_s`` (the next process that asks gets them), and both keys
expire on their own once nobody uses the budget.

Times are the callers' wall clocks (``time.time``), passed to the scripts: processes on one machine (or on
machines with synchronised clocks) agree, and the scripts stay testable on a fake clock.

The ``redis`` client is an optional extra (``pip install 'sharedlm[redis]'``), imported when a budget is first
used. Calls run in a thread (``asyncio.to_thread``) so they work from any event loop; there is one call per
block leased or given back and one renewal per third of the lease time, never one per LM call.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from sharedlm._errors import ConfigurationError
from sharedlm._lease import DEFAULT_LEASE_S, WANT_WINDOW_S

REDIS_INSTALL_HINT = "pip install 'sharedlm[redis]'"
DEFAULT_KEY = "sharedlm:budget:in-flight"
# Both keys vanish after this many lease times without a call.
_KEY_LIFETIMES = 10

_EXPIRE = """
local now = tonumber(ARGV[1])
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
for _, holder in ipairs(gone) do
  redis.call('HDEL', KEYS[1], holder)
  redis.call('HDEL', KEYS[3], holder)
end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now) end
"""

# As LeaseLedger.grant: while another holder that asked in vain within the window is short of its fair share,
# grant no more than the fair share, and answer minus the excess to a holder above it.
_GRANT = _EXPIRE + """
local holder, want, total, deadline = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local recent = now - tonumber(ARGV[7])
local held, active, wanting, count, used = {}, {}, {}, 0, 0
local pairs_ = redis.call('HGETALL', KEYS[1])
for i = 1, #pairs_, 2 do
  local slots = tonumber(pairs_[i + 1])
  held[pairs_[i]] = slots
  used = used + slots
  if slots > 0 then active[pairs_[i]] = true end
end
local wants = redis.call('HGETALL', KEYS[3])
for i = 1, #wants, 2 do
  if tonumber(wants[i + 1]) >= recent then
    wanting[wants[i]] = true
    active[wants[i]] = true
  end
end
active[holder] = true
for _ in pairs(active) do count = count + 1 end
local fair = math.max(1, math.floor(total / count))
local mine = held[holder] or 0
local others_short = false
for h in pairs(wanting) do
  if h ~= holder and (held[h] or 0) < fair then others_short = true end
end
local room = total - used
if others_short then room = math.max(0, math.min(room, fair - mine)) end
local granted = math.max(0, math.min(want, room))
redis.call('HINCRBY', KEYS[1], holder, granted)
redis.call('ZADD', KEYS[2], deadline, holder)
if granted < want then redis.call('HSET', KEYS[3], holder, now) else redis.call('HDEL', KEYS[3], holder) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
if granted == 0 and others_short and mine > fair then return -(mine - fair) end
return granted
"""

_GIVE_BACK = _EXPIRE + """
local holder, slots, deadline = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('HDEL', KEYS[3], holder)
if redis.call('HEXISTS', KEYS[1], holder) == 0 then return 0 end
local left = redis.call('HINCRBY', KEYS[1], holder, -slots)
if left <= 0 then
  redis.call('HDEL', KEYS[1], holder)
  redis.call('ZREM', KEYS[2], holder)
else
  redis.call('ZADD', KEYS[2], deadline, holder)
end
return math.max(0, left)
"""

_RENEW = _EXPIRE + """
local holder, deadline = ARGV[2], tonumber(ARGV[3])
local held = redis.call('HGET', KEYS[1], holder)
if not held then return 0 end
redis.call('ZADD', KEYS[2], deadline, holder)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return tonumber(held)
"""


def redis_owner(url: str, key: str) -> str:
    """Where the budget lives, for ``sharedlm.stats()``: the URL without its user name or password.

    Args:
        url: The Redis URL.
        key: The budget's key.
    """
    parts = urllib.parse.urlsplit(url)
    where = parts.hostname or parts.path or "?"
    if parts.port:
        where = f"{where}:{parts.port}"
    database = parts.path.lstrip("/") if parts.hostname else ""
    return f"redis {parts.scheme}://{where}{'/' + database if database else ''} key {key}"


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:
        raise ConfigurationError(
            f"SHAREDLM_BUDGET_URL is set but the redis client is not installed: {REDIS_INSTALL_HINT}, or unset it"
        ) from None
    return redis


class RedisBudgetSource:
    """Leases in-flight slots of a budget of ``total`` kept in Redis.

    Args:
        url: The Redis URL (``redis://host:port/db``); it may hold a password, which is never shown.
        total: The budget: requests in flight across every process using it.
        key: The budget's key prefix (processes with the same URL and key share one budget).
        lease_s: A process that has not renewed for this long loses its slots.
        clock: Wall-clock seconds; injectable for tests.
    """

    def __init__(self, url: str, *, total: int, key: str = DEFAULT_KEY, lease_s: float = DEFAULT_LEASE_S,
                 clock: Callable[[], float] = time.time) -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"total must be a whole number >= 1, got {total!r}")
        redis = _import_redis()
        self.total = total
        self.key = key
        self.lease_s = lease_s
        self._clock = clock
        self._owner = redis_owner(url, key)
        self._client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self._keys = [f"{key}:held", f"{key}:until", f"{key}:wanting"]
        self._grant = self._client.register_script(_GRANT)
        self._give_back = self._client.register_script(_GIVE_BACK)
        self._renew = self._client.register_script(_RENEW)

    def __repr__(self) -> str:
        return f"RedisBudgetSource(total={self.total}, lease_s={self.lease_s:g}, owner={self._owner!r})"

    @property
    def owner(self) -> str:
        return self._owner

    def _times(self) -> tuple[float, float, int]:
        now = self._clock()
        return now, now + self.lease_s, int(self.lease_s * _KEY_LIFETIMES * 1000)

    def grant_now(self, holder: str, want: int) -> int:
        """Lease up to ``want`` more slots to ``holder`` (blocking); returns how many it got, or minus what it owes.

        The fairness rule is :meth:`sharedlm._lease.LeaseLedger.grant`'s.
        """
        now, deadline, ttl_ms = self._times()
        window = min(WANT_WINDOW_S, self.lease_s)
        return int(self._grant(keys=self._keys, args=[now, holder, want, self.total, deadline, ttl_ms, window]))

    def give_back_now(self, holder: str, slots: int) -> None:
        """Return ``slots`` of ``holder``'s lease (blocking)."""
        now, deadline, _ = self._times()
        self._give_back(keys=self._keys, args=[now, holder, slots, deadline])

    def renew_now(self, holder: str) -> int:
        """Extend ``holder``'s lease (blocking); returns the slots it still holds."""
        now, deadline, ttl_ms = self._times()
        return int(self._renew(keys=self._keys, args=[now, holder, deadline, ttl_ms]))

    def holdings(self) -> dict[str, int]:
        """Slots leased by holder, as Redis has them now (expired holders included until the next call)."""
        raw = self._client.hgetall(self._keys[0])
        return {name.decode(): int(slots) for name, slots in raw.items() if int(slots) > 0}

    async def grant(self, holder: str, want: int) -> int:
        return await asyncio.to_thread(self.grant_now, holder, want)

    async def give_back(self, holder: str, slots: int) -> None:
        await asyncio.to_thread(self.give_back_now, holder, slots)

    async def renew(self, holder: str) -> int:
        return await asyncio.to_thread(self.renew_now, holder)


__all__ = ["DEFAULT_KEY", "REDIS_INSTALL_HINT", "RedisBudgetSource", "redis_owner"]
