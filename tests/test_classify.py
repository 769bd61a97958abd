"""Each provider or network failure becomes a retryable or a fatal sharedlm error, without secrets."""

from __future__ import annotations

import pickle
from typing import Any, NamedTuple

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from dspy import lm15

from sharedlm._classify import classify, redact, scrub
from sharedlm._errors import (
    AuthenticationError,
    ConnectionFailedError,
    ContextTooLongError,
    FatalError,
    ProviderUnavailableError,
    RateLimitedError,
    RequestRejectedError,
    RetryableError,
)


@pytest.mark.parametrize(("raised", "expected"), [
    (lm15.RateLimitError("slow down", status=429), RateLimitedError),
    (lm15.ServerError("boom", status=503), ProviderUnavailableError),
    (lm15.ProviderError("bad gateway", status=502), ProviderUnavailableError),
    (lm15.AuthError("bad key", status=401), AuthenticationError),
    (lm15.InvalidRequestError("no such field", status=400), RequestRejectedError),
    (lm15.ContextLengthError("too long", status=400), ContextTooLongError),
    (lm15.TransportError("reset"), ConnectionFailedError),
    (aiohttp.ServerDisconnectedError(), ConnectionFailedError),
    (ConnectionResetError(104, "reset by peer"), ConnectionFailedError),
])
def test_failure_maps_to_its_sharedlm_class(raised: Exception, expected: type) -> None:
    assert isinstance(classify(raised, provider="openai-chat", status=None, secret=None), expected)


def test_rate_limit_and_5xx_are_retryable_and_4xx_fatal() -> None:
    assert isinstance(classify(lm15.RateLimitError("x", status=429), provider="p", status=429, secret=None),
                      RetryableError)
    assert isinstance(classify(lm15.InvalidRequestError("x", status=404), provider="p", status=404, secret=None),
                      FatalError)


def test_program_bugs_are_not_classified() -> None:
    assert classify(KeyError("field"), provider="p", status=None, secret=None) is None


def test_key_echoed_by_the_provider_is_redacted() -> None:
    error = classify(lm15.AuthError("Incorrect API key provided: sk-abcdef123", status=401), provider="p",
                     status=401, secret="sk-abcdef123")
    assert error is not None
    assert "sk-abcdef123" not in str(error)


def test_redact_leaves_text_without_the_secret_alone() -> None:
    assert redact("nothing here", "sk-abcdef") == "nothing here"


# --- the exception classify was given is redacted in place, with its whole chain ---

KEY = "sk-test-scrub-0123456789"


