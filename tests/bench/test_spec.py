"""The job spec: validated, and the same after a trip through JSON, with the key kept out of its repr."""

from __future__ import annotations

import pytest

from sharedlm.bench._spec import JobSpec


def _spec(**changes: object) -> JobSpec:
    values: dict[str, object] = {"scenario": "latency", "variant": "sharedlm", "kind": "workflows", "count": 10,
                                 "api_base": "http://127.0.0.1:1/v1", "api_key": "sk-hidden", "fd_limit": 1024}
    values.update(changes)
    return JobSpec(**values)  # type: ignore[arg-type]


def test_spec_survives_a_round_trip_through_json() -> None:
    spec = _spec(rpm=600.0, record_completions=True)
    assert JobSpec.from_json(spec.to_json()) == spec


def test_spec_repr_hides_the_key() -> None:
    assert "sk-hidden" not in repr(_spec())


@pytest.mark.parametrize(("field", "value"), [("variant", "nope"), ("kind", "batches"), ("count", 0)])
def test_spec_refuses_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field if field != "kind" else "kind"):
        _spec(**{field: value})


def test_fd_limit_label_says_whether_the_hard_limit_was_lowered_too() -> None:
    assert _spec().fd_limit_label == "1024 soft"
    assert _spec(fd_limit_hard=True).fd_limit_label == "1024 soft+hard"
    assert _spec(fd_limit=None).fd_limit_label is None
