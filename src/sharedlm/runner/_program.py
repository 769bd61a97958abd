"""The program a run calls for each row: loading ``PROGRAM``, building it, and checking row fields.

``PROGRAM`` is ``path/to/file.py:NAME`` or ``package.module:NAME``, where ``NAME`` is any DSPy program
(:func:`build_program`; ``run_many`` and ``arun_many`` take the same objects):

- a class: a ``sharedlm.SharedLMModule`` (or any class whose constructor takes ``shared_lm``) is constructed
  with ``shared_lm=``, any other class, a plain ``dspy.Module`` included, with no arguments;
- a factory function (sync, no required parameter but ``shared_lm``): called, with ``shared_lm=`` if it takes it;
- anything else, a program instance or a row function (``async def classify(text)``): used as it is.

A plain ``dspy.Module`` built or given this way has every predictor that holds a plain ``dspy.LM`` bound to this
process's shared LM for that LM's model, and every predictor that holds none to the default shared LM
(:func:`bind_plain_predictors`); a saved state (``--load``) is loaded before that binding
(:mod:`sharedlm.runner._saved_state`). :func:`prepare_program` then decides how a row is called:

- a ``dspy.Module`` with an ``aforward``: ``await program.acall(**fields)`` (DSPy's async path);
- another object with an async ``acall``, ``aforward`` or ``__call__``: awaited directly;
- otherwise the sync ``__call__`` (or ``forward``) runs in a worker thread, so it does not block the loop.

It also works out which fields a row must and may have (:class:`ProgramInputs`): the parameters of the
entry point, or a predictor's signature input fields when the entry point takes only ``**kwargs``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharedlm._errors import SharedLMError, UsageError

PROGRAM_FORMS = ("path/to/file.py:NAME or package.module:NAME, NAME a program class, a factory function or a "
                 "program instance")


@dataclass(frozen=True, kw_only=True)
class ProgramInputs:
    """The fields a row must and may have for the program.

    Args:
        names: The named inputs, in the order the program declares them.
        required: Inputs without a default.
        accepts_any: The program also takes fields it does not name (``**kwargs`` with named inputs, or an
            entry point whose inputs cannot be known).
        where: What the inputs were read from, for messages (``"ExtractionPipeline.aforward"``).
    """

    names: tuple[str, ...]
    required: frozenset[str]
    accepts_any: bool
    where: str

    def mismatch(self, fields: Mapping[str, Any], *, ignore_extra: bool = False) -> str | None:
        """Why ``fields`` cannot be passed to the program, or None when they can.

        Args:
            fields: A row's fields, id field excluded.
            ignore_extra: Extra fields are dropped by the caller rather than refused.
        """
        missing = [name for name in self.names if name in self.required and name not in fields]
        extra = [] if self.accepts_any or ignore_extra else sorted(set(fields) - set(self.names))
        if not missing and not extra:
            return None
        parts = []
        if missing:
            parts.append(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"unexpected field{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}")
        hint = " (pass --ignore-extra-fields to drop fields the program does not take)" if extra else ""
        return f"row fields do not match {self.where}({', '.join(self.names)}): {'; '.join(parts)}{hint}"

    def select(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` without those the program does not take (for ``ignore_extra_fields``)."""
        if self.accepts_any:
            return fields
        return {name: value for name, value in fields.items() if name in self.names}


@dataclass(frozen=True, kw_only=True)
class PreparedProgram:
    """How the runner calls one program.

    Args:
        program: The program object.
        name: Its class name, for messages.
        entry: The callable one row's fields are passed to as keyword arguments.
        is_async: ``entry`` returns an awaitable; otherwise it is sync and runs in a worker thread.
        inputs: The fields a row must and may have.
    """

    program: object
    name: str
    entry: Callable[..., Any]
    is_async: bool
    inputs: ProgramInputs

    def call_async(self) -> Callable[..., Awaitable[Any]]:
        """The entry point as an async callable; only valid when ``is_async``."""
        return self.entry


def _import_dspy_module_class() -> type | None:
    try:
        import dspy
    except ImportError:  # pragma: no cover - dspy is a dependency
        return None
    return dspy.Module


def _defined_on_class(obj: object, name: str) -> Any:
    return inspect.getattr_static(type(obj), name, None)


