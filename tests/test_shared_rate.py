"""Request and token budgets per minute shared through a real Redis server (started here on 127.0.0.1).

Time is a fake clock throughout: the books are checked by counting what was granted and when, never by waiting
a minute. Skipped, with the reason, when ``redis-server`` or the ``redis`` client is absent; CI installs both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _redis_server import free_port, start_redis
from sharedlm._errors import ConfigurationError
from sharedlm._flow._memory import Deployment, Memory
from sharedlm._pacing import BUDGET_WINDOW_S, Pacer
from sharedlm._redis_budget import RedisRateSource
from sharedlm._settings import FlowSettings
from sharedlm._shared_rate import LocalRateSource, RateGrant, RateLedger, RateSource, SharedRate
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

pytestmark = pytest.mark.timeout(120)

CHILD = str(Path(__file__).parent / "_redis_budget_child.py")
WINDOW_S = 61.0


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingSource:
    """A Redis rate source that counts the round trips made to it."""

    def __init__(self, source: RedisRateSource) -> None:
        self.source = source
        self.owner = source.owner
        self.calls = 0

    def grant_now(self, **request: object) -> RateGrant:
        self.calls += 1
        return self.source.grant_now(**request)  # type: ignore[arg-type]

    def give_back_now(self, **request: object) -> None:
        self.calls += 1
        self.source.give_back_now(**request)  # type: ignore[arg-type]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with start_redis(tmp_path) as url:
        yield url


def _rate(url: str, clock: FakeClock, deployment: str = "test", kind: str = "requests") -> SharedRate:
    return SharedRate(RedisRateSource(url, deployment=deployment, kind=kind), name=kind, window_s=WINDOW_S,
                      clock=clock)


def _send(rate: SharedRate, clock: FakeClock, amount: float, per_minute: float) -> int:
    """Take ``amount`` as a caller would, moving the fake clock on while the shared budget says wait; the grant."""
    while (grant := rate.take_nowait(amount)) is None:
        clock.now += rate.refill(amount, per_minute=per_minute)
    return grant


def _busiest_window(times: list[float], window: float) -> int:
    """The most sends any window of ``window`` seconds (open at its start) holds."""
    times = sorted(times)
    busiest, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def test_two_processes_drawing_on_one_request_budget_never_send_more_than_it_in_any_window(redis_url: str) -> None:
    clock = FakeClock()
    first, second = _rate(redis_url, clock), _rate(redis_url, clock)
    sent = []

    for _ in range(200):  # 400 sends at a budget of 120 a minute: more than three windows
        for rate in (first, second):
            _send(rate, clock, 1, per_minute=120)
            sent.append(clock.now)
            clock.now += 0.05

    assert len(sent) == 400
    assert _busiest_window(sent, WINDOW_S) <= 120


def test_engines_drawing_on_a_ledger_in_one_process_never_send_more_than_it_in_any_window() -> None:
    clock = FakeClock()
    ledger = RateLedger()
    first, second = (SharedRate(LocalRateSource(ledger), name="requests", window_s=WINDOW_S, clock=clock)
                     for _ in range(2))
    sent = []

    for _ in range(200):
        for rate in (first, second):
            _send(rate, clock, 1, per_minute=120)
            sent.append(clock.now)
            clock.now += 0.05

    assert len(sent) == 400
    assert _busiest_window(sent, WINDOW_S) <= 120


def _script(source: RateSource) -> list[float]:
    """A fixed sequence of grants, returns and waits against ``source``: what each grant answered, in turn."""
    clock = FakeClock()
    first, second = (SharedRate(source, name="tokens", window_s=WINDOW_S, clock=clock) for _ in range(2))
    answers = []
    for step in range(60):
        rate = first if step % 3 else second
        wait = rate.refill(400 + 37 * step, per_minute=30_000)
        answers += [rate._left, wait]
        grant = rate.take_nowait(400 + 37 * step)
        if grant:
            rate.give_back(grant, 150)
        clock.now += 0.4 if step % 5 else wait
    return answers


def test_the_python_ledger_answers_as_the_redis_scripts_do(redis_url: str) -> None:
    from_redis = _script(RedisRateSource(redis_url, deployment="test", kind="tokens"))

    assert _script(LocalRateSource(RateLedger())) == pytest.approx(from_redis)


def test_two_child_processes_sharing_rpm_through_redis_book_at_most_rpm_per_window_together(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).set("test:clock", 1000.0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    children = [subprocess.Popen([sys.executable, CHILD, "book", redis_url, "120", "200"], stdout=subprocess.PIPE,
                                 text=True, env=env) for _ in range(2)]
    booked = [json.loads(child.communicate(timeout=90)[0]) for child in children]

    assert [len(times) for times in booked] == [200, 200]
    assert _busiest_window(booked[0] + booked[1], WINDOW_S) <= 120


def test_a_grant_serves_many_calls_without_another_round_trip(redis_url: str) -> None:
    clock = FakeClock()
    source = CountingSource(RedisRateSource(redis_url, deployment="test", kind="requests"))
    rate = SharedRate(source, name="requests", window_s=WINDOW_S, clock=clock)

    for _ in range(50):
        _send(rate, clock, 1, per_minute=6000)  # a burst of the shared rate is 6000 / 63 = 95 requests

    assert source.calls == 1


def test_while_demand_exceeds_the_rate_one_round_trip_serves_many_sends(redis_url: str) -> None:
    clock = FakeClock()
    sources = [CountingSource(RedisRateSource(redis_url, deployment="test", kind="requests")) for _ in range(2)]
    rates = [SharedRate(source, name="requests", window_s=WINDOW_S, clock=clock) for source in sources]

    for _ in range(1000):  # 2,000 sends, as fast as the budget allows: 93.75 a second, 23 a quarter second
        for rate in rates:
            _send(rate, clock, 1, per_minute=6000)

    assert sum(source.calls for source in sources) <= 2000 / 10


def test_tokens_a_call_did_not_use_go_back_to_the_shared_budget_with_the_next_request(redis_url: str) -> None:
    clock = FakeClock()
    source = RedisRateSource(redis_url, deployment="test", kind="tokens")
    rate = SharedRate(source, name="tokens", window_s=WINDOW_S, clock=clock)
    grant = _send(rate, clock, 500, per_minute=60_000)

    rate.give_back(grant, 400)  # the call used 100 of its 500 estimated tokens
    clock.now += 5.0  # the grant's time is up: what it still holds goes back too
    _send(rate, clock, 10, per_minute=60_000)

    assert source.grants()[0][1] == pytest.approx(100.0)  # the first grant now counts only what was used


def test_after_a_whole_minute_of_budget_is_spent_the_next_request_waits_until_it_frees(redis_url: str) -> None:
    clock = FakeClock()
    rate = _rate(redis_url, clock)
    _send(rate, clock, 60, per_minute=60)  # the whole minute's budget in one go, at once
    clock.now += 30.0

    wait = rate.refill(1, per_minute=60)

    assert wait >= WINDOW_S - 30.0


def test_a_limit_one_process_learned_is_adopted_by_the_other(redis_url: str) -> None:
    clock = FakeClock()
    learner, other = _rate(redis_url, clock), _rate(redis_url, clock)
    learner.publish(3000.0)
    _send(learner, clock, 1, per_minute=600)

    _send(other, clock, 1, per_minute=600)

    assert other.news() == 3000.0
    assert other.news() is None  # news once


async def test_a_pacer_paces_to_a_limit_another_process_published(redis_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("SHAREDLM_BUDGET_URL", redis_url)
    memory = Memory(tmp_path, Deployment(provider="openai", model="m", base_url="", api_key="sim-key"))
    pacer = Pacer(FlowSettings(rpm=6000, adaptive=False), cap=8, memory=memory)
    assert pacer.shared is not None
    key = memory.deployment.file_name.removesuffix(".json")
    other = SharedRate(RedisRateSource(redis_url, deployment=key, kind="requests"), name="requests",
                       window_s=BUDGET_WINDOW_S)
    other.publish(600.0)
    other.refill(1, per_minute=600)

    async with pacer.attempt():
        pass

    assert pacer.requests is not None
    assert pacer.requests.per_minute == 600.0


async def test_a_limit_a_pacer_reads_in_headers_reaches_another_processs_pacer(
        redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHAREDLM_BUDGET_URL", redis_url)
    deployment = Deployment(provider="openai", model="m", base_url="", api_key="sim-key")
    learner, other = (Pacer(FlowSettings(rpm=6000, adaptive=False), cap=8, memory=Memory(tmp_path / name, deployment))
                      for name in ("learner", "other"))
    async with learner.attempt() as slot:
        slot.record.headers = [("x-ratelimit-limit-requests", "600"), ("x-ratelimit-remaining-requests", "599"),
                               ("x-ratelimit-reset-requests", "100ms")]
    async with learner.attempt():  # its next send publishes what it learned
        pass

    async with other.attempt():
        pass

    assert learner.requests is not None
    assert other.requests is not None
    assert learner.requests.per_minute == other.requests.per_minute == 600.0


async def test_a_pacer_flushed_at_close_gives_its_unsent_grant_back(redis_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_BUDGET_URL", redis_url)
    pacer = Pacer(FlowSettings(rpm=6000, adaptive=False), cap=8)
    async with pacer.attempt():
        pass
    source = RedisRateSource(redis_url, deployment="default", kind="requests")
    held = source.used()

    pacer.flush()

    assert held > 1
    assert source.used() == pytest.approx(1.0)  # only the one request sent still counts


def test_two_processes_sharing_rpm_lose_no_call_and_draw_every_request_from_the_shared_budget(
        redis_url: str) -> None:
    with SimulatorProcess(SimulatorSettings(latency=0.05, max_concurrency=64)) as sim:
        env = {**os.environ, "SHAREDLM_BUDGET_URL": redis_url, "PYTHONPATH": os.pathsep.join(sys.path)}
        children = [subprocess.Popen([sys.executable, CHILD, "calls", sim.base_url, "60", "12000"],
                                     stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
        outputs = [child.communicate(timeout=90)[0].strip() for child in children]
        served = sim.stats()

    import redis

    keys = redis.Redis.from_url(redis_url).keys("sharedlm:budget:rate:*:requests:amounts")
    name = keys[0].decode() if isinstance(keys[0], bytes) else str(keys[0])
    deployment = name.split(":")[3]
    books = RedisRateSource(redis_url, deployment=deployment, kind="requests")

    assert outputs == ["60", "60"]
    assert served.rate_limited == 0
    assert len(keys) == 1  # both processes drew on one budget for their deployment
    # Every request sent drew on it, and what the processes did not send went back when they exited.
    assert books.used() == pytest.approx(served.requests)


def test_a_shared_rate_budget_that_cannot_be_reached_fails_the_call_with_a_clear_error_and_no_password() -> None:
    pytest.importorskip("redis", reason="the redis client is not installed: pip install 'sharedlm[redis]'")
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"  # nothing listens there
    rate = SharedRate(RedisRateSource(url, deployment="test", kind="requests"), name="requests", window_s=WINDOW_S)

    with pytest.raises(ConfigurationError, match="unset SHAREDLM_BUDGET_URL") as caught:
        rate.refill(1, per_minute=60)

    assert "s3cret" not in str(caught.value)
