"""DSPy programs of typed outputs run end to end on the simulator, through every adapter and engine path."""

from __future__ import annotations

import asyncio
import datetime
import enum
from typing import Any, Literal

import dspy
import pydantic
import pytest
from dspy import lm15

from sharedlm.simulator import Simulator, SimulatorSettings


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Step(pydantic.BaseModel):
    title: str
    minutes: int
    tags: list[str]


class Plan(pydantic.BaseModel):
    steps: list[Step]
    urgent: bool | None = None


class Triage(dspy.Signature):
    """Triage a support ticket."""

    ticket: str = dspy.InputField()
    summary: str = dspy.OutputField()
    severity: int = dspy.OutputField()
    confidence: float = dspy.OutputField()
    escalate: bool = dspy.OutputField()
    labels: list[str] = dspy.OutputField()
    queue: Literal["billing", "tech", "other"] = dspy.OutputField()
    priority: Priority = dspy.OutputField()
    plan: Plan = dspy.OutputField()
    due: datetime.date = dspy.OutputField()


class TwoStep(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.triage = dspy.Predict(Triage)
        self.reply = dspy.ChainOfThought("summary, queue -> reply: str, word_count: int")

    async def aforward(self, ticket: str) -> dspy.Prediction:
        first = await self.triage.acall(ticket=ticket)
        return await self.reply.acall(summary=first.summary, queue=first.queue)


def _assert_triage(result: dspy.Prediction) -> None:
    for name, field in Triage.output_fields.items():
        pydantic.TypeAdapter(field.annotation).validate_python(result[name], strict=False)
    assert isinstance(result.plan, Plan)
    assert isinstance(result.priority, Priority)


ENGINES = [pytest.param({}, id="native"), pytest.param({"engine": "litellm"}, id="litellm")]
ADAPTERS = [pytest.param(lambda: dspy.ChatAdapter(use_json_adapter_fallback=False), id="chat"),
            pytest.param(dspy.JSONAdapter, id="json")]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("make_adapter", ADAPTERS)
@pytest.mark.parametrize("model", ["openai/sim-model", "openai/gpt-4o-mini"])  # the second gets a json_schema
async def test_typed_program_runs_end_to_end(sim: Simulator, engine: dict[str, Any], make_adapter: Any,
                                             model: str) -> None:
    lm = dspy.LM(model, api_base=sim.base_url, api_key="test-key", cache=False, **engine)
    with dspy.context(lm=lm, adapter=make_adapter()):
        _assert_triage(await dspy.Predict(Triage).acall(ticket="My invoice is wrong."))
        result = await TwoStep().acall(ticket="The app crashes.")
    assert isinstance(result.word_count, int)
    assert result.reply
    assert result.reasoning
    assert sim.stats().ok == 3
    assert sim.stats().responses_by_status == {200: 3}


async def test_many_concurrent_workflows_share_the_server() -> None:
    async with Simulator(SimulatorSettings(latency=0.05)) as sim:
        lm = dspy.LM("openai/sim-model", api_base=sim.base_url, api_key="test-key", cache=False)
        program = TwoStep()
        with dspy.context(lm=lm):
            results = await asyncio.gather(*[program.acall(ticket=f"ticket {i}") for i in range(40)])
        stats = sim.stats()
    assert len(results) == 40
    assert stats.ok == 80
    assert stats.peak_in_flight > 1


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("use_root", [True, False], ids=["root_url", "v1beta_url"])
async def test_gemini_model_string_can_point_at_the_simulator(sim: Simulator, engine: dict[str, Any],
                                                              use_root: bool) -> None:
    base = sim.root_url if use_root else sim.gemini_base_url
    lm = dspy.LM("gemini/gemini-2.5-flash", api_base=base, api_key="test-key", cache=False, **engine)
    with dspy.context(lm=lm):
        _assert_triage(await dspy.Predict(Triage).acall(ticket="Refund please."))


@pytest.mark.parametrize("use_root", [True, False], ids=["root_url", "v1beta_url"])
async def test_lm15_gemini_router_completes_and_streams(sim: Simulator, use_root: bool) -> None:
    base = sim.root_url if use_root else sim.gemini_base_url
    config = lm15.RouterConfig(api_keys={"gemini": "k"}, base_urls={"gemini": base})
    request = lm15.Request(model="gemini:gemini-2.5-flash", messages=(lm15.Message.user("hello"),), system="brief")
    async with lm15.AsyncLMRouter(config) as router:
        response = await router.complete(request)
        events = [event async for event in router.stream(request)]
    assert response.text
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert events[-1].type == "end"
    assert events[-1].usage.output_tokens > 0
    assert sim.stats().ok == 2


async def test_lm15_gemini_router_sees_429_as_a_rate_limit_error_with_retry_after() -> None:
    async with Simulator(SimulatorSettings(rpm=1)) as sim:
        config = lm15.RouterConfig(api_keys={"gemini": "k"}, base_urls={"gemini": sim.gemini_base_url})
        request = lm15.Request(model="gemini:gemini-2.5-flash", messages=(lm15.Message.user("hello"),))
        async with lm15.AsyncLMRouter(config) as router:
            await router.complete(request)
            with pytest.raises(lm15.RateLimitError) as caught:
                await router.complete(request)
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 50


async def test_lm15_anthropic_router_completes(sim: Simulator) -> None:
    config = lm15.RouterConfig(api_keys={"anthropic": "k"}, base_urls={"anthropic": sim.root_url})
    request = lm15.Request(model="anthropic:claude-sonnet-4-5", messages=(lm15.Message.user("hi"),))
    async with lm15.AsyncLMRouter(config) as router:
        response = await router.complete(request)
    assert response.text
    assert response.usage.output_tokens > 0
