"""A saved program state run over a file: ``sharedlm run --load STATE.json`` and ``run_many(load=...)``.

The file is what ``program.save("STATE.json")`` writes (an optimizer's result, typically): each predictor's
state under its name, plus DSPy's ``metadata``. :func:`read_state_file` reads and checks it on its own, so the
command refuses a missing or unreadable file, or one that is not a saved DSPy state, before anything else;
:func:`load_saved_state` checks that the state's predictors are the program's own (a state saved from another
program is refused whole, never half-applied), loads it with plain ``program.load`` (no
``allow_unsafe_lm_state``: a base URL or a custom LM class in the file is dropped) and binds every predictor to
this process's shared LM for its model (:func:`~sharedlm.runner._program.bind_plain_predictors`), so no
predictor runs on a plain LM the file would otherwise create. Every problem is a
:class:`~sharedlm._errors.UsageError` naming the file and what to do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sharedlm._errors import ConfigurationError, UsageError
from sharedlm.runner._program import bind_plain_predictors

_SAVE_HINT = "save the state with program.save('STATE.json') and pass that file"


def read_state_file(path: str | Path, *, option: str = "--load") -> dict[str, Any]:
    """The saved program state in ``path``, checked to be what ``program.save("STATE.json")`` writes.

    Args:
        path: The state file.
        option: The option that named it, for messages (``--load`` or ``load=``).

    Raises:
        UsageError: The file is missing, a directory, not ``.json``, unreadable, or not a saved DSPy state.
    """
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise UsageError(f"{option} must be the path of a saved program state file, got {path!r}")
    path = Path(path)
    where = f"{option} {str(path)!r}"
    if path.is_dir():
        raise UsageError(f"{where} is a directory (a whole-program save, save_program=True); {option} takes a state "
                         f"file instead: {_SAVE_HINT}")
    if not path.exists():
        raise UsageError(f"{where} does not exist; {_SAVE_HINT}")
    if path.suffix != ".json":
        raise UsageError(f"{where} is not a .json state file ({path.suffix or 'no suffix'}); a .pkl state can run "
                         f"code when it is loaded, so only .json is accepted: {_SAVE_HINT}")
    try:
        state = json.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{where} cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{where} is not valid JSON ({exc}); {_SAVE_HINT}") from None
    metadata = state.get("metadata") if isinstance(state, dict) else None
    if not isinstance(metadata, dict) or "dependency_versions" not in metadata:
        raise UsageError(f"{where} is not a saved DSPy program state (it has no DSPy metadata); {_SAVE_HINT}")
    return state


def load_saved_state(program: object, path: str | Path, *, option: str = "--load") -> None:
    """Load the state saved in ``path`` into ``program``, then bind its predictors to the shared LMs.

    Args:
        program: The built program; a ``dspy.Module``.
        path: The state file, as ``program.save("STATE.json")`` wrote it.
        option: The option that named it, for messages (``--load`` or ``load=``).

    Raises:
        UsageError: The file is not a saved state (:func:`read_state_file`), ``program`` is not a ``dspy.Module``,
            the state's predictors are not the program's, or DSPy refuses to load it.
    """
    import dspy


    state = read_state_file(path, option=option)
    where = f"{option} {str(path)!r}"
    name = type(program).__name__
    if not isinstance(program, dspy.Module):
        raise UsageError(f"{where}: {name} is not a dspy.Module, so it has no state to load; drop {option}, or run "
                         "the dspy.Module the state was saved from")
    predictors = [predictor_name for predictor_name, _ in program.named_parameters()]
    saved = [key for key in state if key != "metadata"]
    missing = [key for key in predictors if key not in state]
    extra = [key for key in saved if key not in predictors]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no state for {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"state for {', '.join(map(repr, extra))}, which {name} does not have")
        raise UsageError(f"{where} does not match {name} (predictors {', '.join(predictors) or 'none'}): "
                         f"{'; '.join(parts)}. Was it saved from another program? Load it into the program that "
                         "saved it")
    try:
        program.load(str(path))
    except ConfigurationError:
        raise
    except Exception as exc:
        raise UsageError(f"{where} could not be loaded into {name}: {type(exc).__name__}: {exc}; check that it was "
                         f"saved from {name}, or {_SAVE_HINT}") from exc
    # Loading makes a plain dspy.LM for each predictor the file names a model for: bind each to the shared LM.
    bind_plain_predictors(program)


__all__ = ["load_saved_state", "read_state_file"]
