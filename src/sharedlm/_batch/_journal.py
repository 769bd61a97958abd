"""The batch journal: what was submitted, saved atomically before it is submitted, so no run pays twice.

One JSON file holds every batch of a run: its API, base URL and model, its provider id once known, and for each
line its ``custom_id``, the digest of its request body and, when the runner said so, the row and call it belongs
to. The file is rewritten whole (to a temporary file, flushed to disk, then renamed over the old one), so a run
killed at any moment leaves either the previous journal or the new one, never half of one. It holds no
credentials: a run that reattaches polls with the credentials of the calls that claim the lines.

The order is what makes it safe: a batch is written down (state ``submitting``, with the wall-clock time) before
its request leaves, and its id is written as soon as the provider answers. A run that finds a batch with an id
reattaches to it. A batch that never got an id may still have been created (the one window: killed between the
provider's answer and the write that follows it), so a run that reattaches looks for it among the provider's
recent batches before submitting its lines again: by the journal's label where the API keeps one (OpenAI:
``metadata.sharedlm_batch``; Gemini: ``displayName``); Anthropic's batches carry no label, so there the
candidates are the batches created around the time written down with as many requests, and a candidate is taken
only once its results carry the journal's ``custom_id`` values (unique to this run), see
:meth:`sharedlm._batch._apis.AnthropicBatches.find`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sharedlm._errors import InputError

JOURNAL_VERSION = 1
SUBMITTING = "submitting"
SUBMITTED = "submitted"
ENDED = "ended"


@dataclass(slots=True)
class JournalLine:
    """One line of a batch: the digest of its body, and the row and call it answers when known."""

    digest: str
    row: str | None = None
    call: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"digest": self.digest, "row": self.row, "call": self.call}


@dataclass(slots=True)
class JournalBatch:
    """One batch as the journal knows it."""

    label: str
    api: str
    base_url: str
    model: str
    state: str = SUBMITTING
    batch_id: str | None = None
    lines: dict[str, JournalLine] = field(default_factory=dict)
    # Wall-clock seconds (epoch) when the batch was written down, before its request left; None in old journals.
    submitting_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "api": self.api, "base_url": self.base_url, "model": self.model,
                "state": self.state, "batch_id": self.batch_id, "submitting_at": self.submitting_at,
                "lines": {custom_id: line.as_dict() for custom_id, line in self.lines.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JournalBatch:
        lines = {str(c): JournalLine(str(x["digest"]), x.get("row"), x.get("call"))
                 for c, x in (data.get("lines") or {}).items()}
        at = data.get("submitting_at")
        return cls(str(data["label"]), str(data["api"]), str(data["base_url"]), str(data["model"]),
                   str(data.get("state") or SUBMITTING), data.get("batch_id"), lines,
                   float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None)


class Journal:
    """The batches of one run, mirrored to ``path`` (or kept in memory when ``path`` is None).

    Args:
        path: The journal file; read at once when it exists.

    Raises:
        InputError: When the file exists but is not a batch journal.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.batches: dict[str, JournalBatch] = {}
        self.saves = 0
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("version") != JOURNAL_VERSION:
                    raise ValueError(f"version {data.get('version')!r}")
                self.batches = {b["label"]: JournalBatch.from_dict(b) for b in data["batches"]}
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"{path} is not a sharedlm batch journal ({exc}); move it away to start afresh, "
                                 "or point the run at its own output") from None

    def __repr__(self) -> str:
        return f"Journal(path={self.path}, batches={len(self.batches)}, saves={self.saves})"

    def reattachable(self) -> list[JournalBatch]:
        """Batches the provider may hold: those with an id (ended or not), and those a run was submitting when it
        stopped (the provider may have created them before the run could write their id down)."""
        return list(self.batches.values())

    def record(self, batch: JournalBatch) -> None:
        """Add or update ``batch`` and save."""
        self.batches[batch.label] = batch
        self.save()

    def save(self) -> None:
        """Write the whole journal atomically."""
        self.saves += 1
        if self.path is None:
            return
        data = json.dumps({"version": JOURNAL_VERSION, "batches": [b.as_dict() for b in self.batches.values()]},
                          ensure_ascii=False, separators=(",", ":"))
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


__all__ = ["ENDED", "SUBMITTED", "SUBMITTING", "Journal", "JournalBatch", "JournalLine"]
