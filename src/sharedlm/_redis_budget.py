"""Budgets shared through Redis by every process that has ``SHAREDLM_BUDGET_URL`` set.

Two kinds of books live here: the in-flight budget's leases (:class:`RedisBudgetSource`, below) and the
request and token budgets per minute of each deployment (:class:`RedisRateSource`, at the end).

The in-flight books live in Redis keys: a hash (holder -> slots leased) and a sorted set (holder -> the time
its lease runs out). Three Lua scripts grant, give back and renew; Redis runs each atomically, so two processes
never lease the same slot. Every script first drops the holders whose lease ran out, so a process that was killed
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
from sharedlm._shared_rate import RateGrant

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


# --- request and token budgets per minute (see sharedlm._shared_rate) ---

RATE_KEY = "sharedlm:budget:rate"

# KEYS: 1 grant times (sorted set id -> time), 2 grant amounts (hash id -> amount), 3 state (hash: tat, used,
# rate, learned), 4 the grant counter (never expires, so a grant's number is never reused).
# Drops the grants that left the window, then credits unsent amounts back to their grants (ARGV from FIRST on:
# id, amount pairs), to the window's count and to the bucket.
_RATE_SETTLE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = tonumber(redis.call('HGET', KEYS[3], 'used') or 0)
local tat = tonumber(redis.call('HGET', KEYS[3], 'tat') or 0)
local rate = tonumber(redis.call('HGET', KEYS[3], 'rate') or 0)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
for _, id in ipairs(gone) do
  used = used - tonumber(redis.call('HGET', KEYS[2], id) or 0)
  redis.call('HDEL', KEYS[2], id)
end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) end
for i = FIRST, #ARGV, 2 do
  local amount = redis.call('HGET', KEYS[2], ARGV[i])
  if amount then
    local back = math.min(tonumber(ARGV[i + 1]), tonumber(amount))
    if back > 0 then
      redis.call('HSET', KEYS[2], ARGV[i], tonumber(amount) - back)
      used = used - back
      if rate > 0 then tat = math.max(tat - back / rate, math.min(tat, now)) end
    end
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then used = 0 end
"""

# ARGV: now, window, need, want, per minute, burst, key lifetime (ms), learned limit ('' for none), credits.
# Grants at least `need` when both the window and the bucket have room for it (a need above the bucket's
# capacity when the bucket is full), up to `want`; else nothing, and the seconds until there is room.
_RATE_GRANT = _RATE_SETTLE.replace("FIRST", "9") + """
local need, want, limit, burst = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
rate = limit / (window + burst)
local capacity = rate * burst
if tat < now then tat = now end
local level = capacity - rate * (tat - now)
local room = limit - used
local fits = need <= level + 1e-9 or (need > capacity and tat <= now)
local granted, id, wait = 0, 0, 0
if fits and need <= room + 1e-9 then
  granted = math.max(need, math.min(want, level, room))
  id = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[1], ARGV[1], id)
  redis.call('HSET', KEYS[2], id, granted)
  used = used + granted
  tat = tat + granted / rate
else
  if not fits then
    if need > capacity then wait = tat - now else wait = (need - level) / rate end
  end
  if need > room + 1e-9 then
    local excess = need - room
    local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
    for i = 1, #entries, 2 do
      excess = excess - tonumber(redis.call('HGET', KEYS[2], entries[i]) or 0)
      if excess <= 1e-9 then
        wait = math.max(wait, tonumber(entries[i + 1]) + window - now)
        break
      end
    end
  end
end
redis.call('HSET', KEYS[3], 'tat', tat, 'used', used, 'rate', rate)
if ARGV[8] ~= '' then redis.call('HSET', KEYS[3], 'learned', ARGV[8]) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
return {tostring(granted), id, tostring(wait), redis.call('HGET', KEYS[3], 'learned') or ''}
"""

_RATE_GIVE_BACK = _RATE_SETTLE.replace("FIRST", "3") + """
redis.call('HSET', KEYS[3], 'tat', tat, 'used', used)
return 1
"""


