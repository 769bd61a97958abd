"""One shared LM per process: built once under races, configured explicitly or from the environment."""

from __future__ import annotations

import asyncio
import socketserver
import threading

import dspy
import pytest
from dspy.utils.exceptions import LMError, LMNotConfiguredError

import sharedlm
from sharedlm import ConfigurationError, MissingAPIKeyError, SharedLMClosedError


def test_racing_threads_get_one_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_MODEL", "openai/race-model")
    barrier = threading.Barrier(100)
    seen: list[object] = []

    def grab() -> None:
        barrier.wait()
        seen.append(sharedlm.get_shared_lm())

    threads = [threading.Thread(target=grab) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 100
    assert len({id(lm) for lm in seen}) == 1


def test_shared_lm_is_a_real_dspy_lm_without_dspy_retries() -> None:
    sharedlm.configure(model="openai/m", api_key="k")
    lm = sharedlm.get_shared_lm()
    assert isinstance(lm, dspy.LM)
    assert lm.num_retries == 0


def test_environment_model_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_NAME", "anthropic/claude-test")
    assert sharedlm.get_shared_lm().model == "anthropic/claude-test"


def test_same_settings_again_is_a_no_op() -> None:
    sharedlm.configure(model="openai/m", api_key="k", max_parallel_requests=10)
    lm = sharedlm.get_shared_lm()
    sharedlm.configure(model="openai/m", api_key="k", max_parallel_requests=10)
    assert sharedlm.get_shared_lm() is lm


def test_different_settings_after_creation_name_reset() -> None:
    sharedlm.configure(model="openai/m", api_key="k")
    sharedlm.get_shared_lm()
    with pytest.raises(ConfigurationError, match=r"reset_shared_lm\(\).*") as raised:
        sharedlm.configure(model="openai/other", api_key="k")
    assert "model" in str(raised.value)


def test_configure_before_creation_may_change_its_mind() -> None:
    sharedlm.configure(model="openai/first", api_key="k")
    sharedlm.configure(model="openai/second", api_key="k")
    assert sharedlm.get_shared_lm().model == "openai/second"


def test_reset_forgets_the_lm() -> None:
    sharedlm.configure(model="openai/m", api_key="k")
    first = sharedlm.get_shared_lm()
    sharedlm.reset_shared_lm()
    sharedlm.configure(model="openai/m", api_key="k")
    assert sharedlm.get_shared_lm() is not first


def test_copies_share_the_engines() -> None:
    sharedlm.configure(model="openai/m", api_key="k")
    lm = sharedlm.get_shared_lm()
    copy = lm.copy(temperature=0.5)
    assert copy.engine is lm.engine


def test_unroutable_model_is_a_configuration_error() -> None:
    sharedlm.configure(model="nosuchprovider/x/y", api_key="k")
    with pytest.raises(ConfigurationError, match="openai/"):
        sharedlm.get_shared_lm()


def test_missing_key_names_the_variables_at_first_call() -> None:
    sharedlm.configure(model="gemini/gemini-2.5-flash")
    predict = dspy.Predict("question -> answer")
    predict.set_lm(sharedlm.get_shared_lm())
    with pytest.raises(LMNotConfiguredError) as raised:
        predict(question="hi")
    cause = sharedlm.sharedlm_cause(raised.value)
    assert isinstance(cause, MissingAPIKeyError)
    assert "GEMINI_API_KEY" in str(cause)
    assert "SHAREDLM_API_KEY" in str(cause)


def test_stats_before_creation_are_zero() -> None:
    assert sharedlm.stats().calls == 0


def test_key_is_absent_from_reprs() -> None:
    sharedlm.configure(model="openai/m", api_key="sk-never-show-me")
    lm = sharedlm.get_shared_lm()
    text = repr(lm) + repr(lm.engine) + repr(lm.kwargs) + repr(sharedlm.configure(model="openai/m",
                                                                                 api_key="sk-never-show-me"))
    assert "sk-never-show-me" not in text


class SilentServer:
    """A TCP server on 127.0.0.1 that reads a request and never answers; ``arrived`` is set when one came in."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self._stop = threading.Event()
        owner = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while self.rfile.readline() not in (b"\r\n", b""):
                    pass
                owner.arrived.set()
                owner._stop.wait()

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def test_reset_fails_a_sync_call_in_flight_with_a_clear_error_instead_of_hanging() -> None:
    with SilentServer() as server:
        sharedlm.configure(model="openai/m", api_key="k", api_base=server.base_url, timeout=600, cache=False)
        lm = sharedlm.get_shared_lm()
        outcome: list[BaseException] = []

        def call() -> None:
            try:
                lm("hello")
            except BaseException as exc:  # collected and asserted below
                outcome.append(exc)

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        assert server.arrived.wait(30)
        sharedlm.reset_shared_lm()
        thread.join(30)
        assert not thread.is_alive()
    assert len(outcome) == 1
    cause = sharedlm.sharedlm_cause(outcome[0])
    assert isinstance(cause, SharedLMClosedError)
    assert "reset_shared_lm()" in str(cause)


async def test_reset_fails_an_async_call_in_flight_with_a_clear_error() -> None:
    with SilentServer() as server:
        sharedlm.configure(model="openai/m", api_key="k", api_base=server.base_url, timeout=600, cache=False,
                           backoff_base=0.01, backoff_max=0.01)
        lm = sharedlm.get_shared_lm()
        call = asyncio.create_task(lm.acall("hello"))
        assert await asyncio.to_thread(server.arrived.wait, 30)
        sharedlm.reset_shared_lm()
        with pytest.raises(LMError) as raised:
            await asyncio.wait_for(call, 30)
    assert isinstance(sharedlm.sharedlm_cause(raised.value), SharedLMClosedError)


def test_a_sync_call_after_reset_on_the_old_lm_fails_with_a_clear_error() -> None:
    sharedlm.configure(model="openai/m", api_key="k", cache=False)
    lm = sharedlm.get_shared_lm()
    sharedlm.reset_shared_lm()
    with pytest.raises(LMError) as raised:
        lm("hello")
    assert isinstance(sharedlm.sharedlm_cause(raised.value), SharedLMClosedError)
