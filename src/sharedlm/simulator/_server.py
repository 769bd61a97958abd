"""The simulated provider: routing, limits, faults and answers on one event loop, and the in-process server.

:class:`Simulator` is the async context manager tests and benchmarks use; ``sharedlm simulate`` runs the same
class until interrupted. Everything runs on the event loop that started it, with no locks: counters, limits and
the fault dice are only touched from that loop.

A model with limits of its own (``SimulatorSettings.model_limits``) has its own :class:`Limits`; its requests are
admitted only when both its limits and the server's have room, and each request is counted under its model too.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.parse
import zlib
from collections.abc import Callable
from typing import Any

import sharedlm.simulator._json as _json
from sharedlm._errors import ConfigurationError
from sharedlm.simulator._answers import Answer, AnswerBook
from sharedlm.simulator._batch import BatchDesk
from sharedlm.simulator._bedrock import BEDROCK, converse_model
from sharedlm.simulator._faults import FaultDice, Outcome
from sharedlm.simulator._http import HeadBounds, HttpConnection, Request
from sharedlm.simulator._limits import Limits, Rejection, Ticket
from sharedlm.simulator._personality import personality_named
from sharedlm.simulator._settings import SimulatorSettings
from sharedlm.simulator._stats import Counters, ModelCounters, SimulatorStats
from sharedlm.simulator._wire import ANTHROPIC, GEMINI, JSON, OPENAI, BadRequest, Call, Dialect, OpenAIChat

# What GET /v1/models lists. Any model name is accepted; these are the ones worth advertising.
ADVERTISED_MODELS = ("sim-model", "gpt-4o-mini", "gemini-2.5-flash", "claude-sonnet-4-5")
# Pending connections the listening socket queues; thousands of clients may connect at once.
LISTEN_BACKLOG = 4096
_OPENAI_PATHS = (b"/v1/chat/completions", b"/chat/completions")
_ANTHROPIC_PATHS = (b"/v1/messages", b"/messages")
_OPENAI_MODEL_LISTS = (b"/v1/models", b"/models")
_GEMINI_MODEL_PREFIXES = (b"/v1beta/models/", b"/v1/models/", b"/models/", b"/v1alpha/models/")
_GEMINI_ACTIONS = {b"generateContent": False, b"streamGenerateContent": True}
# The control plane: not counted, never limited, never faulted.
_CONTROL_ROUTES = {b"/sim/stats": b"GET", b"/sim/reset": b"POST", b"/sim/health": b"GET"}
_FAULT_STATUS = {Outcome.ERROR_500: 500, Outcome.ERROR_503: 503}
_FAULT_MESSAGES = {500: "The server had an error while processing your request. Sorry about that!",
                   503: "The server is overloaded or not ready yet."}


class _Exchange:
    """A request admitted and waiting for its delay to pass (or hanging)."""

    __slots__ = ("answers", "call", "dialect", "model", "outcome", "own", "ticket", "timer")

    def __init__(self, ticket: Ticket, call: Call, answers: list[Answer], dialect: Dialect, outcome: Outcome,
                 model: ModelCounters, own: tuple[Limits, Ticket] | None) -> None:
        self.ticket = ticket
        self.call = call
        self.answers = answers
        self.dialect = dialect
        self.outcome = outcome
        self.model = model
        self.own = own  # the model's own limits and its place in them, when it has limits of its own
        self.timer: asyncio.TimerHandle | None = None


def _tls_context(settings: SimulatorSettings) -> ssl.SSLContext | None:
    """The server's TLS context, or None for plain HTTP; a file that cannot be used is a ConfigurationError."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot serve HTTPS with tls_cert={settings.tls_cert!r} and tls_key={settings.tls_key!r}: {exc}; "
            "give a PEM certificate and its private key") from None
    return context


