"""How a Ray worker gets the run's program: :class:`ProgramRecipe`.

A worker builds the program once, in its own process, on its own shared LM, from one of two recipes:

- ``PROGRAM`` as given to ``sharedlm run`` (``path/to/file.py:ClassName`` or ``package.module:ClassName``): the
  worker imports and constructs it exactly as the driver did (a file path is made absolute first);
- a program object handed to ``run_many``: pickled on the driver with cloudpickle (a DSPy dependency), with
  every reference to the driver's shared LM replaced by a placeholder that unpickles as the worker's own
  shared LM, so the program's predictors end up bound to the worker's LM, never to a copy of the driver's.

The recipe travels as bytes, and the worker extends its ``sys.path`` with the driver's before it unpickles,
so a program class from a script, a notebook or a test module imports on the worker as on the driver.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharedlm._errors import UsageError

# The persistent id the driver's shared LM is pickled as.
SHARED_LM_REFERENCE = "sharedlm:shared_lm"


class _ProgramPickler:
    """cloudpickle, with the driver's shared LM written as a reference instead of by value."""

    def __init__(self, shared_lm: object) -> None:
        import cloudpickle

        shared = shared_lm

        class Pickler(cloudpickle.Pickler):
            def persistent_id(self, obj: Any) -> str | None:
                return SHARED_LM_REFERENCE if shared is not None and obj is shared else None

        self._pickler_class = Pickler

    def dumps(self, program: object) -> bytes:
        buffer = io.BytesIO()
        self._pickler_class(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(program)
        return buffer.getvalue()


class _ProgramUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, shared_lm: object) -> None:
        super().__init__(io.BytesIO(data))
        self._shared_lm = shared_lm

    def persistent_load(self, pid: Any) -> object:
        if pid == SHARED_LM_REFERENCE:
            return self._shared_lm
        raise pickle.UnpicklingError(f"unknown persistent reference {pid!r}")


def absolute_spec(spec: str) -> str:
    """``PROGRAM`` with a relative file path made absolute, so a worker with another working directory finds it.

    Args:
        spec: ``path/to/file.py:ClassName`` or ``package.module:ClassName``.
    """
    module_part, sep, attr = spec.rpartition(":")
    if sep and (module_part.endswith(".py") or "/" in module_part):
        return f"{Path(module_part).expanduser().resolve()}:{attr}"
    return spec


@dataclass(frozen=True, kw_only=True)
class ProgramRecipe:
    """What a worker builds the program from: ``spec`` (``PROGRAM``) or ``pickled`` (a program object).

    Args:
        name: The program's name, for messages.
        spec: ``PROGRAM`` with an absolute file path, or None.
        pickled: The program pickled with the shared LM as a reference, or None.
        load: With ``spec``: the absolute path of a saved program state (``--load``) the worker loads into the
            program it builds, or None.
    """

    name: str
    spec: str | None = None
    pickled: bytes | None = None
    load: str | None = None

    def __repr__(self) -> str:
        source = self.spec if self.spec is not None else f"pickled, {len(self.pickled or b'')} bytes"
        if self.load is not None:
            source += f", load {self.load}"
        return f"ProgramRecipe({self.name}, {source})"

    @classmethod
    def from_spec(cls, spec: str, *, name: str, load: str | Path | None = None) -> ProgramRecipe:
        """The recipe for ``PROGRAM`` as given on the command line.

        Args:
            spec: ``path/to/file.py:ClassName`` or ``package.module:ClassName``.
            name: The program's name.
            load: ``--load``: a saved program state each worker loads into its program, or None.
        """
        state = None if load is None else str(Path(load).expanduser().resolve())
        return cls(name=name, spec=absolute_spec(spec), load=state)

    @classmethod
    def from_program(cls, program: object, *, shared_lm: object, name: str) -> ProgramRecipe:
        """The recipe for a program object: pickled, its references to ``shared_lm`` kept as references.

        Args:
            program: The program object (a ``dspy.Module`` or any picklable callable object).
            shared_lm: The driver's shared LM.
            name: The program's name.
        """
        try:
            data = _ProgramPickler(shared_lm).dumps(program)
        except Exception as exc:
            raise UsageError(f"program {name} cannot be sent to Ray workers: pickling it failed with "
                             f"{type(exc).__name__}: {exc}. Keep clients, locks and open files out of the program "
                             "object (create them inside its methods), or run it with `sharedlm run` and a "
                             "PROGRAM path, which each worker imports itself") from None
        return cls(name=name, pickled=data)

    def build(self, shared_lm: object) -> object:
        """The program, built in this process on ``shared_lm``.

        Args:
            shared_lm: This process's shared LM.
        """
        if self.spec is not None:
            from sharedlm.runner._program import build_program, load_program_target

            return build_program(load_program_target(self.spec), shared_lm, load=self.load)
        if self.pickled is None:
            raise ValueError("a ProgramRecipe needs spec or pickled")
        return _ProgramUnpickler(self.pickled, shared_lm).load()


__all__ = ["SHARED_LM_REFERENCE", "ProgramRecipe", "absolute_spec"]