def prepare_program(program: object) -> PreparedProgram:
    """Decide how rows call ``program`` and which fields they need.

    Args:
        program: A ``dspy.Module`` (or any object with ``acall``/``aforward``/``__call__``/``forward``), or
            a plain sync or async function.
    """
    if inspect.isclass(program):
        raise UsageError(f"program {program.__name__} is a class; pass an instance, "
                         f"e.g. {program.__name__}(shared_lm=lm)")
    name = getattr(program, "__name__", None) or type(program).__name__
    module_class = _import_dspy_module_class()
    if module_class is not None and isinstance(program, module_class):
        if _defined_on_class(program, "aforward") is not None:
            return _prepared(program, name, program.acall, True, "aforward")  # type: ignore[attr-defined]
        if _defined_on_class(program, "forward") is not None:
            return _prepared(program, name, typing.cast(Callable[..., Any], program), False, "forward")
        raise UsageError(f"program {name} is a dspy.Module without forward or aforward; define one of them")
    if inspect.iscoroutinefunction(program):
        return _prepared(program, name, program, True, None)
    for attr in ("acall", "aforward"):
        method = getattr(program, attr, None)
        if method is not None and inspect.iscoroutinefunction(method):
            return _prepared(program, name, method, True, attr)
    if callable(program):
        call = inspect.getattr_static(type(program), "__call__", None)
        if call is not None and inspect.iscoroutinefunction(call):
            return _prepared(program, name, program, True, "__call__")
        return _prepared(program, name, program, False, None if inspect.isfunction(program) else "__call__")
    forward = getattr(program, "forward", None)
    if callable(forward):
        return _prepared(program, name, forward, False, "forward")
    raise UsageError(
        f"program {name} has no entry point: give it an async aforward/acall (preferred) or a sync __call__/forward"
    )


def _prepared(program: object, name: str, entry: Callable[..., Any], is_async: bool,
              method: str | None) -> PreparedProgram:
    inputs = program_inputs(program, name=name, method=method)
    return PreparedProgram(program=program, name=name, entry=entry, is_async=is_async, inputs=inputs)


def program_inputs(program: object, *, name: str, method: str | None) -> ProgramInputs:
    """The inputs of ``program``'s entry point ``method`` (None: the program itself is the function).

    Args:
        program: The program object.
        name: Its name, for messages.
        method: The entry point's name, looked up on the class so DSPy's warning about calling
            ``forward`` directly is not triggered.
    """
    where = name if method is None else f"{name}.{method}"
    if method is None:
        function: Any = program
        skip_first = False
    else:
        function = inspect.getattr_static(type(program), method, None)
        skip_first = inspect.isfunction(function)
        if function is None or isinstance(function, staticmethod | classmethod):
            function = getattr(program, method)
            skip_first = False
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return ProgramInputs(names=(), required=frozenset(), accepts_any=True, where=where)
    if skip_first and parameters:
        parameters = parameters[1:]
    names: list[str] = []
    required: set[str] = set()
    var_keyword = False
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            if parameter.default is inspect.Parameter.empty:
                raise UsageError(f"{where} takes {parameter.name!r} as positional-only; rows are passed as keyword "
                                 "arguments, so make it a normal parameter")
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
        elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
            names.append(parameter.name)
            if parameter.default is inspect.Parameter.empty:
                required.add(parameter.name)
    if var_keyword and not names:
        from_signature = _signature_inputs(program, where)
        if from_signature is not None:
            return from_signature
    return ProgramInputs(names=tuple(names), required=frozenset(required), accepts_any=var_keyword, where=where)


def _signature_inputs(program: object, where: str) -> ProgramInputs | None:
    """Inputs of a DSPy signature behind a ``**kwargs`` entry point (``dspy.Predict``, ``ChainOfThought``)."""
    signature = getattr(program, "signature", None)
    if getattr(signature, "input_fields", None) is None:
        named_predictors = getattr(program, "named_predictors", None)
        predictors = named_predictors() if callable(named_predictors) else []
        if len(predictors) != 1:
            return None
        signature = getattr(predictors[0][1], "signature", None)
    input_fields = getattr(signature, "input_fields", None)
    if not isinstance(input_fields, Mapping):
        return None
    names = tuple(input_fields)
    required = frozenset(n for n, info in input_fields.items() if not _allows_none(getattr(info, "annotation", None)))
    return ProgramInputs(names=names, required=required, accepts_any=False, where=f"{where} (signature)")