def _everything(exc: BaseException) -> str:
    texts, seen, pending = [], set(), [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        pending += [linked for linked in (current.__cause__, current.__context__) if linked is not None]
    return "\n".join(texts)


def test_classify_redacts_the_key_from_the_provider_error_it_was_given() -> None:
    raised = lm15.AuthError(f"Incorrect API key provided: {KEY}", status=401)
    classify(raised, provider="openai", status=401, secret=KEY)
    assert KEY not in _everything(raised)
    assert "Incorrect API key provided: ***" in str(raised)


def test_classify_redacts_the_key_from_every_exception_chained_under_the_one_it_was_given() -> None:
    try:
        try:
            raise ValueError(f"header x-api-key: {KEY}")
        except ValueError as inner:
            raise lm15.TransportError("send failed") from inner
    except lm15.TransportError as outer:
        raised = outer
    classify(raised, provider="openai", status=None, secret=KEY)
    assert KEY not in _everything(raised)


def test_classify_removes_text_it_cannot_redact_from_an_exception_attribute() -> None:
    class Holder:
        def __repr__(self) -> str:
            return f"Holder(headers={{'x-api-key': {KEY!r}}})"

    raised = RuntimeError("request failed")
    raised.request_info = Holder()  # type: ignore[attr-defined]
    classify(raised, provider="openai", status=None, secret=KEY)
    assert KEY not in _everything(raised)


def test_classify_redacts_the_request_head_a_unicode_error_holds() -> None:
    head = f"POST /v1 HTTP/1.1\r\nx-api-key: {KEY}\u2019\r\n\r\n"
    try:
        head.encode("latin-1")
    except UnicodeEncodeError as exc:
        raised = exc
    classify(raised, provider="openai", status=None, secret=KEY)
    assert KEY not in _everything(raised)
    assert KEY not in str(raised.object)


# --- the search reaches HTTP messages, containers and objects, and rebuilds only what holds the key ---


class Where(NamedTuple):
    host: str
    note: str


def _proxy_refused() -> aiohttp.ClientProxyConnectionError:
    key = ConnectionKey("proxy.example", 3128, False, True, None, None, None, None)
    return aiohttp.ClientProxyConnectionError(key, ConnectionRefusedError(111, "Connection refused"))


def _status_error(request_headers: dict[str, str], body: bytes = b'{"error": "unauthorized"}') -> httpx.HTTPStatusError:
    """An httpx error as LiteLLM chains it: its request (with the credential headers sent) and the 401 answer."""
    request = httpx.Request("POST", "https://api.example/v1/chat/completions", headers=request_headers,
                            content=b'{"model": "m"}')
    response = httpx.Response(401, request=request, content=body, headers={"Content-Type": "application/json"})
    return httpx.HTTPStatusError("401 Unauthorized", request=request, response=response)


def test_scrub_keeps_a_namedtuple_attribute_that_holds_no_key() -> None:
    raised = _proxy_refused()
    scrub(raised, KEY)
    assert (raised.host, raised.port) == ("proxy.example", 3128)


def test_classify_names_the_proxy_that_refused_when_a_key_is_known() -> None:
    error = classify(_proxy_refused(), provider="openai", status=None, secret=KEY)
    assert isinstance(error, ConnectionFailedError)
    assert "proxy.example:3128" in str(error)


def test_scrub_rebuilds_a_namedtuple_that_holds_the_key_with_its_own_type() -> None:
    raised = RuntimeError("request failed")
    raised.where = Where("api.example", f"sent {KEY}")  # type: ignore[attr-defined]
    scrub(raised, KEY)
    where = raised.where  # type: ignore[attr-defined]
    assert isinstance(where, Where)
    assert where == Where("api.example", "sent ***")


def test_scrub_redacts_the_key_from_the_request_headers_an_httpx_error_holds() -> None:
    raised = _status_error({"Authorization": f"Bearer {KEY}"})
    scrub(raised, KEY)
    assert raised.request.headers["authorization"] == "Bearer ***"
    assert raised.response.request.headers["authorization"] == "Bearer ***"


def test_scrub_redacts_the_key_an_httpx_response_body_echoes_keeping_its_status() -> None:
    raised = _status_error({"x-api-key": KEY}, body=f'{{"error": "bad key {KEY}"}}'.encode())
    scrub(raised, KEY)
    assert raised.response.status_code == 401
    assert raised.response.json() == {"error": "bad key ***"}


def test_a_scrubbed_httpx_error_pickles_without_the_key() -> None:
    inner = _status_error({"Authorization": f"Bearer {KEY}"}, body=f"echo {KEY}".encode())
    raised = lm15.AuthError("unauthorized", status=401)
    raised.__cause__ = inner
    classify(raised, provider="mistral", status=401, secret=KEY)
    assert KEY.encode() not in pickle.dumps(inner)


def test_scrub_for_credentials_redacts_credential_headers_and_their_echo_without_a_known_secret() -> None:
    signature = "5f2a9c0d1e3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5"
    token = "aws-session-token-0123456789"
    authorization = (f"AWS4-HMAC-SHA256 Credential=AKIAFAKE/20250101/us-east-1/bedrock/aws4_request, "
                     f"SignedHeaders=host;x-amz-security-token, Signature={signature}")
    raised = _status_error({"Authorization": authorization, "x-amz-security-token": token},
                           body=f"signature {signature} does not match".encode())
    scrub(raised, None, credentials=True)
    data = pickle.dumps(raised)
    assert signature.encode() not in data
    assert token.encode() not in data


def test_scrub_drops_an_object_that_holds_the_key_and_never_changes_it() -> None:
    class Client:
        def __init__(self) -> None:
            self.options: dict[str, Any] = {"auth": [f"token {KEY}"]}

    client = Client()
    raised = RuntimeError("request failed")
    raised.client = client  # type: ignore[attr-defined]
    scrub(raised, KEY)
    assert raised.client is None  # type: ignore[attr-defined]
    assert client.options == {"auth": [f"token {KEY}"]}  # live state another call may use is left alone
