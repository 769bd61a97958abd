"""How each variant builds its LM and runs one unit of work (inside the worker process).

A :class:`UnitRunner` runs unit ``i`` (one two-step workflow, or one single call) and can report the shared
engine's counters. Each variant is built exactly as the pattern it stands for would build it:

- ``lm-per-module``: every workflow builds its pipeline, whose ``__init__`` builds its own ``dspy.LM``;
- ``lm-per-call``: every call builds a new ``dspy.LM`` inside ``aforward``;
- ``seed-as-written``: one ``dspy.LM(max_parallel_requests=2000)`` and ``async_max_workers=2000`` (which
  DSPy routes through LiteLLM);
- ``plain-shared``: one plain ``dspy.LM`` (DSPy's native engine), shared;
- ``sharedlm`` / ``sharedlm-flow-off``: ``sharedlm.get_shared_lm()``, adaptive limit on / off;
- ``instant-engine``: a ``dspy.LM`` whose engine answers at once, with no network;
- ``sleeping-engine``: a ``dspy.LM`` whose engine sleeps the provider's latency, then answers, with no network (the
  floor the DSPy program itself imposes at that latency);
- ``raw-aiohttp``: no DSPy at all: the same chat body POSTed with aiohttp.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import aiohttp
import dspy

from sharedlm._singleton import configure, get_shared_lm, stats
from sharedlm.bench._instant import AsyncInstantEngine, AsyncSleepingEngine, InstantEngine
from sharedlm.bench._spec import (
    INSTANT_ENGINE,
    KIND_WORKFLOWS,
    LM_PER_CALL,
    LM_PER_MODULE,
    PLAIN_SHARED,
    RAW_AIOHTTP,
    SEED_AS_WRITTEN,
    SHAREDLM,
    SHAREDLM_FLOW_OFF,
    SLEEPING_ENGINE,
    JobSpec,
)
from sharedlm.bench._workflow import (
    Connection,
    ExtractionPipeline,
    LMPerCallPipeline,
    LMPerModulePipeline,
    QuestionSignature,
    call_question,
    workflow_input,
)

SEED_MAX_PARALLEL_REQUESTS = 2000
SEED_ASYNC_MAX_WORKERS = 2000
# The raw client's pool, as in the measurements of /work/shared/reference/dspy-3.4-facts.md.
RAW_POOL_SIZE = 100


class UnitRunner(Protocol):
    """Runs units of work of one variant."""

    async def run(self, index: int) -> None:
        """Run unit ``index``; raise on failure."""
        ...

    def engine_stats(self) -> dict[str, Any] | None:
        """The shared engine's counters (sharedlm variants), else None."""
        ...

    async def aclose(self) -> None:
        """Release what the runner holds."""
        ...


class _LMRunner:
    """Runs workflows or single calls; ``lm_for_unit`` decides which LM each unit gets."""

    def __init__(self, spec: JobSpec, connection: Connection) -> None:
        self.spec = spec
        self.connection = connection
        self.is_sharedlm = spec.variant in (SHAREDLM, SHAREDLM_FLOW_OFF)
        self.shared_lm: dspy.LM | None = self._shared_lm()
        self.pipeline: dspy.Module | None = None
        if spec.kind == KIND_WORKFLOWS:
            if spec.variant == LM_PER_CALL:
                self.pipeline = LMPerCallPipeline(connection)
            elif self.shared_lm is not None:
                self.pipeline = ExtractionPipeline(self.shared_lm)
        self.predict = dspy.Predict(QuestionSignature)
        if self.shared_lm is not None:
            self.predict.set_lm(self.shared_lm)

    def __repr__(self) -> str:
        return f"_LMRunner(variant={self.spec.variant!r}, kind={self.spec.kind!r})"

    def _shared_lm(self) -> dspy.LM | None:
        spec, connection = self.spec, self.connection
        if spec.variant in (LM_PER_MODULE, LM_PER_CALL):
            return None
        if spec.variant == SEED_AS_WRITTEN:
            dspy.settings.configure(async_max_workers=SEED_ASYNC_MAX_WORKERS)  # noqa: SLM007 - the seed as written
            return connection.plain_lm(max_parallel_requests=SEED_MAX_PARALLEL_REQUESTS)
        if spec.variant == PLAIN_SHARED:
            return connection.plain_lm()
        if spec.variant == INSTANT_ENGINE:
            # One per worker process: the no-network ceiling the overhead scenario compares against.
            return dspy.LM(spec.model, engine=InstantEngine(), async_engine=AsyncInstantEngine(), cache=False)  # noqa: SLM005
        if spec.variant == SLEEPING_ENGINE:
            warmup_calls = spec.warmup * (2 if spec.kind == KIND_WORKFLOWS else 1)
            return dspy.LM(spec.model, engine=InstantEngine(),  # noqa: SLM005 - the no-network floor
                           async_engine=AsyncSleepingEngine(spec.latency_s, unslept=warmup_calls), cache=False)
        flow: dict[str, Any] = {}
        if spec.variant == SHAREDLM_FLOW_OFF:
            flow["adaptive"] = False
        elif spec.adaptive is not None:
            flow["adaptive"] = spec.adaptive
        if spec.rpm is not None:
            flow["rpm"] = spec.rpm
        if spec.max_parallel_requests is not None:
            flow["max_parallel_requests"] = spec.max_parallel_requests
        configure(model=spec.model, api_key=spec.api_key, api_base=spec.api_base, cache=False, **flow)
        return get_shared_lm()

    async def run(self, index: int) -> None:
        if self.spec.kind == KIND_WORKFLOWS:
            pipeline = self.pipeline
            if pipeline is None:  # lm-per-module: each workflow builds its own pipeline and LM
                pipeline = LMPerModulePipeline(self.connection)
            await pipeline.acall(input_data=workflow_input(index))
            return
        if self.shared_lm is not None:
            await self.predict.acall(question=call_question(index))
        else:  # one LM per module and one per call are the same thing for a single call
            await self.predict.acall(question=call_question(index), lm=self.connection.plain_lm())

    def engine_stats(self) -> dict[str, Any] | None:
        return stats().as_dict() if self.is_sharedlm else None

    async def aclose(self) -> None:
        pass


class _RawRunner:
    """POSTs the chat body DSPy's ChatAdapter would send for the single-call signature, with aiohttp."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec
        self.url = spec.api_base.rstrip("/") + "/chat/completions"
        self.headers = {"Authorization": f"Bearer {spec.api_key}", "Content-Type": "application/json"}
        messages = dspy.ChatAdapter().format(dspy.Predict(QuestionSignature).signature, demos=[],
                                             inputs={"question": call_question(0)})
        self._body_head = {"model": spec.model.partition("/")[2] or spec.model, "messages": messages}
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"_RawRunner(url={self.url!r}, pool={RAW_POOL_SIZE})"

    async def run(self, index: int) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=RAW_POOL_SIZE),
                                                  trust_env=False)
        body = json.dumps(self._body_head)
        async with self._session.post(self.url, data=body, headers=self.headers) as response:
            payload = await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
            json.loads(payload)

    def engine_stats(self) -> dict[str, Any] | None:
        return None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def build_runner(spec: JobSpec) -> UnitRunner:
    """The runner of ``spec.variant``, with its LM built as that variant builds it.

    Args:
        spec: The job.
    """
    if spec.variant == RAW_AIOHTTP:
        return _RawRunner(spec)
    return _LMRunner(spec, Connection(model=spec.model, api_base=spec.api_base, api_key=spec.api_key))


__all__ = ["RAW_POOL_SIZE", "UnitRunner", "build_runner"]
