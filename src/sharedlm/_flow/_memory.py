"""What was learned about one deployment, remembered across runs in a small file.

A *deployment* is one provider, model, base URL and API key. What the engine learned about it (the capacity
estimate after a congestion event, or, from a provider that never refused, the most requests it took in flight at
once; the request and token limits its headers reported) is written to
``<state dir>/<key>.json``, so the next run starts at the right rate instead of rediscovering it. The state
directory is ``SHAREDLM_STATE_DIR`` when set, else ``sharedlm`` under the user's cache directory (read in
:mod:`sharedlm._env`; this module only gets the path).

- The file name is a SHA-256 of the provider, model, base URL and of a SHA-256 of the key: the key itself is never
  written, and nothing in the file or its name can be turned back into it. The file records the key's hash
  prefix only to tell deployments apart when someone looks, and the base URL with any credential in it (a userinfo
  password, query values) masked.
- Writes are atomic (a temporary file in the same directory, then ``os.replace``), so a crash mid-write leaves
  the old file or the new one, never half of one.
- A file that cannot be read, parsed or validated is ignored, with one warning per path and process; it is
  replaced by the next write. Failing to write is logged once and otherwise ignored: memory is an optimisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharedlm._http_rules import shown_url

logger = logging.getLogger("sharedlm")

FORMAT_VERSION = 1
# A remembered figure older than this is not trusted: limits change with tiers, capacity with the hour.
MAX_AGE_S = 7 * 24 * 3600.0
_MAX_FILE_BYTES = 64 * 1024

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(path: Path, message: str) -> None:
    key = str(path)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(message)


@dataclass(frozen=True, kw_only=True, slots=True)
class Deployment:
    """Which deployment the learned figures belong to.

    Args:
        provider: The lm15 provider (``openai``, ``anthropic``, ``gemini``, ...).
        model: The model id.
        base_url: The base URL, or ``""`` for the provider's own; shown and written with any credential in it
            (``user:password@``, ``?api-key=...``) masked, while the file name hashes it whole.
        api_key: The key; only its hash is ever used. Never shown in ``repr``.
    """

    provider: str
    model: str
    base_url: str
    api_key: str | None

    def __repr__(self) -> str:
        return f"Deployment(provider={self.provider!r}, model={self.model!r}, base_url={self.shown_base_url!r})"

    @property
    def shown_base_url(self) -> str:
        """The base URL as it may be shown or written: a userinfo password and query values masked (``***``)."""
        return shown_url(self.base_url) if self.base_url else ""

    @property
    def key_hash(self) -> str:
        """A SHA-256 of the key (hex), or ``"none"`` without one."""
        if not self.api_key:
            return "none"
        return hashlib.sha256(self.api_key.encode("utf-8")).hexdigest()

    @property
    def file_name(self) -> str:
        """``<sha256 of provider, model, base URL and key hash>.json`` (first 32 hex digits)."""
        text = "\n".join((self.provider, self.model, self.base_url.rstrip("/"), self.key_hash))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + ".json"


@dataclass(frozen=True, kw_only=True, slots=True)
class Learned:
    """What was learned about a deployment.

    Args:
        capacity: The provider's in-flight capacity as last estimated, or None.
        rpm: The request limit per minute its headers reported (the whole account's), or None.
        tpm: The token limit per minute its headers reported, or None.
        accepted: The most requests it had in flight at once without refusing any, when it never refused (no
            capacity estimate), or None: the next run may start there.
        saved_at: When it was written (seconds since the epoch).
    """

    capacity: int | None = None
    rpm: float | None = None
    tpm: float | None = None
    accepted: int | None = None
    saved_at: float = 0.0

    @property
    def empty(self) -> bool:
        return self.capacity is None and self.rpm is None and self.tpm is None and self.accepted is None

    def figures(self) -> tuple[int | None, float | None, float | None, int | None]:
        """What was learned, without when."""
        return self.capacity, self.rpm, self.tpm, self.accepted


def _positive(value: Any, kind: type) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a positive number: {value!r}")
    if kind is int:
        if int(value) != value:
            raise ValueError(f"not a whole number: {value!r}")
        return int(value)
    return float(value)


class Memory:
    """The learned-state file of one deployment.

    Args:
        directory: The state directory (created on the first write).
        deployment: Whose figures these are.
        clock: Wall-clock seconds since the epoch; injectable for tests.
    """

    def __init__(self, directory: Path | str, deployment: Deployment, *,
                 clock: Any = time.time) -> None:
        self.directory = Path(directory)
        self.deployment = deployment
        self.path = self.directory / deployment.file_name
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Learned | None = None

    def __repr__(self) -> str:
        return f"Memory(path={str(self.path)!r}, {self.deployment!r}, last={self._last!r})"

    def load(self) -> Learned | None:
        """The remembered figures, or None when there is no file, it is too old, or it cannot be trusted."""
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            _warn_once(self.path, f"sharedlm: ignoring the learned-state file {self.path}: cannot read it "
                                  f"({exc.strerror or type(exc).__name__})")
            return None
        try:
            if len(raw) > _MAX_FILE_BYTES:
                raise ValueError("too large")
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError("unknown format")
            if data.get("file") != self.deployment.file_name:
                raise ValueError("written for another deployment")
            learned = Learned(capacity=_positive(data.get("capacity"), int), rpm=_positive(data.get("rpm"), float),
                              tpm=_positive(data.get("tpm"), float), accepted=_positive(data.get("accepted"), int),
                              saved_at=float(_positive(data.get("saved_at"), float) or 0.0))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            _warn_once(self.path, f"sharedlm: ignoring the corrupt learned-state file {self.path} ({exc}); "
                                  "it will be rewritten")
            return None
        if self._clock() - learned.saved_at > MAX_AGE_S:
            return None
        self._last = learned
        return learned

    def save(self, learned: Learned) -> bool:
        """Write ``learned`` atomically unless it is what was last read or written; return whether it wrote.

        Args:
            learned: The figures to remember (``saved_at`` is set here).
        """
        with self._lock:
            last = self._last
            if last is not None and last.figures() == learned.figures():
                return False
            now = float(self._clock())
            record = {"version": FORMAT_VERSION, "file": self.deployment.file_name,
                      "provider": self.deployment.provider, "model": self.deployment.model,
                      "base_url": self.deployment.shown_base_url, "key_sha256_prefix": self.deployment.key_hash[:12],
                      "capacity": learned.capacity, "rpm": learned.rpm, "tpm": learned.tpm,
                      "accepted": learned.accepted, "saved_at": now}
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                fd, temporary = tempfile.mkstemp(prefix=".learned-", suffix=".tmp", dir=self.directory)
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        json.dump(record, handle)
                    os.replace(temporary, self.path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)
                    raise
            except OSError as exc:
                _warn_once(self.directory, f"sharedlm: cannot remember learned limits in {self.directory} "
                                           f"({exc.strerror or type(exc).__name__}); set SHAREDLM_STATE_DIR to a "
                                           "writable directory")
                return False
            self._last = Learned(capacity=learned.capacity, rpm=learned.rpm, tpm=learned.tpm,
                                 accepted=learned.accepted, saved_at=now)
            return True


__all__ = ["FORMAT_VERSION", "MAX_AGE_S", "Deployment", "Learned", "Memory"]
