"""Child processes of the Redis budget tests, run as ``python tests/_redis_budget_child.py MODE ...``.

- ``calls BASE_URL COUNT``: configure the shared LM against the simulator (``SHAREDLM_BUDGET_URL`` set by the
  parent), make COUNT calls at once, print how many succeeded;
- ``hold URL TOTAL``: lease TOTAL slots through a leased gate, print ``holding``, then wait to be killed.
"""

from __future__ import annotations

import asyncio
import sys


async def calls(base_url: str, count: int) -> None:
    import dspy

    import sharedlm

    sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=base_url, cache=False,
                       max_parallel_requests=64, adaptive=False)
    predict = dspy.Predict("text -> sentiment")
    predict.set_lm(sharedlm.get_shared_lm())
    outcomes = await asyncio.gather(*(predict.acall(text=f"review {n}") for n in range(count)),
                                    return_exceptions=True)
    print(sum(not isinstance(outcome, BaseException) for outcome in outcomes), flush=True)


async def hold(url: str, total: int) -> None:
    from sharedlm._lease import LeasedGate
    from sharedlm._redis_budget import RedisBudgetSource

    gate = LeasedGate(total, source=RedisBudgetSource(url, total=total), holder="child", block=total)
    for _ in range(total):
        await gate.acquire()
    print("holding", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    mode, first, second = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run(calls(first, second) if mode == "calls" else hold(first, second))
