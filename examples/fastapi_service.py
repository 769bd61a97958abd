"""A FastAPI service whose request handlers call one shared LM, served by uvicorn on uvloop.

The shared-LM pattern in a web server: the process has one shared LM (one connection pool, one in-flight cap,
one set of rate budgets), and the program is a :class:`sharedlm.SharedLMModule` built once, at startup, in the
app's lifespan. Every request handler awaits the program on uvicorn's event loop, so a thousand requests at
once become at most ``max_parallel_requests`` calls to the provider, the rest waiting their turn::

    export SHAREDLM_MODEL=gemini/gemini-2.5-flash GEMINI_API_KEY=... SHAREDLM_MAX_PARALLEL_REQUESTS=64
    python examples/fastapi_service.py                      # or: uvicorn fastapi_service:app --loop uvloop
    curl -s localhost:8000/ask -H 'content-type: application/json' -d '{"id": "1", "question": "Why is the sky blue?"}'

A call that fails after the engine's retries answers 503 (the provider is overloaded or unreachable) or 502 (it
refused the request), with the error's type and message; sharedlm's messages never hold the API key.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import dspy
import uvicorn
from dspy.utils.exceptions import LMError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import sharedlm


class Answer(dspy.Signature):
    """Answer the question in one or two sentences."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


class QuestionAnswering(sharedlm.SharedLMModule):
    """The service's program: every predictor it holds uses the shared LM it was built with."""

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.answer = dspy.Predict(Answer)

    async def aforward(self, question: str) -> dspy.Prediction:
        return await self.answer.acall(question=question)


class AskRequest(BaseModel):
    id: str
    question: str


class AskResponse(BaseModel):
    id: str
    answer: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Built once for the whole process: one program over the one shared LM, never one per request.
    app.state.program = QuestionAnswering(shared_lm=sharedlm.get_shared_lm())
    yield


app = FastAPI(title="sharedlm example service", lifespan=lifespan)


@app.post("/ask")
async def ask(body: AskRequest, request: Request) -> AskResponse:
    """Answer one question through the shared LM."""
    prediction = await request.app.state.program.acall(question=body.question)
    return AskResponse(id=body.id, answer=prediction.answer)


@app.get("/health")
async def health() -> dict[str, Any]:
    """Liveness, the event loop serving requests, and the shared LM's counters (calls, in flight, queued)."""
    loop = asyncio.get_running_loop()
    return {"status": "ok", "event_loop": f"{type(loop).__module__}.{type(loop).__qualname__}",
            "shared_lm": sharedlm.stats().as_dict()}


@app.exception_handler(LMError)
async def lm_failed(request: Request, exc: LMError) -> JSONResponse:
    """A call that failed for good: 503 when the provider was overloaded or unreachable, 502 when it refused."""
    cause = sharedlm.sharedlm_cause(exc) or exc
    overloaded = isinstance(cause, sharedlm.RetryableError | sharedlm.RetriesExhaustedError | sharedlm.PoolTimeoutError)
    return JSONResponse(status_code=503 if overloaded else 502,
                        content={"error": type(cause).__name__, "message": str(cause)})


def main() -> None:
    """Serve the app with uvicorn on uvloop (``HOST``/``PORT`` from the environment, 127.0.0.1:8000 by default)."""
    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000")),
                loop="uvloop")


if __name__ == "__main__":
    main()
