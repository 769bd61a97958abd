"""``sharedlm run``: from command-line options to a finished output file and an exit code.

Everything that can be wrong with the command (options, input file, output file, configuration, the
PROGRAM itself) is checked before the first row is sent, and fails with a usage error (exit code 2). The
run holds the output's lock (:mod:`sharedlm.runner._lock`) from before it looks at the output until the
end, so a second run on the same output fails at once. A ``--resume`` checks the input against the
fingerprint the earlier run left (:mod:`sharedlm.runner._fingerprint`) before it changes anything. Then
:func:`~sharedlm.runner._file_runner.run_to_file` streams the rows through the program, appending each result
to the output as it finishes, with progress, Ctrl-C handling and a summary.

With ``--backend ray`` the rows run on Ray worker processes instead (:mod:`sharedlm.runner._ray._runner`):
Ray is checked for before anything else, the session is opened (a local Ray on loopback, or the cluster at
``--ray-address``) after the program loads on the driver, and the workers start before the output is
touched; reading, resume, writing, progress, signals and the summary stay here, in this process.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharedlm._batch._options import DEFAULT_LINGER_S, DEFAULT_POLL_INITIAL_S
from sharedlm._errors import UsageError
from sharedlm.runner._backend import check_backend, open_ray_plan
from sharedlm.runner._cost import Prices, RunCost, price_arguments
from sharedlm.runner._defaults import (
    DEFAULT_BACKEND,
    DEFAULT_CONCURRENCY,
    DEFAULT_GRACE_S,
    DEFAULT_ID_FIELD,
    DEFAULT_RETRY_BACKOFF_S,
)
from sharedlm.runner._file_runner import run_to_file
from sharedlm.runner._file_runner import say as _say
from sharedlm.runner._fingerprint import (
    ContentDigest,
    FingerprintRecorder,
    check_resume_input,
    load_fingerprint,
    state_digest,
)
from sharedlm.runner._lock import OutputLock
from sharedlm.runner._options import RowOptions
from sharedlm.runner._program import (
    PreparedProgram,
    build_program,
    load_program_target,
    prepare_program,
    unbound_predictors,
)
from sharedlm.runner._ray._program import ProgramRecipe
from sharedlm.runner._ray._runner import RayPlan
from sharedlm.runner._readers import (
    check_finished_ids,
    check_ids,
    check_input,
    count_rows,
    detect_format,
    read_rows,
)
from sharedlm.runner._resume import compact_output, scan_output
from sharedlm.runner._run_cost import (
    EarlierSpend,
    build_run_cost,
    check_cost_options,
    earlier_spend,
    execute_dry_run,
    say_spend_cap,
    start_spend_journal,
)
from sharedlm.runner._saved_state import read_state_file
from sharedlm.runner._summary import print_summary
from sharedlm.runner._writer import check_output


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The options of ``sharedlm run`` (see ``sharedlm run --help``).

    Args:
        program: ``path/to/file.py:NAME`` or ``package.module:NAME`` (a program class, factory or instance).
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
        shared_budget: With ``backend="ray"``: one coordinator leases the job's in-flight cap to the workers, so
            it follows the rows, instead of a fixed 1/``workers`` share each.
        encoding: The text encoding of a JSONL or CSV input, or None for UTF-8.
        max_cost: A hard spend cap in USD for the output (earlier runs included on resume), or None.
        price: The user's prices, in USD per million tokens, or None for the prices in DSPy's bundled model
            metadata: the ``--price`` values (``prompt=0.15,completion=0.6`` for the default model,
            ``MODEL=prompt=..,completion=..`` for MODEL), one or a sequence of them, or a mapping of model strings to
            ``prompt=..,completion=..`` or a :class:`~sharedlm._pricing.ModelPrice` (see
            :func:`~sharedlm.runner._cost.resolve_prices`).
        dry_run: Run this many rows spread over the input and project the whole run, or None for a real run.
        batch: Send every LM call through the provider's batch API; batch ids are journaled beside the output.
        batch_linger: Seconds without a new call before the calls queued so far go as one batch.
        batch_poll: Seconds before a batch is first polled (doubling up to a minute).
        load: A program state file (``program.save("STATE.json")``) loaded into the program before the first row,
            or None.
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
    shared_budget: bool = False
    encoding: str | None = None
    max_cost: float | None = None
    price: Prices | None = None
    dry_run: int | None = None
    batch: bool = False
    batch_linger: float = DEFAULT_LINGER_S
    batch_poll: float = DEFAULT_POLL_INITIAL_S
    load: Path | None = None

    @functools.cached_property
    def row_options(self) -> RowOptions:
        """The run's :class:`RowOptions`, built once; DSPy's call history off (it would hold 10,000 calls in memory).

        Raises:
            UsageError: Naming the option whose value is out of range.
        """
        return RowOptions(concurrency=self.concurrency, id_field=self.id_field, retries=self.retries,
                          retry_backoff=self.retry_backoff, ignore_extra_fields=self.ignore_extra_fields,
                          limit=self.limit, grace_s=self.grace_s, record_history=False)

    def resume_command(self, *, max_cost: float | None = None) -> str:
        """The command that continues this run where it stopped (``--overwrite`` dropped, ``--resume`` added).

        Args:
            max_cost: The spend cap the command sets, instead of this run's ``--max-cost``.
        """
        parts = ["sharedlm", "run", self.program, "--input", str(self.input), "--output", str(self.output)]
        if self.load is not None:
            parts += ["--load", str(self.load)]
        if self.id_field != "id":
            parts += ["--id-field", self.id_field]
        parts += ["--concurrency", str(self.concurrency)]
        if self.limit is not None:
            parts += ["--limit", str(self.limit)]
        if self.retries:
            parts += ["--retries", str(self.retries)]
        if self.input_format is not None:
            parts += ["--format", self.input_format]
        if self.encoding is not None:
            parts += ["--encoding", self.encoding]
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
        if self.shared_budget:
            parts.append("--shared-budget")
        cap = max_cost if max_cost is not None else self.max_cost
        if cap is not None:
            parts += ["--max-cost", f"{cap:g}"]
        parts += price_arguments(self.price)  # each model's price, as given
        if self.batch:
            parts.append("--batch")
            if self.batch_linger != DEFAULT_LINGER_S:
                parts += ["--batch-linger", f"{self.batch_linger:g}"]
            if self.batch_poll != DEFAULT_POLL_INITIAL_S:
                parts += ["--batch-poll", f"{self.batch_poll:g}"]
        parts.append("--resume")
        return shlex.join(parts)


def _check_options(options: RunOptions) -> None:
    _ = options.row_options  # the row options are validated where they are built
    # Options that do not go together are named first, before whether this machine has what they need.
    check_cost_options(options)
    if options.batch and options.backend == "ray":
        raise UsageError("--batch runs the rows in this process and its shared LM; drop --backend ray")
    if options.batch and options.dry_run is not None:
        raise UsageError("--dry-run sends its sample rows online to project the run; drop --batch for it")
    check_backend(options.backend, workers=options.workers, ray_address=options.ray_address, flags=True,
                  shared_budget=options.shared_budget)
    if options.load is not None:
        read_state_file(options.load)  # a missing or unreadable state is named before the output is touched




def load_cli_program(spec: str, *, model: str | None, api_base: str | None,
                     load: Path | None = None) -> PreparedProgram:
    """Configure the shared LM, then import, build and check ``PROGRAM`` (its saved state loaded); no row is sent.

    Args:
        spec: ``PROGRAM`` as given on the command line.
        model: ``--model``, or None.
        api_base: ``--api-base``, or None.
        load: ``--load``: a saved program state to load into the program, or None.
    """
    from sharedlm._env import key_variables
    from sharedlm._errors import MissingAPIKeyError
    from sharedlm._singleton import configure, get_shared_lm

    settings = configure(model=model, api_base=api_base)
    if settings.api_key is None:
        # The engine would refuse every call; say so once, before any row, instead of failing each row.
        variables = key_variables(settings.model)
        raise MissingAPIKeyError(
            f"no API key for {settings.model!r}: set {' or '.join(variables)} (any value for a local server), "
            "or pick another model with --model",
            env_keys=variables,
        )
    target = load_program_target(spec)
    shared_lm = get_shared_lm()
    program = build_program(target, shared_lm, load=load)
    prepared = prepare_program(program)
    _check_bound(prepared)
    return prepared


def _check_bound(prepared: PreparedProgram) -> None:
    import dspy

    unbound = unbound_predictors(prepared.program)
    if unbound and dspy.settings.lm is None:
        raise UsageError(
            f"{prepared.name} has predictors without an LM ({', '.join(unbound)}), so every row would fail: "
            "bind them with sharedlm.bind_shared_lm(program) (sharedlm run does it for a dspy.Module it builds)"
        )


def execute_run(options: RunOptions) -> int:
    """Run ``sharedlm run`` and return its exit code (usage errors raise :class:`UsageError`).

    Args:
        options: The parsed command-line options.
    """
    _check_options(options)
    fmt = detect_format(options.input, options.input_format)
    check_input(options.input, fmt, encoding=options.encoding)
    # A row reported under its number and another giving that number as its id would share one id: refuse now.
    check_ids(options.input, fmt, id_field=options.id_field, encoding=options.encoding, limit=options.limit)
    if options.dry_run is not None:  # the output is not touched: not locked, not checked, not written
        prepared = load_cli_program(options.program, model=options.model, api_base=options.api_base,
                                    load=options.load)
        return execute_dry_run(options, fmt, prepared, lambda: read_rows(options.input, fmt, encoding=options.encoding))
    with OutputLock(options.output):  # first, so a second run on this output is refused before anything else
        check_output(options.output, resume=options.resume, overwrite=options.overwrite, input_path=options.input,
                     load_path=options.load)
        prepared = load_cli_program(options.program, model=options.model, api_base=options.api_base,
                                    load=options.load)
        if options.batch:
            from sharedlm.runner._batch_mode import check_batch_provider

            check_batch_provider()  # before anything is sent
        if options.backend == "ray":
            recipe = ProgramRecipe.from_spec(options.program, name=prepared.name, load=options.load)
            with open_ray_plan(recipe, workers=options.workers, ray_address=options.ray_address,
                               shared_budget=options.shared_budget) as plan:
                return _execute(options, fmt, prepared, plan)
        return _execute(options, fmt, prepared, None)


async def _in_batch_mode(work: Any, options: RunOptions, cost: RunCost) -> Any:
    """Run ``work`` with every LM call sent through the provider's batch API, journaled beside the output; the
    cost lines at the end price each model at ``cost``'s price for it (its ``--price``, else the bundled one)."""
    from sharedlm._batch import BatchOptions
    from sharedlm.runner._batch_mode import batch_mode, journal_path_for, say

    journal = journal_path_for(options.output)
    if options.overwrite and not options.resume:
        # A fresh run must not reuse the answers of the batches it replaces: the default model's and every other's.
        journal.unlink(missing_ok=True)
        stem = journal.name[:-len(".json")]
        for other in journal.parent.glob(f"{glob.escape(stem)}.*.json"):
            other.unlink(missing_ok=True)
    batch_options = BatchOptions(linger=options.batch_linger, poll_initial=options.batch_poll, journal=journal)
    async with batch_mode(batch_options, report=None if options.progress == "off" else say, prices=cost.price_for):
        return await work