def _allows_none(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return type(None) in typing.get_args(annotation)
    return annotation is None or annotation is type(None)


def load_program_target(spec: str) -> Any:
    """Import ``PROGRAM`` and return the named attribute (a class, a factory function or a program instance).

    Args:
        spec: ``path/to/file.py:NAME`` or ``package.module:NAME``.
    """
    module_part, sep, attr = spec.rpartition(":")
    if not sep or not module_part or not attr or not all(p.isidentifier() for p in attr.split(".")):
        raise UsageError(f"PROGRAM must look like {PROGRAM_FORMS}, got {spec!r}")
    if module_part.endswith(".py") or "/" in module_part or os.sep in module_part:
        module = _import_file(Path(module_part))
    else:
        module = _import_module(module_part)
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise UsageError(f"{module_part} has no attribute {attr!r}; programs it defines: "
                             f"{', '.join(_candidates(module)) or 'none'}") from None
    return target


def _candidates(module: types.ModuleType) -> list[str]:
    """Public names of ``module`` that could be a PROGRAM: the classes and functions it defines (not those it
    imports), and ``dspy.Module`` instances."""
    module_class = _import_dspy_module_class()

    def defined_here(value: object) -> bool:
        return (inspect.isclass(value) or inspect.isfunction(value)) and value.__module__ == module.__name__

    return sorted(name for name, value in vars(module).items() if not name.startswith("_") and (
        defined_here(value) or (module_class is not None and isinstance(value, module_class))))


def _import_file(path: Path) -> types.ModuleType:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise UsageError(f"program file {str(path)!r} does not exist")
    # Programs often import their sibling modules (signatures.py, utils.py) by plain name.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    module_name = f"_sharedlm_program_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import program file {str(path)!r}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise UsageError(f"importing program file {str(path)!r} failed: {type(exc).__name__}: {exc} "
                         f"(run `python {path}` to see the traceback)") from exc
    return module


def _import_module(name: str) -> types.ModuleType:
    # Like `python -m`, let a module in the current directory be found.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise UsageError(f"cannot import program module {name!r}: no module named {exc.name!r}; is it installed "
                             f"or in the current directory? PROGRAM looks like {PROGRAM_FORMS}") from None
        raise UsageError(f"importing program module {name!r} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise UsageError(f"importing program module {name!r} failed: {type(exc).__name__}: {exc}") from exc


def build_program(target: Any, shared_lm: Any = None, *, load: str | Path | None = None,
                  load_option: str = "--load") -> Any:
    """The program ``target`` names, built, bound to the shared LMs, with a saved state loaded when asked.

    - a class: constructed with ``shared_lm=`` when it is a ``sharedlm.SharedLMModule`` or its constructor takes
      ``shared_lm``, else with no arguments;
    - a factory (a sync function with no required parameter but ``shared_lm``): called with ``shared_lm=`` when
      it takes it, else with no arguments;
    - anything else (a program instance, a row function): used as it is.

    A plain ``dspy.Module`` built or given this way then has its predictors bound to the shared LMs
    (:func:`bind_plain_predictors`); with ``load``, the saved state is loaded first
    (:func:`~sharedlm.runner._saved_state.load_saved_state`).

    Args:
        target: What :func:`load_program_target` returned, or a program object.
        shared_lm: The shared LM for a constructor or factory that takes it; None for the default shared LM,
            built only when one does.
        load: A state file ``program.save("STATE.json")`` wrote, or None.
        load_option: How ``load`` was given, for messages (``--load`` or ``load=``).
    """
    if inspect.isclass(target):
        program = _construct(target, shared_lm)
    elif is_factory(target):
        program = _call_factory(target, shared_lm)
    else:
        program = target
    if load is not None:
        from sharedlm.runner._saved_state import load_saved_state

        load_saved_state(program, load, option=load_option)
    else:
        _bind(program)
    return program


def is_factory(target: object) -> bool:
    """Whether ``target`` is a factory that builds the program rather than the program itself.

    A factory is a sync function (or bound method) whose parameters all have defaults, ``shared_lm`` apart: a
    row program always takes at least one field, and an ``async def`` is always a row program.

    Args:
        target: What ``PROGRAM`` named, or what was passed to ``run_many``.
    """
    if not (inspect.isfunction(target) or inspect.ismethod(target)) or inspect.iscoroutinefunction(target):
        return False
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return False
    for parameter in parameters:
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            return False
        if parameter.default is inspect.Parameter.empty and parameter.name != "shared_lm":
            return False
    return True


def _takes_shared_lm(function: Any) -> bool:
    try:
        parameter = inspect.signature(function).parameters.get("shared_lm")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                        inspect.Parameter.KEYWORD_ONLY)


