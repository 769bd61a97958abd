"""The three batch APIs on the wire: OpenAI Files + Batches, Anthropic Message Batches, Gemini batch jobs.

:class:`BatchDesk` answers the batch routes for the simulator's engine; the jobs themselves live in
:class:`~sharedlm.simulator._batch_store.BatchStore`. Every line is answered by the same machinery as an online
request (:class:`~sharedlm.simulator._answers.AnswerBook` through the provider's dialect), so a DSPy program parses
a batch answer exactly as it parses an online one.

Routes (shapes after the providers' API references):

- OpenAI: ``POST /v1/files`` (multipart, ``purpose=batch``), ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``,
  ``POST /v1/batches``, ``GET /v1/batches`` (newest first, ``limit``), ``GET /v1/batches/{id}``,
  ``POST /v1/batches/{id}/cancel``. Only the
  ``/v1/chat/completions`` endpoint is simulated. Output and error files are JSONL of
  ``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``.
- Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}``, ``GET .../{id}/results`` (JSONL of
  ``{"custom_id", "result": {"type": "succeeded" | "errored" | "canceled" | "expired", ...}}``),
  ``POST .../{id}/cancel``, ``GET /v1/messages/batches`` (newest first; ``limit``, ``after_id``, ``before_id``;
  ``{"data", "has_more", "first_id", "last_id"}``).
- Gemini: ``POST /v1beta/models/{model}:batchGenerateContent`` with inline requests
  (``batch.inputConfig.requests.requests[] = {request, metadata.key}``), ``GET /v1beta/batches/{id}`` (the
  operation, with ``response.inlinedResponses.inlinedResponses[]`` once done), ``GET /v1beta/batches`` (newest
  first, ``pageSize``), ``POST /v1beta/batches/{id}:cancel``.
  File input is not simulated (a clear 400).
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
import zlib
from collections.abc import Callable
from typing import Any

import sharedlm.simulator._json as _json
from sharedlm.simulator._answers import AnswerBook
from sharedlm.simulator._batch_store import (
    CANCELED,
    CANCELLED,
    COMPLETED,
    ERRORED,
    EXPIRED,
    FAILED,
    JOB_EXPIRED,
    SUCCEEDED,
    BatchSettings,
    BatchStore,
    Job,
    Line,
    LineResult,
)
from sharedlm.simulator._http import HttpConnection, Request
from sharedlm.simulator._wire import ANTHROPIC, GEMINI, JSON, OPENAI, BadRequest, Dialect

OPENAI_API = "openai"
ANTHROPIC_API = "anthropic"
GEMINI_API = "gemini"
_DIALECTS: dict[str, Dialect] = {OPENAI_API: OPENAI, ANTHROPIC_API: ANTHROPIC, GEMINI_API: GEMINI}
_JSONL = b"application/binary"
_OCTETS = b"application/octet-stream"
# The providers' per-batch request limits (OpenAI 50,000 per file; Anthropic 100,000 per batch).
OPENAI_MAX_LINES = 50_000
ANTHROPIC_MAX_LINES = 100_000
# The largest page of Anthropic's batch listing.
ANTHROPIC_MAX_LIST = 1000
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_OPENAI_ENDPOINT = "/v1/chat/completions"
_GEMINI_BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
_GEMINI_OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
_GEMINI_STATES = {None: "BATCH_STATE_RUNNING", COMPLETED: "BATCH_STATE_SUCCEEDED", FAILED: "BATCH_STATE_FAILED",
                  CANCELLED: "BATCH_STATE_CANCELLED", JOB_EXPIRED: "BATCH_STATE_EXPIRED"}
_WHOLE_FAILURE = "The batch failed (simulated): no line was processed. Submit its requests again."
_LINE_FAILURE = "The server had an error while processing your request. Sorry about that!"
_EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."
_CANCELLED_MESSAGE = "This request was not executed because the batch was cancelled."


def _rfc3339(epoch: int | None) -> str | None:
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _multipart(body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data body: name -> (filename, content). The boundary is the first line."""
    first, _, _ = body.partition(b"\r\n")
    if not first.startswith(b"--") or len(first) < 3:
        raise BadRequest("Expected a multipart/form-data body with 'purpose' and 'file'.")
    parts: dict[str, tuple[str | None, bytes]] = {}
    for chunk in body.split(first)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", errors="replace")
        name = re.search(r'name="([^"]*)"', disposition)
        if name is None:
            continue
        filename = re.search(r'filename="([^"]*)"', disposition)
        parts[name.group(1)] = (filename.group(1) if filename else None, content.removesuffix(b"\r\n"))
    return parts