class RedisRateSource:
    """The books of one deployment's request or token budget per minute, shared through Redis.

    Each grant is a member of a sorted set scored by its time, with its amount in a hash; the state hash keeps
    the window's total, the bucket's theoretical arrival time and the limit learned from the provider. The
    scripts take the callers' wall-clock times, as :class:`RedisBudgetSource` does.

    Args:
        url: The Redis URL; a password in it is never shown.
        deployment: Names the deployment (hashed; never the key).
        kind: ``requests`` or ``tokens``.
        key: The key prefix.
    """

    def __init__(self, url: str, *, deployment: str, kind: str, key: str = RATE_KEY) -> None:
        redis = _import_redis()
        self.key = f"{key}:{deployment}:{kind}"
        self.kind = kind
        self._owner = redis_owner(url, self.key)
        self._client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self._unreachable = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._keys = [f"{self.key}:times", f"{self.key}:amounts", f"{self.key}:state", f"{self.key}:next"]
        self._grant = self._client.register_script(_RATE_GRANT)
        self._give_back = self._client.register_script(_RATE_GIVE_BACK)

    def __repr__(self) -> str:
        return f"RedisRateSource(kind={self.kind!r}, owner={self._owner!r})"

    @property
    def owner(self) -> str:
        return self._owner

    def grant_now(self, *, now: float, need: float, want: float, per_minute: float, window_s: float,
                  burst_s: float, credits: dict[int, float], learned: float | None) -> RateGrant:
        """Grant at least ``need`` and up to ``want`` at ``now``, or nothing and the wait (blocking; one round trip).

        Args:
            now: The caller's wall clock.
            need: The least that is any use.
            want: The most to grant.
            per_minute: The budget per minute.
            window_s: The window the budget holds over (the engine's plus the hold time).
            burst_s: Seconds of the rate the bucket holds.
            credits: Unsent amounts by grant number, given back first.
            learned: A limit per minute this process learned from the provider, to publish, or None.
        """
        ttl_ms = int((window_s + 60.0) * 2000)
        args: list[Any] = [repr(now), repr(window_s), repr(need), repr(want), repr(per_minute), repr(burst_s),
                           ttl_ms, "" if learned is None else repr(float(learned))]
        for grant_id, credit in credits.items():
            args += [grant_id, repr(credit)]
        try:
            granted, grant_id, wait, published = self._grant(keys=self._keys, args=args)
        except self._unreachable as exc:
            # Fail the call rather than send past a budget that cannot be checked; never show the URL's password.
            raise ConfigurationError(
                f"the shared {self.kind} budget ({self._owner}) cannot be reached ({type(exc).__name__}): start "
                "that Redis, or unset SHAREDLM_BUDGET_URL to let each process keep its own budgets"
            ) from None
        return RateGrant(granted=float(granted), grant_id=int(grant_id), wait=float(wait),
                         published=float(published) if published else None)

    def give_back_now(self, *, now: float, credits: dict[int, float]) -> None:
        """Give unsent amounts back to their grants (blocking).

        Args:
            now: The caller's wall clock.
            credits: Amounts by grant number.
        """
        # An endless window: giving back drops no grant (the next grant drops what left its window).
        args: list[Any] = [repr(now), "1e9"]
        for grant_id, credit in credits.items():
            args += [grant_id, repr(credit)]
        self._give_back(keys=self._keys, args=args)

    def used(self) -> float:
        """What the grants in the window add up to, as Redis has it now (for tests and diagnostics)."""
        raw = self._client.hget(self._keys[2], "used")
        return float(raw) if raw is not None else 0.0

    def grants(self) -> list[tuple[float, float]]:
        """Every grant still on the books: (time, amount), oldest first."""
        times = self._client.zrange(self._keys[0], 0, -1, withscores=True)
        amounts = self._client.hgetall(self._keys[1])
        return [(float(score), float(amounts.get(member, 0))) for member, score in times]


__all__ = ["DEFAULT_KEY", "RATE_KEY", "REDIS_INSTALL_HINT", "RedisBudgetSource", "RedisRateSource", "redis_owner"]
