"""``sharedlm run``: from command-line options to a finished output file and an exit code.

Everything that can be wrong with the command (options, input file, output file, configuration, the
PROGRAM itself) is checked before the first row is sent, and fails with a usage error (exit code 2). Then
:func:`run_to_file` streams the rows through the program, appending each result to the output as it
finishes, with progress, Ctrl-C handling and a summary. ``sharedlm demo`` uses the same function.

With ``--backend ray`` the rows run on Ray worker processes instead (:mod:`sharedlm.runner._ray_runner`):
Ray is checked for before anything else, the session is opened (a local Ray on loopback, or the cluster at
``--ray-address``) after the program loads on the driver, and the workers start before the output is
touched; reading, resume, writing, progress, signals and the summary stay here, in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
import time
from collections.abc import AsyncIterable, Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sharedlm._errors import UsageError
from sharedlm.runner._core import RowRunner
from sharedlm.runner._defaults import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_CONCURRENCY,
    DEFAULT_GRACE_S,
    DEFAULT_ID_FIELD,
    DEFAULT_RETRY_BACKOFF_S,
)
from sharedlm.runner._program import (
    PreparedProgram,
    build_program,
    load_program_target,
    prepare_program,
    unbound_predictors,
)
from sharedlm.runner._progress import engine_stats, start_progress
from sharedlm.runner._ray_program import ProgramRecipe
from sharedlm.runner._ray_runner import RayPlan, RayRowRunner
from sharedlm.runner._readers import check_input, count_rows, detect_format, read_rows
from sharedlm.runner._resume import prepare_resume
from sharedlm.runner._signals import InterruptHandler
from sharedlm.runner._source import SourceRow
from sharedlm.runner._summary import RunReport, print_summary
from sharedlm.runner._writer import ResultWriter, check_output


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The options of ``sharedlm run`` (see ``sharedlm run --help``).

    Args:
        program: ``path/to/file.py:ClassName`` or ``package.module:ClassName``.
        input: The input file (JSONL, CSV or Parquet).
        output: The output JSONL file.
        id_field: The field holding a row's id.
        concurrency: The most rows in flight at once.
        resume: Continue an earlier run in the same output file.
        overwrite: Replace an existing output file.
        limit: Take at most this many input rows.
        retries: Extra attempts for a failed row.
        input_format: ``jsonl``, ``csv`` or ``parquet``, or None to tell by the suffix.
        model: A model string for ``sharedlm.configure``, or None to use the environment.
        api_base: A provider base URL for ``sharedlm.configure``, or None to use the environment.
        ignore_extra_fields: Drop row fields the program does not take instead of failing the row.
        progress: ``auto``, ``rich``, ``plain`` or ``off``.
        grace_s: Seconds rows in flight may take to finish after Ctrl-C.
        retry_backoff: Seconds before a row's first retry.
        backend: ``local`` (this process) or ``ray`` (Ray worker processes; ``concurrency`` is then per worker).
        workers: Ray workers, or None for one per CPU of the Ray cluster.
        ray_address: The Ray cluster to join, or None to start a local Ray on loopback (or use the session
            this process already has).
    """

    program: str
    input: Path
    output: Path
    id_field: str = DEFAULT_ID_FIELD
    concurrency: int = DEFAULT_CONCURRENCY
    resume: bool = False
    overwrite: bool = False
    limit: int | None = None
    retries: int = 0
    input_format: str | None = None
    model: str | None = None
    api_base: str | None = None
    ignore_extra_fields: bool = False
    progress: str = "auto"
    grace_s: float = DEFAULT_GRACE_S
    retry_backoff: float = DEFAULT_RETRY_BACKOFF_S
    backend: str = DEFAULT_BACKEND
    workers: int | None = None
    ray_address: str | None = None

    def resume_command(self) -> str:
        """The command that continues this run where it stopped (``--overwrite`` dropped, ``--resume`` added)."""
        parts = ["sharedlm", "run", self.program, "--input", str(self.input), "--output", str(self.output)]
        if self.id_field != "id":
            parts += ["--id-field", self.id_field]
        parts += ["--concurrency", str(self.concurrency)]
        if self.limit is not None:
            parts += ["--limit", str(self.limit)]
        if self.retries:
            parts += ["--retries", str(self.retries)]
        if self.input_format is not None:
            parts += ["--format", self.input_format]
        if self.model is not None:
            parts += ["--model", self.model]
        if self.api_base is not None:
            parts += ["--api-base", self.api_base]
        if self.ignore_extra_fields:
            parts.append("--ignore-extra-fields")
        if self.backend != DEFAULT_BACKEND:
            parts += ["--backend", self.backend]
        if self.workers is not None:
            parts += ["--workers", str(self.workers)]
        if self.ray_address is not None:
            parts += ["--ray-address", self.ray_address]
        parts.append("--resume")
        return shlex.join(parts)


def _check_numbers(options: RunOptions) -> None:
    if options.concurrency < 1:
        raise UsageError(f"--concurrency must be >= 1, got {options.concurrency}")
    if options.retries < 0:
        raise UsageError(f"--retries must be >= 0, got {options.retries}")
    if options.limit is not None and options.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {options.limit}")
    if options.grace_s < 0:
        raise UsageError(f"--grace must be >= 0 seconds, got {options.grace_s}")
    check_backend(options.backend, workers=options.workers, ray_address=options.ray_address, flags=True)


