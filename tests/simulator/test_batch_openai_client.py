"""The official ``openai`` client's Files and Batches against the simulator's OpenAI batch API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import openai
import pytest

from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._batch_store import BatchSettings

SYSTEM = ("Your input fields are:\n1. `question` (str):\nYour output fields are:\n1. `answer` (str):\n"
          "All interactions will be structured in the following way, with the appropriate values filled in.\n\n"
          "[[ ## question ## ]]\n{question}\n\n[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]")


def _line(custom_id: str, question: str = "Why?", model: str = "sim-model") -> dict[str, object]:
    body = {"model": model, "messages": [{"role": "system", "content": SYSTEM},
                                          {"role": "user", "content": f"[[ ## question ## ]]\n{question}"}]}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def _jsonl(*lines: dict[str, object]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client() -> AsyncIterator[openai.AsyncOpenAI]:
    async with Simulator() as sim, openai.AsyncOpenAI(base_url=sim.base_url, api_key="test-key") as oa:
        yield oa


async def _submit(oa: openai.AsyncOpenAI, data: bytes) -> str:
    uploaded = await oa.files.create(file=("in.jsonl", data), purpose="batch")
    batch = await oa.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                    completion_window="24h")
    return batch.id


async def test_files_create_returns_a_batch_file(client: openai.AsyncOpenAI) -> None:
    uploaded = await client.files.create(file=("in.jsonl", _jsonl(_line("a"))), purpose="batch")
    assert uploaded.id.startswith("file-")
    assert uploaded.purpose == "batch"
    assert uploaded.bytes > 0


async def test_completed_batch_output_answers_each_custom_id_in_dspy_format(client: openai.AsyncOpenAI) -> None:
    batch = await client.batches.retrieve(await _submit(client, _jsonl(_line("a"), _line("b", "How?"))))
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (2, 2)
    assert batch.output_file_id is not None
    assert batch.error_file_id is None
    content = await client.files.content(batch.output_file_id)
    lines = [json.loads(x) for x in content.text.splitlines()]
    assert sorted(x["custom_id"] for x in lines) == ["a", "b"]
    answer = lines[0]["response"]["body"]["choices"][0]["message"]["content"]
    assert lines[0]["response"]["status_code"] == 200
    assert "[[ ## answer ## ]]" in answer


async def test_batch_stays_in_progress_until_its_turnaround_passes() -> None:
    clock = Clock()
    async with Simulator(SimulatorSettings(batch=BatchSettings(turnaround=60)), clock=clock) as sim, \
            openai.AsyncOpenAI(base_url=sim.base_url, api_key="k") as oa:
        batch_id = await _submit(oa, _jsonl(_line("a")))
        clock.now += 59
        assert (await oa.batches.retrieve(batch_id)).status == "in_progress"
        clock.now += 1
        assert (await oa.batches.retrieve(batch_id)).status == "completed"


async def test_failed_lines_go_to_the_error_file_with_a_500() -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_failure_rate=1.0))) as sim, \
            openai.AsyncOpenAI(base_url=sim.base_url, api_key="k") as oa:
        batch = await oa.batches.retrieve(await _submit(oa, _jsonl(_line("a"))))
        assert batch.output_file_id is None
        assert batch.error_file_id is not None
        line = json.loads((await oa.files.content(batch.error_file_id)).text)
    assert line["custom_id"] == "a"
    assert line["response"]["status_code"] == 500


async def test_expired_lines_end_the_batch_expired_with_batch_expired_errors() -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_expiry_rate=1.0))) as sim, \
            openai.AsyncOpenAI(base_url=sim.base_url, api_key="k") as oa:
        batch = await oa.batches.retrieve(await _submit(oa, _jsonl(_line("a"))))
        assert batch.status == "expired"
        assert batch.error_file_id is not None
        line = json.loads((await oa.files.content(batch.error_file_id)).text)
    assert line["response"] is None
    assert line["error"]["code"] == "batch_expired"


async def test_a_whole_batch_failure_has_no_output_and_names_the_error() -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(fail_first_batches=1))) as sim, \
            openai.AsyncOpenAI(base_url=sim.base_url, api_key="k") as oa:
        batch = await oa.batches.retrieve(await _submit(oa, _jsonl(_line("a"))))
        again = await oa.batches.retrieve(await _submit(oa, _jsonl(_line("a"))))
    assert batch.status == "failed"
    assert batch.output_file_id is None
    assert batch.errors is not None
    assert again.status == "completed"


async def test_duplicate_custom_ids_fail_validation(client: openai.AsyncOpenAI) -> None:
    batch = await client.batches.retrieve(await _submit(client, _jsonl(_line("a"), _line("a"))))
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data
    assert batch.errors.data[0].code == "duplicate_custom_id"
    assert batch.errors.data[0].line == 2


async def test_two_models_in_one_file_fail_validation(client: openai.AsyncOpenAI) -> None:
    batch = await client.batches.retrieve(await _submit(client, _jsonl(_line("a"), _line("b", model="other"))))
    assert batch.status == "failed"
    assert batch.errors is not None
    assert any(e.code == "mismatched_model" for e in batch.errors.data or [])


async def test_cancel_ends_the_batch_cancelled_without_answers() -> None:
    clock = Clock()
    async with Simulator(SimulatorSettings(batch=BatchSettings(turnaround=60)), clock=clock) as sim, \
            openai.AsyncOpenAI(base_url=sim.base_url, api_key="k") as oa:
        batch_id = await _submit(oa, _jsonl(_line("a")))
        cancelled = await oa.batches.cancel(batch_id)
        assert sim.batches.stats()["lines_succeeded"] == 0
    assert cancelled.status == "cancelled"
    assert cancelled.request_counts is not None
    assert cancelled.request_counts.completed == 0


async def test_an_unknown_input_file_is_a_404(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await client.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions",
                                    completion_window="24h")


async def test_an_endpoint_other_than_chat_completions_is_refused(client: openai.AsyncOpenAI) -> None:
    uploaded = await client.files.create(file=("in.jsonl", _jsonl(_line("a"))), purpose="batch")
    with pytest.raises(openai.BadRequestError, match="chat/completions"):
        await client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")


async def test_batch_traffic_is_not_counted_as_online_requests() -> None:
    async with Simulator() as sim, openai.AsyncOpenAI(base_url=sim.base_url, api_key="k") as oa:
        await oa.batches.retrieve(await _submit(oa, _jsonl(_line("a"))))
        assert sim.stats().requests == 0
        assert sim.batches.stats()["lines_submitted"] == 1


async def test_batches_list_shows_the_newest_first_with_their_metadata(client: openai.AsyncOpenAI) -> None:
    uploaded = await client.files.create(file=("in.jsonl", _jsonl(_line("a"))), purpose="batch")
    for label in ("first", "second"):
        await client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                    completion_window="24h", metadata={"label": label})
    page = await client.batches.list(limit=10)
    assert [b.metadata["label"] for b in page.data if b.metadata] == ["second", "first"]
