"""The ``sharedlm run`` and ``sharedlm demo`` subcommands: argument parsing only.

Handlers import the runner (and with it DSPy) when they run, so ``sharedlm --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sharedlm._cli_types import real_number, whole_number
from sharedlm._errors import UsageError

RUN_DESCRIPTION = """\
Run a DSPy program over every row of a JSONL, CSV or Parquet file through the shared LM, streaming: rows are
read as they are needed, so memory stays bounded by --concurrency. Each row's fields (minus the id field) are
passed as keyword arguments to the program's async entry point (acall/aforward), or to its sync __call__ in a
worker thread.

PROGRAM is path/to/file.py:NAME or package.module:NAME, and NAME any DSPy program: a class (a
sharedlm.SharedLMModule, or any class whose constructor takes shared_lm, is constructed with shared_lm=<the
shared LM>; any other class, a plain dspy.Module included, with no arguments), a factory function (called with
shared_lm= if it takes it, else with no arguments), or a program instance. A dspy.Module's predictors are bound
to this process's shared LMs: one holding a plain dspy.LM to the shared LM for its model (dspy.LM("openai/gpt-4o")
becomes the shared LM for openai/gpt-4o, keeping its sampling settings), one holding none to the default shared LM.
The default model comes from --model or SHAREDLM_MODEL; other models' settings from SHAREDLM_MODELS, a JSON object
(SHAREDLM_MODELS='{"openai/gpt-4o": {"rpm": 500}}'), else the default model's (key and base URL for the same
provider). Every model shares one connection pool and keeps its own flow control; the summary shows each one.
--load STATE.json loads a state saved with program.save("STATE.json") (an optimizer's result) into the program
before the first row; a missing file, or one saved from another program, is a usage error.

The output is JSONL, one line per input row, in completion order (join on "id"):
  {"id": ..., "output": {...prediction fields...} | null, "error": null | {"type": ..., "message": ...},
   "attempts": 1, "latency_s": 0.41, "usage": {"prompt_tokens": ..., "completion_tokens": ...},
   "cost_usd": 0.0000717 | null}
A row without an id gets its line number (JSONL) or data row number (CSV, Parquet) as id, and so does an unreadable
one. Ids are matched as text (7 and "7" are one id) and must be unique: a later row repeating another row's own id
is written as an error row and not run; a row whose own id is the number of a row without one is refused before
anything runs (exit 2). Unreadable lines and rows whose fields do not match the program's inputs are written as
error rows; the run goes on.

Ctrl-C (or SIGTERM) stops taking rows, gives rows in flight a few seconds to finish, then cancels the rest
(not written) and prints the command to resume. A second Ctrl-C cancels at once.

Exit codes: 0 every row succeeded, 1 some rows failed (the output is still complete), 2 usage or
configuration error (nothing was sent), 3 the spend cap (--max-cost) stopped the run, 130 interrupted.

Cost: every row is priced at the model's price from DSPy's bundled model metadata (a snapshot of LiteLLM's price
map; never fetched from the network), as "cost_usd" on its line (null when the model has no known price: cost
unknown, never 0), live in the progress line and per model in the summary. --price supplies a price the metadata
lacks, in USD per million tokens: prompt=0.15,completion=0.6 prices the default model (--model), and
MODEL=prompt=0.15,completion=0.6 prices MODEL (as the program names it: a judge, a teacher, a second step);
give --price once per model. --max-cost USD is a hard cap: each LM call books its worst case (prompt estimate
plus max_tokens, or the model's largest answer without max_tokens) before it is sent and is refunded from the
real usage after, so concurrency cannot overshoot it; when the next row may not fit, no more rows start, rows in
flight finish, and the run exits 3 printing the command that goes on with a higher cap. With --resume, what the
output's earlier lines cost counts toward the cap. --dry-run N runs N rows spread over the input and prints the
projected cost, tokens and time of the whole run; the output file is not touched.

With --backend ray (pip install 'sharedlm[ray]'), rows run in --workers Ray worker processes, each with its own
shared LM: without --ray-address a local Ray starts on this machine (loopback only); with one, the run joins
that cluster (PROGRAM and sharedlm must be importable on its nodes). --concurrency is then rows in flight per
worker, while the job's in-flight cap and rate budgets (SHAREDLM_MAX_PARALLEL_REQUESTS, SHAREDLM_RPM,
SHAREDLM_TPM) hold for all workers together: each worker gets 1/N of them. This process reads the input and
writes the output, so resume, ids, error rows and exit codes are the same; rows a dead worker had in flight
run again on another.

The model, key and limits come from the environment (SHAREDLM_MODEL, SHAREDLM_API_KEY or the provider's key
variable, SHAREDLM_API_BASE, SHAREDLM_MAX_PARALLEL_REQUESTS, ...); --model and --api-base override them.
"""

DEMO_DESCRIPTION = """\
Run the example ExtractionPipeline (extract entities and a summary from a customer message, then judge its
sentiment and urgency) over a bundled dataset of support tickets and product reviews, against a local LLM
simulator started in a subprocess: no API key, no network. Shows live progress and a summary, and writes the
results as JSONL (the same format as `sharedlm run`).
"""


_positive_int = whole_number(low=1)
_non_negative_int = whole_number(low=0)
_non_negative_float = real_number("a number of seconds", low=0)


def register(subparsers: Any) -> None:
    """Add the ``run`` and ``demo`` subcommands.

    Args:
        subparsers: The top-level parser's subparsers object.
    """
    from sharedlm.runner._defaults import (
        BACKENDS,
        DEFAULT_BACKEND,
        DEFAULT_CONCURRENCY,
        DEFAULT_DEMO_CONCURRENCY,
        DEFAULT_DEMO_LATENCY_S,
        DEFAULT_GRACE_S,
    )

    run = subparsers.add_parser("run", help="run a DSPy program over every row of a file, resumably",
                                description=RUN_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("program", metavar="PROGRAM",
                     help="path/to/file.py:NAME or package.module:NAME: a program class (constructed with "
                          "shared_lm=<the shared LM> if it takes it, else with no arguments), a factory function or "
                          "a program instance; a dspy.Module's predictors are bound to the shared LM of their model")
    run.add_argument("--load", type=Path, metavar="STATE.json",
                     help="load a saved program state (what program.save('STATE.json') writes, e.g. after "
                          "optimizing) into PROGRAM before the first row")
    run.add_argument("--input", "-i", required=True, type=Path, metavar="FILE", help="input .jsonl, .csv or .parquet")
    run.add_argument("--output", "-o", required=True, type=Path, metavar="FILE", help="output .jsonl")
    run.add_argument("--id-field", default="id", metavar="NAME", help="the field holding each row's id (default: id)")
    run.add_argument("--concurrency", "-c", type=_positive_int, default=DEFAULT_CONCURRENCY, metavar="N",
                     help=f"rows in flight at once, per worker with --backend ray (default: {DEFAULT_CONCURRENCY})")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue an earlier run into the same output: skip rows that succeeded, retry failed ones")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    run.add_argument("--limit", type=_positive_int, metavar="N", help="take only the first N input rows")
    run.add_argument("--retries", type=_non_negative_int, default=0, metavar="N",
                     help="extra attempts for a failed row, on top of the engine's own retries of each call "
                          "(default: 0)")
    run.add_argument("--format", dest="input_format", choices=("jsonl", "csv", "parquet"),
                     help="input format (default: from the file suffix)")
    run.add_argument("--encoding", metavar="NAME",
                     help="text encoding of a JSONL or CSV input, e.g. cp1252 for a CSV saved by Excel on Windows "
                          "(default: utf-8)")
    run.add_argument("--model", help="model string, e.g. openai/gpt-4o-mini (default: $SHAREDLM_MODEL)")
    run.add_argument("--api-base", metavar="URL", help="provider base URL (default: $SHAREDLM_API_BASE)")
    run.add_argument("--ignore-extra-fields", action="store_true",
                     help="drop row fields the program does not take instead of failing those rows")
    run.add_argument("--progress", choices=("auto", "rich", "plain", "off"), default="auto",
                     help="progress on stderr: auto = live display on a terminal, a line every few seconds otherwise")
    run.add_argument("--grace", dest="grace_s", type=_non_negative_float, default=DEFAULT_GRACE_S, metavar="SECONDS",
                     help=f"after Ctrl-C, how long rows in flight may take to finish (default: {DEFAULT_GRACE_S:g})")
    run.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND,
                     help="where rows run: local (this process) or ray (Ray worker processes; needs "
                          f"pip install 'sharedlm[ray]') (default: {DEFAULT_BACKEND})")
    run.add_argument("--workers", type=_positive_int, metavar="N",
                     help="with --backend ray: worker processes, each with its own shared LM and 1/N of the job's "
                          "budget (default: one per CPU of the Ray cluster)")
    run.add_argument("--ray-address", metavar="ADDRESS",
                     help="with --backend ray: the Ray cluster to join (host:port of its head, or auto); "
                          "default: start a local Ray on 127.0.0.1 for this run")
    run.add_argument("--shared-budget", action="store_true",
                     help="with --backend ray: one coordinator leases the job's in-flight cap to the workers in "
                          "blocks that follow the rows, instead of a fixed 1/N share each (a lost worker's lease "
                          "comes back after 10 s)")
    run.add_argument("--max-cost", type=real_number("a number of USD", low=0), metavar="USD",
                     help="hard spend cap in USD for this output (earlier runs included with --resume): stop "
                          "starting rows when the next may not fit, finish rows in flight, exit 3")
    run.add_argument("--price", metavar="[MODEL=]PRICES", action="append",
                     help="a model's price in USD per million tokens, for a model DSPy's metadata does not price "
                          "(or to override it): prompt=0.15,completion=0.6[,cached=0.075] (also batch_prompt=, "
                          "batch_completion=) prices the default model; MODEL=prompt=..,completion=.. prices MODEL, "
                          "as the program names it. Repeat it for each model")
    run.add_argument("--dry-run", type=_positive_int, metavar="N",
                     help="run N rows spread over the input, print the projected cost, tokens and time of the "
                          "whole run, and leave the output file untouched")
    run.add_argument("--batch", action="store_true",
                     help="send every LM call through the provider's batch API (OpenAI, Anthropic, Gemini: half "
                          "price, results within 24 h); batch ids are saved beside the output, so --resume "
                          "reattaches to them and never pays twice")
    run.add_argument("--batch-linger", type=_non_negative_float, default=None, metavar="SECONDS",
                     help="with --batch: submit the calls queued so far after this long without a new one "
                          "(default: 10)")
    run.add_argument("--batch-poll", type=_non_negative_float, default=None, metavar="SECONDS",
                     help="with --batch: first poll of a batch after this long, doubling up to a minute (default: 5)")
    run.set_defaults(handler=_handle_run)

    demo = subparsers.add_parser("demo", help="run the example pipeline on a local simulator (no key, no network)",
                                 description=DEMO_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--rows", type=_positive_int, default=None, metavar="N",
                      help="how many rows to run (default: all of the bundled dataset)")
    demo.add_argument("--concurrency", "-c", type=_positive_int, default=DEFAULT_DEMO_CONCURRENCY, metavar="N",
                      help=f"rows in flight at once (default: {DEFAULT_DEMO_CONCURRENCY})")
    demo.add_argument("--latency", type=_non_negative_float, default=DEFAULT_DEMO_LATENCY_S, metavar="SECONDS",
                      help=f"simulated provider latency per call (default: {DEFAULT_DEMO_LATENCY_S:g})")
    demo.add_argument("--output", "-o", type=Path, metavar="FILE",
                      help="where to write the results (replaced if it exists; default: a new temporary directory)")
    demo.add_argument("--progress", choices=("auto", "rich", "plain", "off"), default="auto",
                      help="progress on stderr (default: auto)")
    demo.set_defaults(handler=_handle_demo)


def _handle_run(args: argparse.Namespace) -> int:
    from sharedlm._batch._options import DEFAULT_LINGER_S, DEFAULT_POLL_INITIAL_S
    from sharedlm.runner._run import RunOptions, execute_run

    given = [flag for flag, value in (("--batch-linger", args.batch_linger), ("--batch-poll", args.batch_poll))
             if value is not None]
    if given and not args.batch:
        raise UsageError(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to --batch; add --batch "
                         f"or drop {' and '.join(given)}")
    return execute_run(RunOptions(
        program=args.program, input=args.input, output=args.output, id_field=args.id_field,
        concurrency=args.concurrency, resume=args.resume, overwrite=args.overwrite, limit=args.limit,
        retries=args.retries, input_format=args.input_format, model=args.model, api_base=args.api_base,
        ignore_extra_fields=args.ignore_extra_fields, progress=args.progress, grace_s=args.grace_s,
        backend=args.backend, workers=args.workers, ray_address=args.ray_address, shared_budget=args.shared_budget,
        max_cost=args.max_cost, price=tuple(args.price) if args.price else None, dry_run=args.dry_run,
        encoding=args.encoding,
        batch=args.batch,
        batch_linger=DEFAULT_LINGER_S if args.batch_linger is None else args.batch_linger,
        batch_poll=DEFAULT_POLL_INITIAL_S if args.batch_poll is None else args.batch_poll,
        load=args.load,
    ))


def _handle_demo(args: argparse.Namespace) -> int:
    from sharedlm.runner._demo import run_demo

    return run_demo(rows=args.rows, concurrency=args.concurrency, latency=args.latency, output=args.output,
                    progress=args.progress)


__all__ = ["register"]