class BatchDesk:
    """Answers the batch routes of all three APIs.

    Args:
        settings: Turnaround and dice of the batch jobs.
        book: The simulator's answer book (the same answers as online requests).
        seed: The simulator's seed, for the answers' variants.
        clock: The simulator's monotonic clock; jobs are due after ``settings.turnaround`` on it.
    """

    def __init__(self, settings: BatchSettings, *, book: AnswerBook, seed: int, clock: Callable[[], float]) -> None:
        self.book = book
        self.seed = seed & 0xFFFFFFFF
        self.store = BatchStore(settings, self._answer_line, clock, self.seed)
        # Where Anthropic's results_url points; the server sets it once it is bound.
        self.root_url = "http://127.0.0.1"
        self._sequence = 0
        self._waiters: list[asyncio.Event] = []

    def __repr__(self) -> str:
        return f"BatchDesk({self.store!r})"

    @staticmethod
    def handles(path: bytes) -> bool:
        """Whether ``path`` is one of the batch routes (cheap: called for every data-plane request)."""
        return b"batch" in path or path.startswith(b"/v1/files")

    def stats(self) -> dict[str, int]:
        """The batch counters."""
        return self.store.counters.as_dict()

    async def wait_until(self, condition: Callable[[dict[str, int]], bool]) -> dict[str, int]:
        """Return the counters once ``condition(counters)`` holds, checked after every batch request; await it on
        the simulator's own loop (a test that serves the simulator in-process waits for a client's step this way,
        without sleeping)."""
        while not condition(stats := self.stats()):
            event = asyncio.Event()
            self._waiters.append(event)
            await event.wait()
        return stats

    # --- answers ----------------------------------------------------------------------------------------------

    def _answer_line(self, api: str, body: bytes, model: str | None) -> tuple[int, dict[str, Any]]:
        dialect = _DIALECTS[api]
        try:
            call = GEMINI.parse(body, model=model) if dialect is GEMINI else dialect.parse(body)
            if call.stream:
                raise BadRequest("Streaming is not supported in a batch request; drop 'stream'.", param="stream")
        except BadRequest as exc:
            return exc.status, _json.loads(dialect.error(exc.status, exc.message, param=exc.param, code=exc.code))
        fingerprint = zlib.crc32(body, self.seed)
        answers = [self.book.answer(call.prompt, fingerprint + i) for i in range(call.choices)]
        self._sequence += 1
        _content_type, answer = dialect.answer(call, answers, self._sequence)
        return 200, _json.loads(answer)

    # --- routing ----------------------------------------------------------------------------------------------

    def handle(self, connection: HttpConnection, request: Request) -> None:
        """Answer one batch request."""
        try:
            self._route(connection, request)
        finally:
            waiters, self._waiters = self._waiters, []
            for event in waiters:
                event.set()

    def _route(self, connection: HttpConnection, request: Request) -> None:
        path = urllib.parse.unquote(request.path.decode(errors="replace"))
        method = request.method
        parts = path.strip("/").split("/")
        try:
            if path.startswith("/v1/messages/batches"):
                self._anthropic(connection, request, method, parts[3:])
            elif path.startswith("/v1beta/"):
                self._gemini(connection, request, method, parts[1:])
            elif path.startswith("/v1/files"):
                self._openai_files(connection, request, method, parts[2:])
            elif path.startswith("/v1/batches"):
                self._openai_batches(connection, request, method, parts[2:])
            else:
                raise BadRequest(f"Invalid URL ({method.decode()} {path})", status=404, code="unknown_url")
        except BadRequest as exc:
            dialect = ANTHROPIC if path.startswith("/v1/messages") else GEMINI if path.startswith("/v1beta") \
                else OPENAI
            connection.respond(exc.status, JSON, dialect.error(exc.status, exc.message, param=exc.param,
                                                               code=exc.code))

    @staticmethod
    def _route_error(method: bytes, where: str) -> BadRequest:
        return BadRequest(f"Invalid URL ({method.decode()} {where})", status=404, code="unknown_url")

    def _listed(self, api: str, query: bytes, size_name: bytes) -> list[Job]:
        """The newest jobs of ``api`` first, as many as the query's page size asks (20 by default, 100 at most)."""
        size = 20
        for name, value in urllib.parse.parse_qsl(query.decode(errors="replace")):
            if name == size_name.decode() and value.isdigit():
                size = max(1, min(100, int(value)))
        jobs = [j for j in reversed(self.store.jobs.values()) if j.api == api][:size]
        for job in jobs:
            self.store.get(job.id)  # settle the due ones, as a provider's list shows current states
        return jobs

    def _retrieved(self, job_id: str, api: str) -> Job:
        """A look at one job (a client's poll), counted."""
        job = self._job(job_id, api)
        self.store.counters.batches_retrieved += 1
        return job

    def _job(self, job_id: str, api: str) -> Job:
        job = self.store.get(job_id)
        if job is None or job.api != api:
            raise BadRequest(f"No batch found with id '{job_id}'.", status=404, code="not_found")
        return job

    # --- OpenAI -----------------------------------------------------------------------------------------------

    def _openai_files(self, connection: HttpConnection, request: Request, method: bytes, rest: list[str]) -> None:
        store = self.store
        if not rest and method == b"POST":
            parts = _multipart(request.body)
            purpose = parts.get("purpose", (None, b""))[1].decode(errors="replace")
            if "file" not in parts or not purpose:
                raise BadRequest("Missing required parameter: 'file' and 'purpose' are required.",
                                 param="file", code="missing_required_parameter")
            filename, data = parts["file"]
            stored = store.add_file(filename or "upload.jsonl", purpose, data)
            connection.respond(200, JSON, _json.dumps(self._file_object(stored.id)))
            return
        if rest and rest[0] not in store.files:
            raise BadRequest(f"No such File object: {rest[0]}", status=404, param="id")
        if len(rest) == 1 and method == b"GET":
            connection.respond(200, JSON, _json.dumps(self._file_object(rest[0])))
        elif len(rest) == 2 and rest[1] == "content" and method == b"GET":
            self.store.counters.results_fetched += 1
            connection.respond(200, _OCTETS, store.files[rest[0]].data)
        else:
            raise self._route_error(method, "/v1/files/" + "/".join(rest))

    def _file_object(self, file_id: str) -> dict[str, Any]:
        stored = self.store.files[file_id]
        return {"id": stored.id, "object": "file", "bytes": len(stored.data), "created_at": stored.created_at,
                "filename": stored.filename, "purpose": stored.purpose, "status": "processed",
                "status_details": None, "expires_at": None}

    def _openai_batches(self, connection: HttpConnection, request: Request, method: bytes, rest: list[str]) -> None:
        if not rest and method == b"GET":
            jobs = self._listed(OPENAI_API, request.query, b"limit")
            data = [self._openai_object(job) for job in jobs]
            connection.respond(200, JSON, _json.dumps({"object": "list", "data": data, "has_more": False,
                                                       "first_id": data[0]["id"] if data else None,
                                                       "last_id": data[-1]["id"] if data else None}))
            return
        if not rest and method == b"POST":
            job = self._openai_create(request.body)
        elif len(rest) == 1 and method == b"GET":
            job = self._retrieved(rest[0], OPENAI_API)
        elif len(rest) == 2 and rest[1] == "cancel" and method == b"POST":
            job = self._job(rest[0], OPENAI_API)
            self.store.cancel(job)
        else:
            raise self._route_error(method, "/v1/batches/" + "/".join(rest))
        connection.respond(200, JSON, _json.dumps(self._openai_object(job)))

    def _openai_create(self, body: bytes) -> Job:
        data = _object_of(body)
        file_id = data.get("input_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise BadRequest("Missing required parameter: 'input_file_id'.", param="input_file_id",
                             code="missing_required_parameter")
        stored = self.store.files.get(file_id)
        if stored is None:
            raise BadRequest(f"No such File object: {file_id}", status=404, param="input_file_id")
        endpoint = data.get("endpoint")
        if endpoint != _OPENAI_ENDPOINT:
            raise BadRequest(f"Invalid 'endpoint': the simulator batches {_OPENAI_ENDPOINT} only, got {endpoint!r}.",
                             param="endpoint", code="invalid_value")
        if data.get("completion_window") != "24h":
            raise BadRequest("Invalid 'completion_window': expected '24h'.", param="completion_window",
                             code="invalid_value")
        lines, errors = _openai_lines(stored.data)
        meta = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h",
                "metadata": data.get("metadata"), "errors": errors}
        job = self.store.create(OPENAI_API, "batch_sim", [] if errors else lines, meta)
        if errors:
            self.store.reject(job)
        return job

    def _openai_object(self, job: Job) -> dict[str, Any]:
        meta = job.meta
        end = job.end
        if end is not None and end != FAILED and "output_file_id" not in meta:
            self._openai_files_of(job)
        failed = job.count(ERRORED) + job.count(EXPIRED) + job.count(CANCELED)
        status = "in_progress" if end is None else end
        errors = meta.get("errors") or ([{"code": "batch_failed", "message": _WHOLE_FAILURE, "param": None,
                                          "line": None}] if end == FAILED else None)
        return {
            "id": job.id, "object": "batch", "endpoint": meta["endpoint"],
            "errors": {"object": "list", "data": errors} if errors else None,
            "input_file_id": meta["input_file_id"], "completion_window": meta["completion_window"],
            "status": status, "output_file_id": meta.get("output_file_id"),
            "error_file_id": meta.get("error_file_id"), "created_at": job.created_at,
            "in_progress_at": job.created_at, "expires_at": job.created_at + 86400,
            "finalizing_at": job.ended_at if end == COMPLETED else None,
            "completed_at": job.ended_at if end == COMPLETED else None,
            "failed_at": job.ended_at if end == FAILED else None,
            "expired_at": job.ended_at if end == JOB_EXPIRED else None,
            "cancelling_at": job.cancel_requested_at, "cancelled_at": job.ended_at if end == CANCELLED else None,
            "request_counts": {"total": len(job.lines), "completed": job.count(SUCCEEDED), "failed": failed},
            "metadata": meta.get("metadata"),
        }

    def _openai_files_of(self, job: Job) -> None:
        output: list[bytes] = []
        errors: list[bytes] = []
        for n, result in enumerate(job.results):
            line: dict[str, Any] = {"id": f"batch_req_{job.id}_{n}", "custom_id": result.custom_id}
            if result.outcome in (SUCCEEDED, ERRORED):
                body = result.body if result.outcome == SUCCEEDED or result.body else _json.loads(
                    OPENAI.error(result.status, _LINE_FAILURE))
                line["response"] = {"status_code": result.status, "request_id": f"req_sim_{job.id}_{n}",
                                    "body": body}
                line["error"] = None
            else:
                code, message = (("batch_expired", _EXPIRED_MESSAGE) if result.outcome == EXPIRED
                                 else ("batch_cancelled", _CANCELLED_MESSAGE))
                line["response"] = None
                line["error"] = {"code": code, "message": message}
            (output if result.outcome == SUCCEEDED else errors).append(_json.dumps(line))
        store = self.store
        job.meta["output_file_id"] = store.add_file(f"{job.id}_output.jsonl", "batch_output",
                                                    b"".join(x + b"\n" for x in output), uploaded=False).id \
            if output else None
        job.meta["error_file_id"] = store.add_file(f"{job.id}_error.jsonl", "batch_output",
                                                   b"".join(x + b"\n" for x in errors), uploaded=False).id \
            if errors else None

    # --- Anthropic --------------------------------------------------------------------------------------------

    def _anthropic(self, connection: HttpConnection, request: Request, method: bytes, rest: list[str]) -> None:
        if not rest and method == b"GET":
            connection.respond(200, JSON, _json.dumps(self._anthropic_list(request.query)))
            return
        if not rest and method == b"POST":
            job = self._anthropic_create(request.body)
        elif len(rest) == 1 and method == b"GET":
            job = self._retrieved(rest[0], ANTHROPIC_API)
        elif len(rest) == 2 and rest[1] == "cancel" and method == b"POST":
            job = self._job(rest[0], ANTHROPIC_API)
            self.store.cancel(job)
        elif len(rest) == 2 and rest[1] == "results" and method == b"GET":
            job = self._job(rest[0], ANTHROPIC_API)
            if not job.ended:
                raise BadRequest(f"Message Batch {job.id} has not yet ended; poll it until processing_status is "
                                 "'ended'.")
            self.store.counters.results_fetched += 1
            connection.respond(200, _JSONL, b"".join(_json.dumps(self._anthropic_result(r, job)) + b"\n"
                                                     for r in self._anthropic_results(job)))
            return
        else:
            raise self._route_error(method, "/v1/messages/batches/" + "/".join(rest))
        connection.respond(200, JSON, _json.dumps(self._anthropic_object(job)))

    def _anthropic_list(self, query: bytes) -> dict[str, Any]:
        """One page of Message Batches, newest first: ``limit`` (1 to 1000, default 20), ``after_id`` (the page
        after that batch, older) or ``before_id`` (the page before it, newer)."""
        params = dict(urllib.parse.parse_qsl(query.decode(errors="replace")))
        raw_limit = params.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= ANTHROPIC_MAX_LIST:
            raise BadRequest(f"limit: Input should be between 1 and {ANTHROPIC_MAX_LIST}", param="limit")
        limit = int(raw_limit)
        jobs = [j for j in reversed(self.store.jobs.values()) if j.api == ANTHROPIC_API]
        ids = [j.id for j in jobs]
        after, before = params.get("after_id"), params.get("before_id")
        for cursor in (after, before):
            if cursor is not None and cursor not in ids:
                raise BadRequest(f"No batch found with id '{cursor}'.", status=404, code="not_found")
        if after is not None:
            jobs = jobs[ids.index(after) + 1:]
            page, more = jobs[:limit], len(jobs) > limit
        elif before is not None:
            jobs = jobs[:ids.index(before)]
            page, more = jobs[-limit:], len(jobs) > limit
        else:
            page, more = jobs[:limit], len(jobs) > limit
        data = [self._anthropic_object(self.store.get(job.id) or job) for job in page]
        return {"data": data, "has_more": more, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None}

    def _anthropic_create(self, body: bytes) -> Job:
        requests = _object_of(body).get("requests")
        if not isinstance(requests, list) or not requests:
            raise BadRequest("requests: Field required (a non-empty array of {custom_id, params})", param="requests")
        if len(requests) > ANTHROPIC_MAX_LINES:
            raise BadRequest(f"requests: at most {ANTHROPIC_MAX_LINES} requests per batch", param="requests")
        lines: list[Line] = []
        seen: set[str] = set()
        for index, item in enumerate(requests):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            params = item.get("params") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
                raise BadRequest(f"requests.{index}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'",
                                 param=f"requests.{index}.custom_id")
            if custom_id in seen:
                raise BadRequest(f"requests.{index}.custom_id: duplicate custom_id {custom_id!r}; each must be "
                                 "unique within the batch", param=f"requests.{index}.custom_id")
            if not isinstance(params, dict):
                raise BadRequest(f"requests.{index}.params: Field required", param=f"requests.{index}.params")
            seen.add(custom_id)
            lines.append(Line(custom_id, _json.dumps(params)))
        return self.store.create(ANTHROPIC_API, "msgbatch_sim", lines, {})

    def _anthropic_results(self, job: Job) -> list[LineResult]:
        if job.end == FAILED:  # Anthropic has no failed batch: every line errors instead
            return [LineResult(line.custom_id, ERRORED, 500, {}) for line in job.lines]
        return job.results

    @staticmethod
    def _anthropic_result(result: LineResult, job: Job) -> dict[str, Any]:
        outcome = result.outcome
        if outcome == SUCCEEDED:
            inner: dict[str, Any] = {"type": SUCCEEDED, "message": result.body}
        elif outcome == ERRORED:
            error = result.body or _json.loads(ANTHROPIC.error(result.status or 500, _LINE_FAILURE))
            inner = {"type": ERRORED, "error": error}
        else:
            inner = {"type": outcome}
        return {"custom_id": result.custom_id, "result": inner}

    def _anthropic_object(self, job: Job) -> dict[str, Any]:
        results = self._anthropic_results(job) if job.ended else []
        counts = {"processing": 0 if job.ended else len(job.lines), "succeeded": 0, "errored": 0, "canceled": 0,
                  "expired": 0}
        for result in results:
            counts[result.outcome] += 1
        return {
            "id": job.id, "type": "message_batch", "processing_status": "ended" if job.ended else "in_progress",
            "request_counts": counts, "ended_at": _rfc3339(job.ended_at), "created_at": _rfc3339(job.created_at),
            "expires_at": _rfc3339(job.created_at + 86400), "archived_at": None,
            "cancel_initiated_at": _rfc3339(job.cancel_requested_at),
            "results_url": f"{self.root_url}/v1/messages/batches/{job.id}/results" if job.ended else None,
        }

    # --- Gemini -----------------------------------------------------------------------------------------------

    def _gemini(self, connection: HttpConnection, request: Request, method: bytes, rest: list[str]) -> None:
        tail = "/".join(rest)
        if tail == "batches" and method == b"GET":
            operations = [self._gemini_operation(job) for job in self._listed(GEMINI_API, request.query, b"pageSize")]
            connection.respond(200, JSON, _json.dumps({"operations": operations}))
            return
        if tail.startswith("models/") and tail.endswith(":batchGenerateContent") and method == b"POST":
            job = self._gemini_create(tail[len("models/"):-len(":batchGenerateContent")], request.body)
        elif len(rest) == 2 and rest[0] == "batches" and method == b"GET":
            job = self._retrieved(rest[1], GEMINI_API)
        elif len(rest) == 2 and rest[0] == "batches" and rest[1].endswith(":cancel") and method == b"POST":
            job = self._job(rest[1].removesuffix(":cancel"), GEMINI_API)
            self.store.cancel(job)
            connection.respond(200, JSON, b"{}")
            return
        else:
            raise self._route_error(method, "/v1beta/" + tail)
        connection.respond(200, JSON, _json.dumps(self._gemini_operation(job)))

    def _gemini_create(self, model: str, body: bytes) -> Job:
        batch = _object_of(body).get("batch")
        if not isinstance(batch, dict):
            raise BadRequest("* BatchGenerateContentRequest.batch: batch is not specified", param="batch")
        config = batch.get("inputConfig", batch.get("input_config"))
        if not isinstance(config, dict):
            raise BadRequest("* GenerateContentBatch.input_config: input_config is not specified",
                             param="batch.inputConfig")
        if "fileName" in config or "file_name" in config:
            raise BadRequest("The simulator accepts inline requests only (batch.inputConfig.requests); file input "
                             "is not simulated.", param="batch.inputConfig.fileName")
        holder = config.get("requests")
        items = holder.get("requests") if isinstance(holder, dict) else None
        if not isinstance(items, list) or not items:
            raise BadRequest("* InlinedRequests.requests: requests is not specified",
                             param="batch.inputConfig.requests.requests")
        lines = []
        for index, item in enumerate(items):
            inner = item.get("request") if isinstance(item, dict) else None
            if not isinstance(inner, dict):
                raise BadRequest(f"* InlinedRequest[{index}].request: request is not specified",
                                 param=f"batch.inputConfig.requests.requests[{index}].request")
            metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            key = metadata.get("key")
            lines.append(Line(str(key) if key is not None else str(index), _json.dumps(inner), model))
        display = batch.get("displayName", batch.get("display_name")) or "sharedlm-sim"
        return self.store.create(GEMINI_API, "sim", lines, {"model": model, "displayName": display})

    def _gemini_operation(self, job: Job) -> dict[str, Any]:
        name = f"batches/{job.id}"
        stats = {"requestCount": str(len(job.lines)), "successfulRequestCount": str(job.count(SUCCEEDED)),
                 "failedRequestCount": str(job.count(ERRORED)),
                 "pendingRequestCount": str(0 if job.ended else len(job.lines))}
        metadata = {"@type": _GEMINI_BATCH_TYPE, "model": f"models/{job.meta['model']}",
                    "displayName": job.meta["displayName"], "createTime": _rfc3339(job.created_at),
                    "updateTime": _rfc3339(job.ended_at or job.created_at), "batchStats": stats,
                    "state": _GEMINI_STATES[job.end], "name": name}
        if job.ended_at is not None:
            metadata["endTime"] = _rfc3339(job.ended_at)
        operation: dict[str, Any] = {"name": name, "metadata": metadata, "done": job.ended}
        if job.end == COMPLETED:
            operation["response"] = {"@type": _GEMINI_OUTPUT_TYPE, "inlinedResponses": {"inlinedResponses": [
                self._gemini_inlined(r) for r in job.results]}}
        elif job.end == FAILED:
            operation["error"] = {"code": 13, "message": _WHOLE_FAILURE}
        elif job.end == JOB_EXPIRED:
            operation["error"] = {"code": 4, "message": "The batch expired before it was processed (48 h)."}
        return operation

    @staticmethod
    def _gemini_inlined(result: LineResult) -> dict[str, Any]:
        item: dict[str, Any] = {"metadata": {"key": result.custom_id}}
        if result.outcome == SUCCEEDED:
            item["response"] = result.body
        else:
            status = result.status or 500
            message = (result.body.get("error") or {}).get("message") if result.body else _LINE_FAILURE
            item["error"] = {"code": status, "message": message or _LINE_FAILURE,
                             "status": _json.loads(GEMINI.error(status, ""))["error"]["status"]}
        return item