def _prepare_resume(options: RunOptions, fmt: str) -> tuple[set[str], FingerprintRecorder]:
    """Check the input against the earlier run's fingerprint, then compact the output; the done ids and a recorder.

    Nothing is changed when the check refuses the resume.
    """
    scan = scan_output(options.output)
    state = scan.state
    base = load_fingerprint(options.output) if state.done_keys else None
    if state.done_keys:
        if base is None:
            _say(f"warning: {options.output} has no input fingerprint beside it (written by an older sharedlm, or "
                 "by another tool), so this resume cannot check that the input did not change since")
        else:
            check_resume_input(base, input_path=options.input, fmt=fmt, id_field=options.id_field,
                               output=options.output, state=options.load, state_sha256=state_digest(options.load))
            if not base.positional_ids:  # every finished id was a row's own: none may now be a row's number
                check_finished_ids(options.input, fmt, id_field=options.id_field, finished=state.done_keys,
                                   output=options.output, encoding=options.encoding, limit=options.limit)
    compact_output(options.output, scan)
    if state.done_keys or state.failed or state.torn:
        _say(f"resuming {options.output}: {state.describe()}")
    return state.done_keys, _recorder(options, fmt, base)


def _recorder(options: RunOptions, fmt: str, base: Any = None) -> FingerprintRecorder:
    return FingerprintRecorder(options.output, input_path=options.input, fmt=fmt, id_field=options.id_field,
                               digest=ContentDigest(), base=base, state_sha256=state_digest(options.load))


