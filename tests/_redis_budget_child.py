"""Child processes of the Redis budget tests, run as ``python tests/_redis_budget_child.py MODE ...``.

- ``calls BASE_URL COUNT [RPM]``: configure the shared LM against the simulator (``SHAREDLM_BUDGET_URL`` set by
  the parent, and a request budget of RPM per minute when given), make COUNT calls at once, print how many
  succeeded;
- ``hold URL TOTAL``: lease TOTAL slots through a leased gate, print ``holding``, then wait to be killed;
- ``hold-then-exit URL TOTAL``: the same, then exit cleanly once a line arrives on standard input;
- ``book URL PER_MINUTE COUNT``: send COUNT requests' worth from a request budget of PER_MINUTE shared through
  Redis, on a fake clock kept in Redis (key ``test:clock``, shared with the other children: waiting moves it on);
  print the send times as a JSON list.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

# Fake seconds between two sends of one child.
BOOK_STEP_S = 0.05


async def calls(base_url: str, count: int, rpm: float | None) -> None:
    import dspy

    import sharedlm

    budget: dict[str, Any] = {} if rpm is None else {"rpm": rpm}
    sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=base_url, cache=False,
                       max_parallel_requests=64, adaptive=False, **budget)
    predict = dspy.Predict("text -> sentiment")
    predict.set_lm(sharedlm.get_shared_lm())
    outcomes = await asyncio.gather(*(predict.acall(text=f"review {n}") for n in range(count)),
                                    return_exceptions=True)
    print(sum(not isinstance(outcome, BaseException) for outcome in outcomes), flush=True)


async def hold(url: str, total: int, *, then_exit: bool = False) -> None:
    from sharedlm._lease import LeasedGate
    from sharedlm._redis_budget import RedisBudgetSource

    gate = LeasedGate(total, source=RedisBudgetSource(url, total=total), holder="child", block=total)
    for _ in range(total):
        await gate.acquire()
    print("holding", flush=True)
    if then_exit:
        await asyncio.to_thread(sys.stdin.readline)  # the interpreter's exit gives the lease back
        return
    await asyncio.Event().wait()


def book(url: str, per_minute: float, count: int) -> None:
    import redis

    from sharedlm._redis_budget import RedisRateSource
    from sharedlm._shared_rate import SharedRate

    client = redis.Redis.from_url(url)
    last = [0.0]

    def clock() -> float:
        last[0] = float(client.get("test:clock") or 0.0)
        return last[0]

    rate = SharedRate(RedisRateSource(url, deployment="test", kind="requests"), name="requests", window_s=61.0,
                      clock=clock)
    sent = []
    for _ in range(count):
        while rate.take_nowait(1) is None:
            wait = rate.refill(1, per_minute=per_minute)
            if wait > 0:
                client.incrbyfloat("test:clock", wait)
        sent.append(last[0])  # the time the grant was found valid for this send
        client.incrbyfloat("test:clock", BOOK_STEP_S)
    print(json.dumps(sent), flush=True)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "calls":
        asyncio.run(calls(args[0], int(args[1]), float(args[2]) if len(args) > 2 else None))
    elif mode == "book":
        book(args[0], float(args[1]), int(args[2]))
    else:
        asyncio.run(hold(args[0], int(args[1]), then_exit=mode == "hold-then-exit"))
