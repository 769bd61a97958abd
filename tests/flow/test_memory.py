"""The learned-state file: round trip, key hashing, corruption, atomic writes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from sharedlm._flow import _memory
from sharedlm._flow._memory import MAX_AGE_S, Deployment, Learned, Memory

KEY = "sk-test-secret-0123456789"
URL_SECRET = "url-secret-0123456789"
CREDENTIAL_URLS = [f"https://user:{URL_SECRET}@api.example.com/v1", f"https://api.example.com/v1?api-key={URL_SECRET}"]


def _deployment(**overrides: str) -> Deployment:
    values = {"provider": "openai", "model": "gpt-4o-mini", "base_url": "https://api.example.com/v1",
              "api_key": KEY}
    values.update(overrides)
    return Deployment(**values)


@pytest.fixture(autouse=True)
def _forget_warnings() -> None:
    _memory._warned.clear()


def test_what_was_saved_is_loaded_back(tmp_path: Path) -> None:
    Memory(tmp_path, _deployment()).save(Learned(capacity=64, rpm=600.0, tpm=90000.0))
    learned = Memory(tmp_path, _deployment()).load()
    assert learned is not None
    assert (learned.capacity, learned.rpm, learned.tpm) == (64, 600.0, 90000.0)


def test_no_file_loads_as_nothing(tmp_path: Path) -> None:
    assert Memory(tmp_path, _deployment()).load() is None


def test_the_key_never_appears_in_the_file_or_its_name(tmp_path: Path) -> None:
    memory = Memory(tmp_path, _deployment())
    memory.save(Learned(capacity=64))
    assert KEY not in memory.path.name
    assert KEY not in memory.path.read_text()
    assert KEY not in repr(memory)
    assert KEY not in repr(memory.deployment)


@pytest.mark.parametrize("change", [{"provider": "anthropic"}, {"model": "gpt-4o"}, {"base_url": "http://127.0.0.1/v1"},
                                    {"api_key": "sk-other"}])
def test_each_part_of_the_deployment_keys_its_own_file(change: dict[str, str]) -> None:
    assert _deployment(**change).file_name != _deployment().file_name


def test_a_trailing_slash_of_the_base_url_is_the_same_deployment() -> None:
    assert _deployment(base_url="https://api.example.com/v1/").file_name == _deployment().file_name


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"version": 99}', b"\xff\xfe",
                                     b'{"version": 1, "file": "other.json", "capacity": 5}'])
def test_a_corrupt_file_is_ignored_with_one_warning(tmp_path: Path, content: bytes,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    memory = Memory(tmp_path, _deployment())
    memory.path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="sharedlm"):
        assert memory.load() is None
        assert memory.load() is None
    assert len([r for r in caplog.records if "learned-state" in r.getMessage()]) == 1


def test_a_file_with_bad_figures_is_ignored(tmp_path: Path) -> None:
    memory = Memory(tmp_path, _deployment())
    memory.path.write_text(json.dumps({"version": 1, "file": memory.path.name, "capacity": -3, "saved_at": 1.0}))
    assert memory.load() is None


def test_a_corrupt_file_is_replaced_by_the_next_write(tmp_path: Path) -> None:
    memory = Memory(tmp_path, _deployment())
    memory.path.write_bytes(b"garbage")
    memory.load()
    assert memory.save(Learned(capacity=32)) is True
    learned = Memory(tmp_path, _deployment()).load()
    assert learned is not None
    assert learned.capacity == 32


def test_a_file_older_than_the_maximum_age_is_not_trusted(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    Memory(tmp_path, _deployment(), clock=lambda: now[0]).save(Learned(capacity=64))
    now[0] += MAX_AGE_S + 1
    assert Memory(tmp_path, _deployment(), clock=lambda: now[0]).load() is None


def test_saving_what_is_already_saved_writes_nothing(tmp_path: Path) -> None:
    memory = Memory(tmp_path, _deployment())
    assert memory.save(Learned(capacity=64)) is True
    assert memory.save(Learned(capacity=64)) is False


def test_a_write_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    memory = Memory(tmp_path, _deployment())
    memory.save(Learned(capacity=64))
    assert [p.name for p in tmp_path.iterdir()] == [memory.path.name]


def test_an_unwritable_directory_is_logged_once_and_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    memory = Memory(blocker / "sub", _deployment())
    with caplog.at_level(logging.WARNING, logger="sharedlm"):
        assert memory.save(Learned(capacity=1)) is False
        assert memory.save(Learned(capacity=2)) is False
    assert len(caplog.records) == 1


def test_what_a_provider_took_without_refusing_is_loaded_back(tmp_path: Path) -> None:
    Memory(tmp_path, _deployment()).save(Learned(accepted=1000))
    learned = Memory(tmp_path, _deployment()).load()
    assert learned is not None
    assert (learned.accepted, learned.capacity) == (1000, None)


def test_a_file_written_before_accepted_was_remembered_loads_without_it(tmp_path: Path) -> None:
    memory = Memory(tmp_path, _deployment())
    memory.save(Learned(capacity=64))
    record = json.loads(memory.path.read_text())
    del record["accepted"]
    memory.path.write_text(json.dumps(record))
    learned = Memory(tmp_path, _deployment()).load()
    assert learned is not None
    assert (learned.capacity, learned.accepted) == (64, None)


@pytest.mark.parametrize("accepted", [-3, 0, 2.5, "1000", True])
def test_a_file_with_a_bad_accepted_figure_is_ignored(tmp_path: Path, accepted: object) -> None:
    memory = Memory(tmp_path, _deployment())
    memory.save(Learned(accepted=10))
    record = json.loads(memory.path.read_text())
    record["accepted"] = accepted
    memory.path.write_text(json.dumps(record))
    assert Memory(tmp_path, _deployment()).load() is None


@pytest.mark.parametrize("base_url", CREDENTIAL_URLS)
def test_a_credential_in_the_base_url_is_masked_in_the_file(tmp_path: Path, base_url: str) -> None:
    memory = Memory(tmp_path, _deployment(base_url=base_url))
    memory.save(Learned(capacity=8))
    text = memory.path.read_text()
    assert URL_SECRET not in text
    assert "***" in json.loads(text)["base_url"]


@pytest.mark.parametrize("base_url", CREDENTIAL_URLS)
def test_a_credential_in_the_base_url_is_masked_in_the_deployment_repr(base_url: str) -> None:
    assert URL_SECRET not in repr(_deployment(base_url=base_url))


def test_base_urls_differing_only_in_a_masked_credential_keep_their_own_files() -> None:
    masked_alike = _deployment(base_url=CREDENTIAL_URLS[0].replace(URL_SECRET, "another-secret-9876"))
    assert _deployment(base_url=CREDENTIAL_URLS[0]).file_name != masked_alike.file_name