def _execute(options: RunOptions, fmt: str, prepared: PreparedProgram, plan: RayPlan | None) -> int:
    # What earlier runs of the output spent counts toward the cap and the summary: from its spend journal, read
    # before a resume drops failed lines. A new output (none yet) and --overwrite start over.
    earlier = EarlierSpend() if options.overwrite or not options.output.exists() else earlier_spend(options.output)
    # A cap on a model without a price is refused here, before the output changes.
    cost = build_run_cost(options, spent_before=earlier.usd)
    cost.unsettled_before = earlier.unsettled
    skip_keys: set[str] = set()
    if options.resume:
        skip_keys, recorder = _prepare_resume(options, fmt)
    else:
        recorder = _recorder(options, fmt)
    total = count_rows(options.input, fmt)
    if options.limit is not None:
        total = options.limit if total is None else min(total, options.limit)
    where = "" if plan is None else (f" on {plan.workers} Ray worker{'s' if plan.workers > 1 else ''} at "
                                     f"{plan.session.address}")
    per_worker = "" if plan is None else " per worker"
    _say(f"running {prepared.name} over {options.input} -> {options.output}{where} (concurrency "
         f"{options.concurrency}{per_worker}, results in completion order)")
    # Every call is booked in the journal before it is sent and settled after; Ray workers' calls are not seen
    # here, so a Ray run records its rows' cost at its end instead.
    cost.journal = journal = start_spend_journal(options, earlier, ray=plan is not None)
    try:
        work = run_to_file(
            prepared,
            read_rows(options.input, fmt, encoding=options.encoding, digest=recorder.digest),
            output=options.output,
            truncate=options.overwrite,
            total=total,
            options=options.row_options,
            skip_keys=skip_keys,
            progress=options.progress,
            ray=plan,
            fingerprint=recorder,
            cost=cost if plan is None else None,
        )
        report = asyncio.run(_in_batch_mode(work, options, cost) if options.batch else work)
        if plan is not None:
            journal.carry(report.cost_usd, 0 if report.cost_usd is not None else 1)
    finally:
        journal.close()
    print_summary(report)
    if report.missing_ids:
        _say(f"{report.missing_ids:,} ids of {options.output} are no longer in {options.input}; their lines stay in "
             "the output")
    if report.interrupted:
        _say(f"interrupted; {report.not_run:,} rows in flight were not written. Finished rows are in {options.output}. "
             f"To run the rest:\n  {options.resume_command()}")
    elif report.spend_capped:
        say_spend_cap(report, options, say=_say)
    elif report.failure:
        _say(f"the run could not finish: {report.failure}. Finished rows are in {options.output}. To run the rest:\n"
             f"  {options.resume_command()}")
    elif report.failed:
        _say(f"{report.failed:,} rows failed (their errors are in {options.output}); to retry only those:\n"
             f"  {options.resume_command()}")
    return report.exit_code


__all__ = ["RunOptions", "check_backend", "execute_run", "load_cli_program", "open_ray_plan", "run_to_file"]
