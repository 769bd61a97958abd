"""The seed's main.py, done right: run the ExtractionPipeline over a JSONL file with ``sharedlm.run_many``.

The seed gathered one coroutine per row of an in-memory list. Here the rows are read lazily from a file,
at most ``concurrency`` of them are in flight, every row comes back with its id and either its output or its
error, and all calls go through the one shared, pooled LM::

    export SHAREDLM_MODEL=gemini/gemini-2.5-flash GEMINI_API_KEY=...
    python examples/extract_from_jsonl.py rows.jsonl results.jsonl

Each input line looks like ``{"id": "t-1", "text": "My order arrived broken..."}``. For files too big to
hold the results in memory, or to resume after a crash, use ``sharedlm run`` instead (see README.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import sharedlm
from sharedlm.examples.extraction_pipeline import ExtractionPipeline


def read_jsonl(path: str) -> Iterator[dict[str, object]]:
    """Yield the rows of a JSONL file one at a time."""
    with open(path, encoding="utf-8") as file:
        for line in file:
            if line.strip():
                yield json.loads(line)


def main(argv: list[str]) -> int:
    """Run the pipeline over ``argv[1]`` and write one result line per row to ``argv[2]``."""
    if len(argv) != 3:
        print("usage: python examples/extract_from_jsonl.py INPUT.jsonl OUTPUT.jsonl", file=sys.stderr)
        return 2
    source, target = argv[1], argv[2]
    pipeline = ExtractionPipeline(shared_lm=sharedlm.get_shared_lm())  # one LM, one pool, for the whole process
    results = sharedlm.run_many(pipeline, read_jsonl(source), concurrency=200, retries=1, progress=True)
    with open(target, "w", encoding="utf-8") as out:
        for result in results:
            out.write(json.dumps(result.as_json_dict()) + "\n")
    failed = sum(not result.ok for result in results)
    print(f"{len(results) - failed} rows ok, {failed} failed; results in {target}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
