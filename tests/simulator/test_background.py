"""BackgroundSimulator: the server on its own thread, for synchronous code."""

from __future__ import annotations

import errno
import socket

import dspy
import openai
import pytest

from sharedlm.simulator import BackgroundSimulator, SimulatorSettings


def test_serves_a_synchronous_openai_client_and_reports_stats() -> None:
    with BackgroundSimulator() as sim:
        client = openai.OpenAI(base_url=sim.base_url, api_key="test-key")
        completion = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        client.close()
        assert completion.choices[0].message.content
        stats = sim.stats()
        assert stats.requests == 1
        assert stats.ok == 1
        sim.reset()
        assert sim.stats().requests == 0


def test_serves_a_synchronous_dspy_program() -> None:
    with BackgroundSimulator() as sim:
        lm = dspy.LM("openai/sim-model", api_base=sim.base_url, api_key="test-key", cache=False)
        with dspy.context(lm=lm):
            result = dspy.Predict("question -> answer: float, sure: bool")(question="pi?")
        assert isinstance(result.answer, float)
        assert isinstance(result.sure, bool)


def test_stop_releases_the_port() -> None:
    sim = BackgroundSimulator().start()
    port = sim.port
    sim.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_port_in_use_fails_start_with_the_os_error() -> None:
    with BackgroundSimulator() as taken, pytest.raises(OSError, match=r"(?i)address already in use") as caught:
        BackgroundSimulator(SimulatorSettings(port=taken.port)).start()
    assert caught.value.errno == errno.EADDRINUSE


def test_attributes_need_a_running_simulator_and_repr_shows_the_state() -> None:
    sim = BackgroundSimulator()
    assert "stopped" in repr(sim)
    with pytest.raises(RuntimeError, match="not running"):
        sim.stats()
    with sim:
        assert f"running at {sim.root_url}" in repr(sim)
    assert "stopped" in repr(sim)


def test_a_stopped_simulator_can_start_again_and_stopping_twice_is_harmless() -> None:
    sim = BackgroundSimulator()
    with sim:
        first = sim.port
    sim.stop()
    with sim:
        assert sim.stats().requests == 0
        assert sim.port > 0
    assert first > 0
    assert "stopped" in repr(sim)
