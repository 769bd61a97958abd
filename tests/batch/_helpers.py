"""Shared builders of the batch-mode tests: an lm15 provider LM over a BatchTransport, against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dspy import lm15

from sharedlm._batch import BatchOptions, BatchTransport
from sharedlm._transport import PooledTransport
from sharedlm.simulator import Simulator

# (lm15 provider, model) of the three batch APIs, as SharedEngine routes them.
PROVIDERS = (("openai-chat", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"), ("gemini", "gemini-2.5-flash"))
KEY = "sk-test-secret-0123456789"
# Never submit on a timer unless a test asks: the size limit decides when a batch goes.
NO_LINGER = 10_000.0


def base_url(sim: Simulator, provider: str) -> str:
    """The base URL lm15 uses for ``provider`` on the simulator."""
    if provider == "anthropic":
        return f"{sim.root_url}/v1"
    if provider == "gemini":
        return sim.gemini_base_url
    return sim.base_url


class Clock:
    """A hand-driven clock for the simulator; with ``step`` set, every reading moves it on by ``step``."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.step = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@dataclass
class Bench:
    """A BatchTransport and an lm15 provider LM that sends through it."""

    transport: BatchTransport
    online: PooledTransport
    lm: Any
    model: str
    rows: list[asyncio.Task[str]] = field(default_factory=list)

    async def ask(self, text: str) -> str:
        response = await self.lm.complete(lm15.Request(model=self.model, messages=(lm15.Message.user(text),)))
        return str(response.text)

    async def two_steps(self, row: int) -> str:
        """A two-step program: the second prompt depends on the first answer (Python between the calls)."""
        first = await self.ask(f"Question {row}: what is it?")
        return await self.ask(f"Row {row} said {first[:24]!r}; summarise.")

    async def run_rows(self, count: int) -> list[str]:
        self.rows = [asyncio.ensure_future(self.two_steps(i)) for i in range(count)]
        return list(await asyncio.gather(*self.rows))

    async def aclose(self) -> None:
        await self.transport.aclose()
        await self.online.aclose()


def bench(sim: Simulator, provider: str = "openai-chat", model: str | None = None, **options: Any) -> Bench:
    """A bench for ``provider`` on ``sim``; ``options`` are BatchOptions (fast polling unless told)."""
    options.setdefault("poll_initial", 0.0)
    options.setdefault("poll_max", 0.0)
    options.setdefault("linger", NO_LINGER)
    online = PooledTransport(max_connections=16, connect_timeout=5.0)
    transport = BatchTransport(online, BatchOptions(**options))
    router = lm15.AsyncLMRouter(lm15.RouterConfig(env={}, transport=transport, api_keys={provider: KEY},
                                                  base_urls={provider: base_url(sim, provider)}))
    chosen = model or dict(PROVIDERS)[provider]
    return Bench(transport, online, router.lm(f"{provider}:{chosen}"), chosen)


@dataclass
class RawRequest:
    """A hand-built request in lm15's TransportRequest shape."""

    method: str
    url: str
    body: bytes = b""
    headers: Sequence[tuple[str, str]] = (("Authorization", f"Bearer {KEY}"),)