def _shared(shared_lm: Any) -> Any:
    """``shared_lm``, or the default shared LM when None (built only when a constructor takes it)."""
    if shared_lm is not None:
        return shared_lm
    from sharedlm._singleton import get_shared_lm

    return get_shared_lm()


def _construct(target: type, shared_lm: Any) -> Any:
    from sharedlm._module import SharedLMModule

    name = target.__name__
    program_class: Any = target
    # dspy.Module's metaclass hides the constructor's signature behind its __call__: read __init__'s.
    with_lm = issubclass(target, SharedLMModule) or _takes_shared_lm(target.__init__)
    call = f"{name}(shared_lm=...)" if with_lm else f"{name}()"
    try:
        return program_class(shared_lm=_shared(shared_lm)) if with_lm else program_class()
    except SharedLMError:
        raise
    except TypeError as exc:
        raise UsageError(f"constructing {call} failed: {exc}. A PROGRAM class is constructed with "
                         "shared_lm=<the shared LM> when its constructor takes shared_lm, else with no arguments: "
                         "give its other parameters defaults, or name a factory function that builds it") from exc
    except Exception as exc:
        raise UsageError(f"constructing {call} failed: {type(exc).__name__}: {exc}") from exc


def _call_factory(factory: Any, shared_lm: Any) -> Any:
    name = getattr(factory, "__qualname__", None) or getattr(factory, "__name__", "factory")
    with_lm = _takes_shared_lm(factory)
    call = f"{name}(shared_lm=...)" if with_lm else f"{name}()"
    try:
        program = factory(shared_lm=_shared(shared_lm)) if with_lm else factory()
    except SharedLMError:
        raise
    except Exception as exc:
        raise UsageError(f"the factory {call} failed: {type(exc).__name__}: {exc}") from exc
    if program is None or inspect.isclass(program) or isinstance(program, str | bytes | int | float | Mapping):
        what = program.__name__ if inspect.isclass(program) else type(program).__name__
        raise UsageError(f"the factory {call} returned {what}, not a program: return the program instance, "
                         "e.g. a dspy.Module")
    return program


def _bind(program: object) -> None:
    """Bind a plain ``dspy.Module``'s predictors to the shared LMs (a ``SharedLMModule`` bound itself already)."""
    import dspy

    from sharedlm._module import SharedLMModule

    if isinstance(program, dspy.Module) and not isinstance(program, SharedLMModule):
        bind_plain_predictors(program)


def bind_plain_predictors(program: Any) -> None:
    """Bind each predictor of ``program`` that holds no LM, or a plain ``dspy.LM``, to the shared LM for its model.

    ``sharedlm.bind_shared_lm(predictor)`` does the binding: a plain ``dspy.LM("openai/x", temperature=0)``
    becomes the shared LM for ``openai/x`` (copied with ``temperature=0``), no LM the default shared LM. An LM of
    any other class is the program's own choice and stays: a shared LM or a copy of one already, a test's
    ``DummyLM``, a custom ``BaseLM``.

    Args:
        program: A ``dspy.Module``.
    """
    import dspy

    from sharedlm._module import bind_shared_lm

    for _, predictor in program.named_predictors():
        lm = getattr(predictor, "lm", None)
        if lm is None or type(lm) is dspy.LM:
            bind_shared_lm(predictor, None)


def unbound_predictors(program: object) -> list[str]:
    """Names of the program's DSPy predictors that have no LM of their own (empty for non-DSPy programs)."""
    named_predictors = getattr(program, "named_predictors", None)
    if not callable(named_predictors):
        return []
    return [name for name, predictor in named_predictors() if getattr(predictor, "lm", None) is None]


__all__ = [
    "PROGRAM_FORMS",
    "PreparedProgram",
    "ProgramInputs",
    "bind_plain_predictors",
    "build_program",
    "is_factory",
    "load_program_target",
    "prepare_program",
    "program_inputs",
    "unbound_predictors",
]