def check_backend(backend: str, *, workers: int | None, ray_address: str | None, flags: bool = False) -> None:
    """Fail with a usage error when the backend options do not fit together, or Ray is needed but missing.

    Args:
        backend: ``local`` or ``ray``.
        workers: Ray workers, or None.
        ray_address: The Ray cluster's address, or None.
        flags: Name the options as command-line flags in messages (else as keyword arguments).
    """
    def name(flag: str, keyword: str) -> str:
        return flag if flags else keyword

    if backend not in BACKENDS:
        raise UsageError(f"{name('--backend', 'backend')} must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "ray":
        given = [name(flag, keyword) for flag, keyword, value in (("--workers", "workers", workers),
                                                                 ("--ray-address", "ray_address", ray_address))
                 if value is not None]
        if given:
            ray_backend = name("--backend ray", "backend='ray'")
            raise UsageError(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to {ray_backend}")
        return
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"{name('--workers', 'workers')} must be a whole number >= 1, got {workers!r}")
    from sharedlm.runner._ray_session import require_ray

    require_ray()


def _say(message: str, stream: IO[str] | None = None) -> None:
    print(f"sharedlm: {message}", file=stream if stream is not None else sys.stderr, flush=True)


def load_cli_program(spec: str, *, model: str | None, api_base: str | None) -> PreparedProgram:
    """Configure the shared LM, then import, construct and check ``PROGRAM``; no row is sent.

    Args:
        spec: ``PROGRAM`` as given on the command line.
        model: ``--model``, or None.
        api_base: ``--api-base``, or None.
    """
    import sharedlm
    from sharedlm._env import key_variables

    settings = sharedlm.configure(model=model, api_base=api_base)
    if settings.api_key is None:
        # The engine would refuse every call; say so once, before any row, instead of failing each row.
        variables = key_variables(settings.model)
        raise sharedlm.MissingAPIKeyError(
            f"no API key for {settings.model!r}: set {' or '.join(variables)} (any value for a local server), "
            "or pick another model with --model",
            env_keys=variables,
        )
    target = load_program_target(spec)
    shared_lm = sharedlm.get_shared_lm()
    program = build_program(target, shared_lm)
    prepared = prepare_program(program)
    _check_bound(prepared)
    return prepared


def _check_bound(prepared: PreparedProgram) -> None:
    import dspy

    unbound = unbound_predictors(prepared.program)
    if unbound and dspy.settings.lm is None:
        raise UsageError(
            f"{prepared.name} has predictors without an LM ({', '.join(unbound)}), so every row would fail: "
            "subclass sharedlm.SharedLMModule, or call sharedlm.bind_shared_lm(self, shared_lm) at the end of __init__"
        )


def execute_run(options: RunOptions) -> int:
    """Run ``sharedlm run`` and return its exit code (usage errors raise :class:`UsageError`).

    Args:
        options: The parsed command-line options.
    """
    _check_numbers(options)
    fmt = detect_format(options.input, options.input_format)
    check_input(options.input, fmt)
    check_output(options.output, resume=options.resume, overwrite=options.overwrite)
    prepared = load_cli_program(options.program, model=options.model, api_base=options.api_base)
    if options.backend == "ray":
        recipe = ProgramRecipe.from_spec(options.program, name=prepared.name)
        with open_ray_plan(recipe, workers=options.workers, ray_address=options.ray_address) as plan:
            return _execute(options, fmt, prepared, plan)
    return _execute(options, fmt, prepared, None)


@contextlib.contextmanager
def open_ray_plan(recipe: ProgramRecipe, *, workers: int | None, ray_address: str | None) -> Iterator[RayPlan]:
    """Open the Ray session for a run and plan it on the driver's shared LM settings; close the session after.

    Args:
        recipe: How workers build the program.
        workers: Ray workers, or None for one per CPU of the cluster.
        ray_address: The cluster to join, or None for the session this process has, else a new local Ray.
    """
    import os

    import dspy

    from sharedlm._singleton import get_shared_lm, shared_engines
    from sharedlm.runner._ray_session import open_ray_session

    shared_lm = get_shared_lm()
    settings = shared_engines()[1].settings
    session = open_ray_session(ray_address, num_cpus=max(os.cpu_count() or 1, workers or 0))
    try:
        yield RayPlan(session=session, workers=workers or session.cpus(), recipe=recipe, settings=settings,
                      configure_dspy_lm=dspy.settings.lm is shared_lm)
    finally:
        session.close()


def _execute(options: RunOptions, fmt: str, prepared: PreparedProgram, plan: RayPlan | None) -> int:
    skip_keys: set[str] = set()
    if options.resume:
        state = prepare_resume(options.output)
        skip_keys = state.done_keys
        if state.done_keys or state.failed or state.torn:
            _say(f"resuming {options.output}: {state.describe()}")
    total = count_rows(options.input, fmt)
    if options.limit is not None:
        total = options.limit if total is None else min(total, options.limit)
    where = "" if plan is None else (f" on {plan.workers} Ray worker{'s' if plan.workers > 1 else ''} at "
                                     f"{plan.session.address}")
    per_worker = "" if plan is None else " per worker"
    _say(f"running {prepared.name} over {options.input} -> {options.output}{where} (concurrency "
         f"{options.concurrency}{per_worker}, results in completion order)")
    report = asyncio.run(run_to_file(
        prepared,
        read_rows(options.input, fmt),
        output=options.output,
        truncate=options.overwrite,
        total=total,
        concurrency=options.concurrency,
        id_field=options.id_field,
        retries=options.retries,
        retry_backoff=options.retry_backoff,
        ignore_extra_fields=options.ignore_extra_fields,
        limit=options.limit,
        skip_keys=skip_keys,
        progress=options.progress,
        grace_s=options.grace_s,
        ray=plan,
    ))
    print_summary(report)
    if report.interrupted:
        _say(f"interrupted; {report.not_run:,} rows in flight were not written. Finished rows are in {options.output}. "
             f"To run the rest:\n  {options.resume_command()}")
    elif report.failure:
        _say(f"the run could not finish: {report.failure}. Finished rows are in {options.output}. To run the rest:\n"
             f"  {options.resume_command()}")
    elif report.failed:
        _say(f"{report.failed:,} rows failed (their errors are in {options.output}); to retry only those:\n"
             f"  {options.resume_command()}")
    return report.exit_code


async def run_to_file(
    program: PreparedProgram,
    rows: Iterable[SourceRow] | AsyncIterable[SourceRow],
    *,
    output: Path,
    truncate: bool = False,
    total: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    id_field: str = DEFAULT_ID_FIELD,
    retries: int = 0,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF_S,
    ignore_extra_fields: bool = False,
    limit: int | None = None,
    skip_keys: Container[str] | None = None,
    record_history: bool = False,
    progress: str = "auto",
    grace_s: float = DEFAULT_GRACE_S,
    label: str | None = None,
    stream: IO[str] | None = None,
    ray: RayPlan | None = None,
) -> RunReport:
    """Stream ``rows`` through ``program``, appending each result to ``output`` as it finishes.

    Args:
        program: The prepared program.
        rows: The input rows, read lazily.
        output: The output JSONL file (appended to).
        truncate: Empty ``output`` first.
        total: Rows expected, for progress, or None.
        concurrency: The most rows in flight at once.
        id_field: The field holding a row's id.
        retries: Extra attempts for a failed row.
        retry_backoff: Seconds before a row's first retry.
        ignore_extra_fields: Drop row fields the program does not take.
        limit: Take at most this many rows.
        skip_keys: Id keys of rows already done.
        record_history: Keep DSPy's call history during the run (off: it would hold 10,000 calls in memory).
        progress: ``auto``, ``rich``, ``plain`` or ``off``.
        grace_s: Seconds rows in flight may take to finish after Ctrl-C.
        label: What progress calls the run; the program's name by default.
        stream: Where progress and messages go; stderr by default.
        ray: Run the rows on Ray workers as planned (``concurrency`` is then per worker), or None to run them here.
    """
    runner: RowRunner | RayRowRunner
    engine: Callable[[], dict[str, Any] | None]
    if ray is None:
        runner = RowRunner(program, concurrency=concurrency, id_field=id_field, retries=retries,
                           retry_backoff=retry_backoff, skip_keys=skip_keys, ignore_extra_fields=ignore_extra_fields,
                           limit=limit, record_history=record_history)
        engine = engine_stats
    else:
        runner = RayRowRunner(ray, program, concurrency=concurrency, id_field=id_field, retries=retries,
                              retry_backoff=retry_backoff, skip_keys=skip_keys,
                              ignore_extra_fields=ignore_extra_fields, limit=limit)
        engine = runner.engine_stats
        starting = time.monotonic()
        await runner.start()  # workers that cannot start fail the run before the output is touched
        _say(f"{ray.workers} Ray worker{'s' if ray.workers > 1 else ''} ready in {time.monotonic() - starting:.1f}s "
             f"(each with its own shared LM: max_parallel_requests {ray.worker_settings().max_parallel_requests})",
             stream)
    interrupts = InterruptHandler(runner, grace_s=grace_s, stream=stream)
    started = time.monotonic()
    with ResultWriter(output, truncate=truncate) as writer:
        interrupts.install()
        display = start_progress(runner.counters, total=total, label=label or program.name, mode=progress,
                                 stream=stream, engine=engine)
        try:
            async for result in runner.results(rows):
                writer.write(result)
        finally:
            await display.close()
            interrupts.uninstall()
    return RunReport.from_counters(runner.counters, not_run=runner.counters.cancelled,
                                   wall_s=time.monotonic() - started, interrupted=interrupts.interrupted,
                                   output=output, engine=engine(), failure=getattr(runner, "failure", None),
                                   workers=None if ray is None else ray.workers)


__all__ = ["RunOptions", "check_backend", "execute_run", "load_cli_program", "open_ray_plan", "run_to_file"]