def _object_of(body: bytes) -> dict[str, Any]:
    try:
        data = _json.loads(body)
    except ValueError:
        raise BadRequest("We could not parse the JSON body of your request.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def _openai_lines(data: bytes) -> tuple[list[Line], list[dict[str, Any]]]:
    """The lines of an OpenAI batch input file, or the validation errors that fail the batch."""
    lines: list[Line] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = _json.loads(raw)
        except ValueError:
            item = None
        if not isinstance(item, dict) or not isinstance(item.get("body"), dict):
            errors.append({"code": "invalid_json_line", "message": "This line is not a JSON object with a 'body'.",
                           "param": None, "line": number})
            continue
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id or custom_id in seen:
            errors.append({"code": "duplicate_custom_id" if custom_id in seen else "missing_required_parameter",
                           "message": "Each line needs a unique 'custom_id'.", "param": "custom_id", "line": number})
            continue
        if item.get("method") != "POST" or item.get("url") != _OPENAI_ENDPOINT:
            errors.append({"code": "invalid_url", "message": f"Each line must POST to {_OPENAI_ENDPOINT}.",
                           "param": "url", "line": number})
            continue
        seen.add(custom_id)
        model = item["body"].get("model")
        if isinstance(model, str):
            models.add(model)
        lines.append(Line(custom_id, _json.dumps(item["body"])))
    if len(models) > 1:
        errors.append({"code": "mismatched_model", "message": "A batch input file must name one model; found "
                       f"{', '.join(sorted(models))}.", "param": "model", "line": None})
    if len(lines) > OPENAI_MAX_LINES:
        errors.append({"code": "too_many_requests", "message": f"At most {OPENAI_MAX_LINES} requests per batch.",
                       "param": None, "line": None})
    if not lines and not errors:
        errors.append({"code": "empty_file", "message": "The input file has no requests.", "param": None,
                       "line": None})
    return lines, errors


__all__ = ["ANTHROPIC_MAX_LINES", "ANTHROPIC_MAX_LIST", "OPENAI_MAX_LINES", "BatchDesk"]
