"""Every output line is RFC 8259 JSON: a NaN or infinite float that reaches the writer never becomes ``NaN``.

A program's outputs are made JSON-ready before the writer (a NaN becomes ``"nan"``); a non-finite float that
reaches it anyway makes its row an ``OutputError`` line naming the field, so the row is still accounted for.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sharedlm.runner._results import RowResult, TokenUsage
from sharedlm.runner._writer import OUTPUT_ERROR, ResultWriter


def strict_json(line: str) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"{token} in an output line: not JSON")

    return json.loads(line, parse_constant=refuse)


def write_one(path: Path, result: RowResult) -> tuple[RowResult, dict[str, Any]]:
    with ResultWriter(path) as writer:
        written = writer.write(result)
    (line,) = path.read_text(encoding="utf-8").splitlines()
    return written, strict_json(line)


def test_a_nan_in_an_output_makes_the_row_an_output_error_line_naming_the_field(tmp_path: Path) -> None:
    result = RowResult(id="r1", output={"scores": [1.0, math.nan]}, error=None, attempts=1, latency_s=0.5)

    written, line = write_one(tmp_path / "out.jsonl", result)

    assert written.error is not None
    assert line["id"] == "r1"
    assert line["output"] is None
    assert line["error"]["type"] == OUTPUT_ERROR
    assert "field .output.scores[1] is nan" in line["error"]["message"]
    assert "make the program return null or a string there" in line["error"]["message"]


def test_an_infinite_latency_still_gives_a_valid_error_line(tmp_path: Path) -> None:
    result = RowResult(id=7, output={"a": 1}, error=None, attempts=2, latency_s=math.inf)

    _, line = write_one(tmp_path / "out.jsonl", result)

    assert line["error"]["type"] == OUTPUT_ERROR
    assert "field .latency_s is inf" in line["error"]["message"]
    assert line["latency_s"] == 0.0
    assert line["attempts"] == 2


def test_the_output_error_line_keeps_what_the_row_cost_and_its_usage(tmp_path: Path) -> None:
    result = RowResult(id=3, output={"x": -math.inf}, error=None, attempts=1, latency_s=0.1,
                       usage=TokenUsage(10, 5), cost_usd=0.25)

    _, line = write_one(tmp_path / "out.jsonl", result)

    assert line["error"]["type"] == OUTPUT_ERROR
    assert line["cost_usd"] == 0.25
    assert line["usage"] == {"prompt_tokens": 10, "completion_tokens": 5}
