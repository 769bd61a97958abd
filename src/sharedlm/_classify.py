"""Turning whatever one attempt raised into a sharedlm error: retryable or fatal.

lm15 already reads each provider's error bodies into its canonical classes (rate limit, server error,
auth, invalid request, ...); aiohttp and the OS raise their own connection errors. This module maps both
onto :mod:`sharedlm._errors`, the single place the engine's retry decision is made from.

It also keeps the API key out of everything that leaves sharedlm: the errors it builds are made from statuses and
redacted text, and the exception it was given, which the engine chains under its own error, is redacted in place
together with every exception chained to it (:func:`scrub`), because provider error bodies sometimes echo a key and
SDK errors hold the HTTP request that carried it (an httpx ``Request`` and ``Response`` with their headers): the
search reaches every attribute, container and HTTP message of those exceptions, within a depth and size bound.
"""

from __future__ import annotations

import contextlib
import errno
import re
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
import multidict
from dspy import lm15

from sharedlm._errors import (
    AuthenticationError,
    CallTimeoutError,
    ConnectionFailedError,
    ContextTooLongError,
    ProviderCallError,
    ProviderUnavailableError,
    RateLimitedError,
    RequestRejectedError,
)
from sharedlm._http_rules import is_secret_name, shown_url

# Statuses a provider may answer that mean "later" rather than "never".
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524, 529})


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` replaced by ``***`` (provider error bodies sometimes echo a key)."""
    if secret and len(secret) >= 4 and secret in text:
        return text.replace(secret, "***")
    return text


_REDACTED = "***"
_GUTTED = "(this error's text held the API key and was removed)"
# How far the search for a secret goes from each exception, and how many objects one scrub takes apart: an httpx
# Response's request's headers inside a LiteLLM error are three levels down; the bounds keep a large or cyclic
# attribute graph (a client, a session) cheap to search.
_MAX_DEPTH = 6
_MAX_OBJECTS = 2000
# Headers a redacted copy of an httpx message leaves out: its body is already decoded, and may change length.
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
# Never taken apart: numbers, code and the interpreter's own objects hold no error's data.
_OPAQUE = (int, float, complex, type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, types.FrameType, types.TracebackType, types.CodeType, types.CoroutineType,
           types.GeneratorType, types.AsyncGeneratorType)


def _fields(value: Any) -> list[tuple[str, Any]]:
    """An object's attributes: its instance dict and its slots (read, never changed)."""
    found: list[tuple[str, Any]] = []
    with contextlib.suppress(TypeError):  # no __dict__
        found += list(vars(value).items())
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__"):
                with contextlib.suppress(Exception):  # an unset slot, or a property raising
                    found.append((name, getattr(value, name)))
    return found


class _Redactor:
    """Redacted copies of the values an exception holds; one per :func:`scrub`, so a value met twice (a request
    under both an error and its response) becomes one copy.

    Containers, httpx requests, responses, headers and URLs that hold a secret are copied with it replaced by
    ``***``, keeping their type; any other object is searched but never copied or changed (it may be live, shared
    state such as a client), and is dropped (None) when it holds a secret. Values that hold none come back as the
    very same object, so redaction changes nothing it need not.
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.raw = tuple(secret.encode("utf-8") for secret in secrets)
        self.left = _MAX_OBJECTS
        # id -> (original, redacted); the original is kept so its id cannot be reused by another object meanwhile.
        self.done: dict[int, tuple[Any, Any]] = {}
        # Exceptions met inside values: the caller scrubs them in place, as it does the chain.
        self.exceptions: list[BaseException] = []

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, _REDACTED)
        return text

    def data(self, data: bytes | bytearray) -> bytes | bytearray:
        for raw in self.raw:
            if raw in data:
                data = data.replace(raw, _REDACTED.encode())
        return data

    def shows(self, value: Any) -> bool:
        """Whether ``value``'s str or repr shows a secret."""
        try:
            shown = str(value) + repr(value)
        except Exception:  # a broken __str__ shows nothing
            return False
        return any(secret in shown for secret in self.secrets)

    def named(self, name: Any, value: Any, depth: int) -> Any:
        """``value`` redacted, as the value of a field, key or header called ``name``.

        A text under a credential's name (Authorization, x-amz-security-token, api_key, ...) is replaced whole,
        whether or not a known secret is in it: an AWS signature is derived from the secret key, and a token
        LiteLLM fetched itself is known to nobody here. An Authorization scheme (``Bearer``) stays readable.
        """
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, str) and value and isinstance(name, str) and is_secret_name(name):
            scheme, space, _ = value.partition(" ")
            hidden = f"{scheme} {_REDACTED}" if space and scheme.isascii() and scheme.isalnum() else _REDACTED
            return value if value == hidden else hidden
        return self.value(value, depth)

    def value(self, value: Any, depth: int) -> Any:
        """``value`` with every secret redacted: the same object when it holds none."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.data(value)
        if value is None or isinstance(value, _OPAQUE):
            return value
        if isinstance(value, BaseException):
            self.exceptions.append(value)
            return value
        known = self.done.get(id(value))
        if known is not None:
            return known[1]
        if depth > _MAX_DEPTH or self.left <= 0:
            return value
        self.left -= 1
        self.done[id(value)] = (value, value)  # a cycle back to it meets it as it is
        try:
            redacted = self._copy(value, depth)
        except Exception:  # cannot be taken apart or rebuilt: dropped when it shows a secret
            redacted = None if self.shows(value) else value
        self.done[id(value)] = (value, redacted)
        return redacted

    def _copy(self, value: Any, depth: int) -> Any:
        httpx = sys.modules.get("httpx")  # LiteLLM's errors hold httpx messages; nothing here imports httpx for them
        if httpx is not None:
            if isinstance(value, httpx.Request):
                return self._request(httpx, value, depth)
            if isinstance(value, httpx.Response):
                return self._response(httpx, value, depth)
            if isinstance(value, httpx.Headers):
                return self._headers(httpx, value)
            if isinstance(value, httpx.URL):
                shown = shown_url(self.text(str(value)))
                return value if shown == str(value) else httpx.URL(shown)
        if isinstance(value, tuple):
            fields = getattr(value, "_fields", None)
            names = fields if isinstance(fields, tuple) and len(fields) == len(value) else (None,) * len(value)
            items = [self.named(name, item, depth + 1) for name, item in zip(names, value, strict=True)]
            return value if _same(items, value) else _rebuilt_tuple(value, items)
        if isinstance(value, list | set | frozenset):
            items = [self.value(item, depth + 1) for item in value]
            return value if _same(items, value) else _rebuilt(value, items)
        if isinstance(value, Mapping):
            pairs = [(self.text(key) if isinstance(key, str) else key, self.named(key, item, depth + 1))
                     for key, item in value.items()]
            unchanged = all(new_key is key and new is item
                            for (new_key, new), (key, item) in zip(pairs, value.items(), strict=True))
            return value if unchanged else _rebuilt_mapping(value, pairs)
        return None if self._holds(value, depth) else value

    def _holds(self, value: Any, depth: int) -> bool:
        if self.shows(value):
            return True
        return any(self.named(name, item, depth + 1) is not item for name, item in _fields(value))

    def _headers(self, httpx: Any, headers: Any) -> Any:
        items = [(name, self.named(name, item, 0)) for name, item in headers.multi_items()]
        if all(new is item for (_, new), (_, item) in zip(items, headers.multi_items(), strict=True)):
            return headers
        return httpx.Headers(items)

    def _request(self, httpx: Any, request: Any, depth: int) -> Any:
        headers = self._headers(httpx, request.headers)
        url = self.value(request.url, depth + 1)
        try:
            content = request.content
        except Exception:  # a streamed body never read: nothing of it to show
            content = b""
        clean = self.data(content)
        if headers is request.headers and url is request.url and clean is content:
            return request
        return httpx.Request(request.method, url if url is not None else "", content=clean,
                             headers=[(k, v) for k, v in headers.multi_items() if k.lower() not in _BODY_HEADERS])

    def _response(self, httpx: Any, response: Any, depth: int) -> Any:
        original = getattr(response, "_request", None)
        request = None if original is None else self.value(original, depth + 1)
        headers = self._headers(httpx, response.headers)
        try:
            content: bytes | None = response.content
        except Exception:  # never read, or undecodable: nothing of it is kept
            content = None
        clean = None if content is None else self.data(content)
        if request is original and headers is response.headers and clean is content:
            return response
        return httpx.Response(response.status_code, content=clean or b"", request=request,
                              headers=[(k, v) for k, v in headers.multi_items() if k.lower() not in _BODY_HEADERS])


def _same(items: list[Any], originals: Any) -> bool:
    return all(new is item for new, item in zip(items, originals, strict=True))


def _rebuilt_tuple(value: tuple[Any, ...], items: list[Any]) -> tuple[Any, ...]:
    """A tuple of ``items`` of ``value``'s type: a NamedTuple keeps its fields (``aiohttp``'s ConnectionKey, whose
    ``host`` a ClientConnectorError reads), any other subclass its class where it can be built from the items."""
    kind = type(value)
    if kind is tuple:
        return tuple(items)
    make = getattr(kind, "_make", None)
    with contextlib.suppress(Exception):
        rebuilt: tuple[Any, ...] = make(items) if callable(make) else kind(items)
        return rebuilt
    return tuple(items)  # a class that cannot be rebuilt: its fields go, the secret with them


def _rebuilt(value: list[Any] | set[Any] | frozenset[Any], items: list[Any]) -> Any:
    with contextlib.suppress(Exception):
        return type(value)(items)
    return frozenset(items) if isinstance(value, frozenset) else set(items) if isinstance(value, set) else items


def _rebuilt_mapping(value: Mapping[Any, Any], pairs: list[tuple[Any, Any]]) -> Mapping[Any, Any]:
    if isinstance(value, types.MappingProxyType):
        return types.MappingProxyType(dict(pairs))
    if isinstance(value, multidict.CIMultiDictProxy | multidict.MultiDictProxy):
        mutable = multidict.CIMultiDict if isinstance(value, multidict.CIMultiDictProxy) else multidict.MultiDict
        return type(value)(mutable(pairs))
    kind: Any = type(value)
    with contextlib.suppress(Exception):
        rebuilt: Mapping[Any, Any] = kind(pairs)
        return rebuilt
    return dict(pairs)


def _scrub_one(exc: BaseException, redactor: _Redactor) -> None:
    args = redactor.value(exc.args, 0)
    if args is not exc.args:
        exc.args = args
    if isinstance(exc, UnicodeError) and isinstance(getattr(exc, "object", None), str | bytes):
        exc.object = redactor.value(exc.object, 0)  # type: ignore[attr-defined]
    for name, value in list(vars(exc).items()):
        redacted = redactor.named(name, value, 0)
        if redacted is not value:
            _set(exc, name, redacted)
    # What redaction cannot reach (beyond the search's bounds, or shown only by a repr) is dropped.
    for name, value in list(vars(exc).items()):
        if redactor.shows(value):
            _set(exc, name, None)
    if redactor.shows(exc):
        exc.args = (_GUTTED,)


def _set(exc: BaseException, name: str, value: Any) -> None:
    try:
        setattr(exc, name, value)
    except (AttributeError, TypeError):  # a read-only attribute: the instance dict holds the value
        vars(exc)[name] = value


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception chained to it: causes, contexts and group members."""
    seen: set[int] = set()
    found: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        pending.extend(linked for linked in (current.__cause__, current.__context__) if linked is not None)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
    return found


def _credential_parts(value: str) -> list[str]:
    """A credential header's value and the secret parts a provider could echo on their own: the token after an
    Authorization scheme, and an AWS Signature V4's ``Credential=`` and ``Signature=`` values."""
    _, space, rest = value.partition(" ")
    if not space:
        return [value]
    parts = [value, rest]
    for item in re.split(r",\s*", rest):
        name, equals, part = item.partition("=")
        if equals and name.strip().lower() in ("credential", "signature"):
            parts.append(part)
    return parts


def _presented(exc: BaseException) -> list[str]:
    """The credentials the HTTP requests held by ``exc``'s chain carried (httpx requests, also as responses'
    requests): the secrets a provider's answer would echo, though the caller may not know them (an AWS signature,
    a token the SDK fetched)."""
    httpx = sys.modules.get("httpx")
    if httpx is None:
        return []
    found: list[str] = []
    for current in _chain(exc):
        for _, value in _fields(current):
            request = getattr(value, "_request", None) if isinstance(value, httpx.Response) else value
            if isinstance(request, httpx.Request):
                found += [part for name, header in request.headers.multi_items() if is_secret_name(name)
                          for part in _credential_parts(header)]
    return found


def scrub(exc: BaseException, secret: str | Iterable[str | None] | None, *, credentials: bool = False) -> None:
    """Redact secrets in place from ``exc`` and from every exception chained to it (causes, contexts, groups, and
    exceptions held in their attributes), wherever they are reachable from those exceptions' args and attributes:
    texts, bytes, containers, httpx requests and responses (headers, URL, body), within a depth and size bound.

    Every field or header named as a credential (``Authorization``, ``x-api-key``, ``x-amz-security-token``,
    ``api_key``, ...) is redacted too, known secret or not. The exceptions keep their type, status and message.

    Args:
        exc: The exception an attempt raised, about to be chained under a sharedlm error or re-raised.
        secret: The API key, or every secret known (the key, cloud credentials); values shorter than 4 characters
            are ignored, and nothing is done when none is left, unless ``credentials`` is set.
        credentials: Search even without a known secret (a route whose credentials the provider's SDK found
            itself): the credentials the chain's HTTP requests carried count as known, and credential fields and
            headers are redacted.
    """
    given = [secret] if isinstance(secret, str) or secret is None else list(secret)
    if credentials:
        given += _presented(exc)
    # Longest first, so a secret that contains another is replaced whole.
    secrets = tuple(sorted({s for s in given if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True))
    if not secrets and not credentials:
        return
    redactor = _Redactor(secrets)
    seen: set[int] = set()
    pending = _chain(exc)
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        _scrub_one(current, redactor)
        # Exceptions held in attributes, and their own chains.
        pending.extend(linked for held in redactor.exceptions for linked in _chain(held))
        redactor.exceptions.clear()


def _first_line(message: str) -> str:
    # lm15 appends multi-line "To fix" guidance meant for lm15 users; ours is in the retry error.
    return message.split("\n\n", 1)[0].strip()


def classify(exc: BaseException, *, provider: str, status: int | None, secret: str | None) -> ProviderCallError | None:
    """The sharedlm error for ``exc``, or None when ``exc`` is not a provider or network failure.

    Args:
        exc: What the attempt raised.
        provider: The lm15 provider the request went to, for messages.
        status: The HTTP status the transport saw, if a response head arrived.
        secret: The API key, to keep it out of messages and out of ``exc`` and its chain (redacted in place).
    """
    scrub(exc, secret)
    if isinstance(exc, ProviderCallError):
        return exc
    if isinstance(exc, lm15.ProviderError):
        code = exc.status if exc.status is not None else status
        text = redact(_first_line(exc.message or str(exc)), secret)
        message = f"{provider} answered HTTP {code}: {text}" if code else f"{provider}: {text}"
        if isinstance(exc, lm15.RateLimitError) or code == 429:
            return RateLimitedError(message, status=code or 429, provider=provider, retry_after=exc.retry_after)
        if isinstance(exc, lm15.ContextLengthError):
            return ContextTooLongError(message, status=code, provider=provider)
        if isinstance(exc, lm15.AuthError) or code in (401, 403):
            return AuthenticationError(
                f"{message}. Check the key in SHAREDLM_API_KEY (or the provider's own variable) or "
                "sharedlm.configure(api_key=...)", status=code, provider=provider)
        if isinstance(exc, lm15.TimeoutError):
            return CallTimeoutError(message, provider=provider, status=code)
        if isinstance(exc, lm15.ServerError) or (code is not None and code in RETRYABLE_STATUSES):
            return ProviderUnavailableError(message, status=code, provider=provider, retry_after=exc.retry_after)
        return RequestRejectedError(message, status=code, provider=provider)
    if isinstance(exc, lm15.TransportError):
        return ConnectionFailedError(f"connection to {provider} failed: {redact(_first_line(str(exc)), secret)}",
                                     provider=provider)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectionFailedError(f"could not connect to {provider} at {exc.host}:{exc.port}: {exc.os_error}",
                                     provider=provider)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError):
        return ConnectionFailedError(f"connection to {provider} broke before the answer was complete "
                                     f"({type(exc).__name__}: {exc})", provider=provider)
    if isinstance(exc, aiohttp.ClientConnectionError | ConnectionError):
        return ConnectionFailedError(f"connection to {provider} failed ({type(exc).__name__}: {exc})",
                                     provider=provider)
    if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
        return ConnectionFailedError(
            "out of file descriptors (Errno 24) opening a connection; lower max_parallel_requests or raise "
            "`ulimit -n`", provider=provider)
    return None


__all__ = ["RETRYABLE_STATUSES", "classify", "redact", "scrub"]
