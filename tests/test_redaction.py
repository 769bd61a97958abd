"""The API key never leaves sharedlm: not in an error's message, args, repr or chained causes, nor in a log line.

The provider here is a small server on 127.0.0.1 that echoes the key it was sent in its error body, as some
providers do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import dspy
import pytest
from dspy.utils.exceptions import LMInvalidRequestError, LMProviderError

import sharedlm
from _http_servers import ScriptedServer, ServerRequest
from sharedlm._env import settings_from_env
from sharedlm._errors import ConfigurationError
from sharedlm._http_rules import text_problem
from sharedlm._settings import SharedLMSettings

pytestmark = pytest.mark.timeout(30)

KEY = "sk-test-redaction-0123456789abcdef"


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


def everything(exc: BaseException) -> str:
    """Every text an exception and the exceptions chained to it show: str, repr, args and attributes."""
    texts: list[str] = []
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        pending += [linked for linked in (current.__cause__, current.__context__) if linked is not None]
    return "\n".join(texts)


def echoing(status: int, code: str = "invalid_api_key") -> Callable[[ServerRequest], Awaitable[None]]:
    """A handler answering ``status`` with an OpenAI-style error body that quotes the key it was sent."""

    async def handler(request: ServerRequest) -> None:
        sent = (request.header("authorization") or "").removeprefix("Bearer ")
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {sent}", "type": "invalid_request_error",
                                     "code": code}}).encode()
        await request.connection.answer(body, status=status, headers=(("Content-Type", "application/json"),))

    return handler


def predictor(base_url: str, *, max_retries: int | None = None) -> dspy.Predict:
    sharedlm.configure(model="openai/sim-model", api_key=KEY, api_base=base_url, cache=False,
                       backoff_base=0.01, backoff_max=0.02, max_retries=max_retries)
    predict = dspy.Predict(QA)
    predict.set_lm(sharedlm.get_shared_lm())
    return predict


# --- keys that cannot be sent are refused when settings are built ---


@pytest.mark.parametrize(("key", "kind"), [(KEY + "\u2019", "outside Latin-1"), (KEY + "\n", "line break"),
                                           ("sk-\x00" + KEY, "NUL"), (KEY[:8] + "\x07" + KEY[8:], "control")])
def test_a_key_that_cannot_be_sent_is_a_configuration_error_that_does_not_show_it(key: str, kind: str) -> None:
    with pytest.raises(ConfigurationError, match=kind) as caught:
        SharedLMSettings(api_key=key)
    assert "api_key" in str(caught.value)
    assert KEY not in everything(caught.value)
    assert key not in everything(caught.value)


def test_a_key_with_a_non_latin1_character_passed_to_configure_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigurationError, match="api_key contains a character outside Latin-1") as caught:
        sharedlm.configure(model="openai/sim-model", api_key=KEY + "\u2013")
    assert KEY not in everything(caught.value)


def test_a_key_from_the_environment_that_cannot_be_sent_names_its_variable_not_the_key() -> None:
    environ = {"SHAREDLM_MODEL": "openai/gpt-4o-mini", "OPENAI_API_KEY": "\u201c" + KEY + "\u201d"}
    with pytest.raises(ConfigurationError, match="environment variable OPENAI_API_KEY contains") as caught:
        settings_from_env(environ)
    assert KEY not in everything(caught.value)


@pytest.mark.parametrize(("char", "kind"), [
    ("\u00a0", "a non-ASCII space"), ("\u2003", "a non-ASCII space"),
    ("\u200b", "an invisible character"), ("\ufeff", "an invisible character"),
])
def test_a_key_with_a_pasted_invisible_or_non_ascii_space_is_refused_naming_the_kind(char: str, kind: str) -> None:
    with pytest.raises(ConfigurationError, match=f"api_key contains {kind}") as caught:
        SharedLMSettings(api_key=KEY + char)
    assert KEY not in everything(caught.value)


def test_a_key_from_the_environment_with_a_zero_width_space_names_its_variable_not_the_key() -> None:
    environ = {"SHAREDLM_MODEL": "openai/gpt-4o-mini", "OPENAI_API_KEY": KEY[:6] + "\u200b" + KEY[6:]}
    with pytest.raises(ConfigurationError, match="environment variable OPENAI_API_KEY contains an invisible") as caught:
        settings_from_env(environ)
    assert KEY[6:] not in everything(caught.value)


def test_a_header_value_may_still_carry_a_non_breaking_space() -> None:
    assert text_problem("caf\u00e9\u00a0bar") is None


def test_a_key_of_latin1_text_is_accepted() -> None:
    assert SharedLMSettings(api_key="sk-caf\u00e9-123").api_key == "sk-caf\u00e9-123"


# --- provider errors that echo the key ---


async def test_an_auth_error_that_echoes_the_key_has_no_key_in_its_chain(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with ScriptedServer(echoing(401)) as server:
        predict = predictor(server.url("/v1"))
        with pytest.raises(LMProviderError) as caught:
            await predict.acall(question="q")
    assert server.requests  # the key really was sent, and echoed
    assert "Incorrect API key provided" in everything(caught.value)
    assert KEY not in everything(caught.value)
    assert KEY not in caplog.text


async def test_a_rejected_request_that_echoes_the_key_has_no_key_in_its_chain() -> None:
    async with ScriptedServer(echoing(400, code="bad_request")) as server:
        predict = predictor(server.url("/v1"))
        with pytest.raises(LMInvalidRequestError) as caught:
            await predict.acall(question="q")
    assert sharedlm.sharedlm_cause(caught.value) is not None
    assert KEY not in everything(caught.value)


async def test_retries_spent_on_errors_that_echo_the_key_leave_no_key_in_the_chain_or_the_log(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with ScriptedServer(echoing(503, code="overloaded")) as server:
        predict = predictor(server.url("/v1"), max_retries=2)
        with pytest.raises(LMProviderError) as caught:
            await predict.acall(question="q")
    assert len(server.requests) == 3
    assert KEY not in everything(caught.value)
    assert KEY not in caplog.text
