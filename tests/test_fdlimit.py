"""The connection cap is clamped to the open-file limit, so a burst never runs out of descriptors."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from sharedlm._fdlimit import plan_connection_cap
from sharedlm.simulator import SimulatorProcess, SimulatorSettings


@pytest.fixture
def soft_limit_512() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_cap_is_clamped_below_the_soft_limit_with_a_reserve(soft_limit_512: None) -> None:
    plan = plan_connection_cap(2000, reserve=128, raise_soft_limit=False)
    assert plan.clamped
    assert plan.cap + plan.open_now + 128 <= 512
    assert "ulimit -n" in plan.describe()


def test_soft_limit_is_raised_toward_the_hard_limit_when_allowed(soft_limit_512: None) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 3000:
        pytest.skip("the hard open-file limit is too low to raise the soft limit past 3000")
    plan = plan_connection_cap(2000, reserve=128)
    assert plan.raised_soft_limit
    assert plan.cap == 2000
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 2000 + 128


def test_cap_never_drops_below_one(soft_limit_512: None) -> None:
    assert plan_connection_cap(2000, reserve=10_000, raise_soft_limit=False).cap >= 1


_WORKFLOWS = textwrap.dedent("""
    import asyncio, json, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))
    import dspy, sharedlm

    class Pipeline(sharedlm.SharedLMModule):
        def __init__(self, shared_lm):
            super().__init__(shared_lm)
            self.extractor = dspy.Predict("text -> entities")
            self.analyzer = dspy.Predict("entities -> sentiment")

        async def aforward(self, text):
            first = await self.extractor.acall(text=text)
            return await self.analyzer.acall(entities=first.entities)

    sharedlm.configure(model="openai/sim-model", api_key="k", api_base=sys.argv[1], cache=False)
    pipeline = Pipeline(sharedlm.get_shared_lm())

    async def main():
        outcomes = await asyncio.gather(*(pipeline.acall(text=f"row {i}") for i in range(2000)),
                                        return_exceptions=True)
        failed = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        print(json.dumps({"failed": len(failed), "first": failed[:1], "cap": sharedlm.stats().cap}))

    asyncio.run(main())
""")


@pytest.mark.slow
def test_2000_workflows_complete_under_ulimit_512() -> None:
    with SimulatorProcess(SimulatorSettings(latency=0.2)) as sim:
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "true"}
        done = subprocess.run([sys.executable, "-c", _WORKFLOWS, sim.base_url], capture_output=True, text=True,
                              timeout=150, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["failed"] == 0, report["first"]
        assert report["cap"] < 512
        assert "Errno 24" not in done.stderr
        assert sim.stats().peak_in_flight <= report["cap"]