class SimulatorEngine:
    """Decides and delivers the answer to every request; the :class:`HttpConnection`'s handler.

    Args:
        settings: Latency, limits, faults and seed.
        clock: Monotonic seconds; the event loop's clock when None.
    """

    def __init__(self, settings: SimulatorSettings, clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        self.counters = Counters()
        self.personality = personality_named(settings.personality)
        self.limits = Limits(max_concurrency=settings.max_concurrency, rpm=settings.rpm, tpm=settings.tpm,
                             style=self.personality.style, queue=self.personality.queue)
        # Limits of single models; the settings refuse them for a personality that queues (vLLM).
        self.model_limits = {entry.model: Limits(max_concurrency=entry.max_concurrency, rpm=entry.rpm,
                                                 tpm=entry.tpm, style=self.personality.style)
                             for entry in settings.model_limits}
        self.dice = FaultDice(settings)
        self.book = AnswerBook()
        self.connections: set[HttpConnection] = set()
        self._given_clock = clock
        self._clock: Callable[[], float] = clock or time.monotonic
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seed = settings.seed & 0xFFFFFFFF
        self._sequence = 0
        # The batch APIs: their own counters, so batch traffic never shows as online requests.
        self.batches = BatchDesk(settings.batch, book=self.book, seed=settings.seed, clock=self.now)

    def __repr__(self) -> str:
        return (f"SimulatorEngine(in_flight={self.counters.in_flight}, requests={self.counters.requests}, "
                f"connections={len(self.connections)}, {self.book!r})")

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on ``loop`` from now on."""
        self._loop = loop
        self._clock = self._given_clock or loop.time

    def now(self) -> float:
        """The engine's clock."""
        return self._clock()

    # --- connection events ----------------------------------------------------------------------------------------

    def connection_opened(self, connection: HttpConnection) -> None:
        self.connections.add(connection)

    def connection_closed(self, connection: HttpConnection) -> None:
        self.connections.discard(connection)
        exchange = connection.exchange
        if exchange is not None:
            connection.exchange = None
            if exchange.timer is not None:
                exchange.timer.cancel()
            self._leave(exchange)
            self.counters.abandoned += 1

    # --- routing --------------------------------------------------------------------------------------------------

    def handle(self, connection: HttpConnection, request: Request) -> None:
        path = request.path
        if path.startswith(b"/sim/"):
            self._control(connection, request)
            return
        if BatchDesk.handles(path):
            self.batches.handle(connection, request)
            return
        counters = self.counters
        counters.requests += 1
        if connection.generation != counters.generation:
            connection.generation = counters.generation
            counters.distinct_connections += 1
        if path in _OPENAI_PATHS:
            if self._allowed(connection, request, b"POST"):
                self._generate(connection, request, OPENAI, None, False)
        elif path in _ANTHROPIC_PATHS:
            if self._allowed(connection, request, b"POST"):
                self._generate(connection, request, ANTHROPIC, None, False)
        elif path in _OPENAI_MODEL_LISTS:
            if self._allowed(connection, request, b"GET"):
                self._reply(connection, 200, JSON, OpenAIChat.models(ADVERTISED_MODELS))
        elif path == b"/v1beta/models":
            if self._allowed(connection, request, b"GET"):
                self._reply(connection, 200, JSON, GEMINI.models(ADVERTISED_MODELS))
        else:
            self._route_model_path(connection, request)

    def _route_model_path(self, connection: HttpConnection, request: Request) -> None:
        path = request.path
        for prefix in _GEMINI_MODEL_PREFIXES:
            if path.startswith(prefix):
                rest = path[len(prefix):]
                model, colon, action = rest.rpartition(b":")
                if colon and action in _GEMINI_ACTIONS and model:
                    if self._allowed(connection, request, b"POST"):
                        self._generate(connection, request, GEMINI, urllib.parse.unquote(model.decode()),
                                       _GEMINI_ACTIONS[action])
                    return
                if not colon and prefix == b"/v1/models/" and rest and request.method == b"GET":
                    name = urllib.parse.unquote(rest.decode(errors="replace"))
                    self._reply(connection, 200, JSON, _json.dumps(OpenAIChat.model_entry(name)))
                    return
                break
        converse = converse_model(path)
        if converse is not None:
            if self._allowed(connection, request, b"POST"):
                self._generate(connection, request, BEDROCK, converse, False)
            return
        self._reply_error(connection, OPENAI, 404, f"Invalid URL ({request.method.decode()} "
                                                   f"{path.decode(errors='replace')})", code="unknown_url")

    def _allowed(self, connection: HttpConnection, request: Request, method: bytes) -> bool:
        if request.method == method:
            return True
        self._reply_error(connection, OPENAI, 405, f"Method {request.method.decode()} is not allowed on "
                                                   f"{request.path.decode(errors='replace')}; use {method.decode()}.",
                          headers=b"allow: %s\r\n" % method)
        return False

    # --- generation -----------------------------------------------------------------------------------------------

    def _generate(self, connection: HttpConnection, request: Request, dialect: Dialect, model: str | None,
                  stream: bool) -> None:
        try:
            if dialect is GEMINI:
                call = GEMINI.parse(request.body, model=model, query=request.query, stream=stream)
            else:
                call = dialect.parse(request.body)
        except BadRequest as exc:
            self._reply_error(connection, dialect, exc.status, exc.message, param=exc.param, code=exc.code)
            return
        tally = self.counters.model(call.model)
        tally.requests += 1
        fingerprint = zlib.crc32(request.body, self._seed)
        book = self.book
        answers = [book.answer(call.prompt, fingerprint + i) for i in range(call.choices)]
        limit = call.max_tokens
        spent = sum(a.completion_tokens if limit is None else min(limit, a.completion_tokens) for a in answers)
        tokens = call.prompt.prompt_tokens + spent
        limits = self.limits
        own = self.model_limits.get(call.model)
        budget = self._budget_exceeded(call.model, own, tokens)
        if budget is not None:
            self._reply_error(connection, dialect, 400,
                              f"Request too large: {tokens} tokens (prompt plus answer) exceed the whole token "
                              f"budget of {budget}; it can never be served.",
                              param="messages", code="request_too_large")
            return
        now = self.now()
        refused = self._refusal(call.model, own, tokens, now)
        if refused is not None:
            rejection, by_model, refusing = refused
            self.counters.rate_limited_by[rejection.reason] += 1
            tally.rate_limited_by[f"model_{rejection.reason}" if by_model else rejection.reason] += 1
            body, headers = self.personality.rejection(dialect, rejection, refusing, now)
            self._reply(connection, 429, JSON, body, headers)
            return
        outcome = self.dice.outcome()
        delay = self.dice.delay()
        if limits.queue is not None:  # vLLM: above the batch, wait for a slot instead of a 429
            done = limits.queue.book(now, None if outcome is Outcome.HANG else delay)
            if done is not None:
                delay = done - now
        if outcome is Outcome.ANSWER and delay <= 0.0:
            # Answered before any other request can run: it spends the budgets but never holds a slot.
            limits.spend(tokens, now)
            if own is not None:
                own.spend(tokens, now)
            self.counters.enter()
            self.counters.in_flight -= 1
            tally.enter()
            tally.in_flight -= 1
            self._deliver(connection, call, answers, dialect, tally, own)
            return
        due = None if outcome is Outcome.HANG else now + delay
        ticket = limits.admit(tokens, now, due)
        self.counters.enter()
        tally.enter()
        exchange = _Exchange(ticket, call, answers, dialect, outcome, tally,
                             None if own is None else (own, own.admit(tokens, now, due)))
        connection.exchange = exchange
        if outcome is Outcome.HANG:
            self.counters.faults["hang"] += 1
            return
        assert self._loop is not None
        exchange.timer = self._loop.call_later(delay, self._due, connection, exchange)

    def _budget_exceeded(self, name: str, own: Limits | None, tokens: int) -> str | None:
        """The whole token budget that ``tokens`` exceed (so that waiting can never help), or None."""
        if self.limits.too_large(tokens):
            return f"{self.settings.tpm} per minute (--tpm)"
        entry = self.settings.limits_for(name)
        if own is not None and own.too_large(tokens) and entry is not None:
            return f"{entry.tpm} per minute for model {name} (--model-limit)"
        return None

    def _refusal(self, name: str, own: Limits | None, tokens: int,
                 now: float) -> tuple[Rejection, bool, Limits] | None:
        """Why a request of model ``name`` is refused, whether by the model's own limits, and the refusing limits.

        When both the model's limits and the server's refuse, the longer wait is the honest one.
        """
        server = self.limits.check(tokens, now)
        mine = own.check(tokens, now) if own is not None else None
        if mine is not None and own is not None and (server is None or mine.wait >= server.wait):
            return Rejection(mine.reason, mine.wait, f"{mine.message} (limit of model {name})"), True, own
        if server is not None:
            return server, False, self.limits
        return None

    def _due(self, connection: HttpConnection, exchange: _Exchange) -> None:
        if connection.exchange is not exchange:
            return
        connection.exchange = None
        self._leave(exchange)
        outcome = exchange.outcome
        if outcome is Outcome.ANSWER:
            own = exchange.own
            self._deliver(connection, exchange.call, exchange.answers, exchange.dialect, exchange.model,
                          None if own is None else own[0])
        elif outcome is Outcome.RESET:
            self.counters.faults["reset"] += 1
            connection.reset()
        else:
            status = _FAULT_STATUS[outcome]
            self.counters.faults[outcome.value] += 1
            self._reply_error(connection, exchange.dialect, status, _FAULT_MESSAGES[status])

    def _deliver(self, connection: HttpConnection, call: Call, answers: list[Answer], dialect: Dialect,
                 model: ModelCounters, own: Limits | None) -> None:
        self._sequence += 1
        content_type, body = dialect.answer(call, answers, self._sequence)
        counters = self.counters
        limit = call.max_tokens
        completion = sum(a.completion_tokens if limit is None else min(limit, a.completion_tokens) for a in answers)
        counters.prompt_tokens += call.prompt.prompt_tokens
        counters.completion_tokens += completion
        model.served += 1
        model.prompt_tokens += call.prompt.prompt_tokens
        model.completion_tokens += completion
        personality = self.personality
        headers = b""
        if personality.reports:
            # Providers report the budgets of the model asked for: its own when it has any, else the server's.
            reported = own if own is not None and (own.requests is not None or own.tokens is not None) else self.limits
            headers = personality.answer_headers(reported, self.now())
        self._reply(connection, 200, content_type, body, headers)

    def _leave(self, exchange: _Exchange) -> None:
        ticket = exchange.ticket
        if not ticket.done:
            self.limits.in_flight.leave(ticket)
            self.counters.in_flight -= 1
            exchange.model.in_flight -= 1
            if exchange.own is not None:
                limits, own_ticket = exchange.own
                limits.in_flight.leave(own_ticket)

    # --- answers --------------------------------------------------------------------------------------------------

    def _reply(self, connection: HttpConnection, status: int, content_type: bytes, body: bytes,
               headers: bytes = b"") -> None:
        self.counters.count_status(status)
        connection.respond(status, content_type, body, headers)

    def _reply_error(self, connection: HttpConnection, dialect: Dialect, status: int, message: str, *,
                     reason: str | None = None, param: str | None = None, code: str | None = None,
                     headers: bytes = b"") -> None:
        self._reply(connection, status, JSON, dialect.error(status, message, reason=reason, param=param, code=code),
                    headers)

    def _control(self, connection: HttpConnection, request: Request) -> None:
        method = _CONTROL_ROUTES.get(request.path)
        if method is None:
            connection.respond(404, JSON, OPENAI.error(404, f"Invalid URL ({request.path.decode(errors='replace')})",
                                                       code="unknown_url"))
        elif request.method != method:
            connection.respond(405, JSON, OPENAI.error(405, f"Use {method.decode()} on {request.path.decode()}."),
                               b"allow: %s\r\n" % method)
        elif request.path == b"/sim/reset":
            self.counters.reset()
            connection.respond(200, JSON, _json.dumps(self.counters.snapshot().as_dict()))
        elif request.path == b"/sim/stats":
            connection.respond(200, JSON, _json.dumps(self.counters.snapshot().as_dict()))
        else:
            connection.respond(200, JSON, b'{"status":"ok"}')


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class Simulator:
    """The simulated provider, served on the running event loop.

    Use it as ``async with Simulator(settings) as sim:``; ``sim.base_url`` is the OpenAI-style base URL.

    Args:
        settings: How the provider behaves; the defaults answer at once and never fail.
        clock: Monotonic seconds for the limits and delays' bookkeeping; the event loop's clock when None.
    """

    def __init__(self, settings: SimulatorSettings | None = None, *, clock: Callable[[], float] | None = None) -> None:
        self.settings = settings if settings is not None else SimulatorSettings()
        self._engine = SimulatorEngine(self.settings, clock)
        self._server: asyncio.AbstractServer | None = None
        self._port: int | None = None
        self._sweeper: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        if self._server is None:
            return f"Simulator(stopped, settings={self.settings!r})"
        c = self._engine.counters
        return (f"Simulator(running at {self.root_url}, requests={c.requests}, in_flight={c.in_flight}, "
                f"connections={len(self._engine.connections)})")

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._port is None:
            raise RuntimeError("the simulator is not running; use `async with Simulator(...) as sim:`")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT`` (``https://`` with a certificate)."""
        return f"{self.settings.scheme}://{_url_host(self.settings.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``http://HOST:PORT/v1`` (DSPy's ``api_base``)."""
        return f"{self.root_url}/v1"

    @property
    def gemini_base_url(self) -> str:
        """The Gemini-style base URL, ``http://HOST:PORT/v1beta``."""
        return f"{self.root_url}/v1beta"

    async def start(self) -> Simulator:
        """Bind and start serving on the running event loop."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        loop = asyncio.get_running_loop()
        self._engine.bind(loop)
        engine = self._engine
        settings = self.settings
        bounds = HeadBounds(max_head_bytes=settings.max_head_bytes, max_url_bytes=settings.max_url_bytes)
        clock = engine.now
        context = _tls_context(settings)
        self._server = await loop.create_server(lambda: HttpConnection(engine, bounds, clock), settings.host,
                                                settings.port, backlog=LISTEN_BACKLOG, reuse_address=True,
                                                ssl=context)
        self._port = int(self._server.sockets[0].getsockname()[1])
        engine.batches.root_url = self.root_url
        if settings.idle_timeout is not None:
            self._sweeper = loop.create_task(self._sweep_idle(settings.idle_timeout))
        return self

    def close_idle_connections(self) -> int:
        """Close every keep-alive connection idle for ``idle_timeout`` or longer; return how many were closed.

        The server calls it on its own several times per ``idle_timeout``; tests with a fake clock call it directly.
        """
        timeout = self.settings.idle_timeout
        if timeout is None:
            return 0
        now = self._engine.now()
        idle = [c for c in self._engine.connections if c.idle_for(now) >= timeout]
        for connection in idle:
            connection.close()
        return len(idle)

    async def _sweep_idle(self, idle_timeout: float) -> None:
        # A quarter of the idle timeout between sweeps: a connection is closed at most 25% after its time is up.
        while True:
            await asyncio.sleep(idle_timeout / 4)
            self.close_idle_connections()

    async def stop(self) -> None:
        """Stop accepting, close every connection (hanging requests included) and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in list(self._engine.connections):
            connection.close()
        # Let the transports report their closing, so that timers are cancelled and counters settle.
        await asyncio.sleep(0)
        await server.wait_closed()

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    @property
    def batches(self) -> BatchDesk:
        """The batch APIs' desk: ``batches.stats()`` counts files, batches and lines."""
        return self._engine.batches

    def stats(self) -> SimulatorStats:
        """A snapshot of the counters (the same as ``GET /sim/stats``)."""
        return self._engine.counters.snapshot()

    def reset(self) -> None:
        """Zero the counters (the same as ``POST /sim/reset``)."""
        self._engine.counters.reset()


__all__ = ["ADVERTISED_MODELS", "Simulator", "SimulatorEngine"]
