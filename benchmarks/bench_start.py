"""The start of a burst, over HTTP and over HTTPS, with and without connections opened during the first window's wait.

1,000 two-step workflows (the benchmark's extraction pipeline) at 1 s latency against the simulator in its own
process, as a first run (one warm-up workflow, nothing remembered). Two variants of sharedlm side by side:

- ``warm``: as shipped. While the first window holds the burst back and nothing has come back, the connections the
  held-back calls will take open in the idle wait.
- ``cold``: the same with that turned off (the pacer's ``warm_connections`` unset), so the connections open only
  when the window opens, as before.

Every hosted provider is HTTPS, where each new connection is a TLS handshake as well; the simulator serves HTTPS with
a self-signed certificate made for the run (``SSL_CERT_FILE`` trusts it). Each job is a fresh process; the jobs of one
scheme alternate (warm, cold, cold, warm, ...) so that drift of the machine falls on both alike.

    python benchmarks/bench_start.py [--workflows N] [--repeats R] [--latency S] [--json FILE]

Prints each job and, per scheme, the median wall time of each variant and their ratio. Exit code 0 when every job
completed every workflow, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORKER_FLAG = "--worker"
RESULT_MARKER = "BENCH-START-RESULT "
JOB_TIMEOUT_S = 300.0


def _self_signed(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, written to ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


async def _measure(job: dict[str, Any]) -> dict[str, Any]:
    import sharedlm
    from sharedlm._singleton import current_engine
    from sharedlm.bench._workflow import ExtractionPipeline, workflow_input

    sharedlm.configure(model="openai/bench-model", api_key="sk-bench-start", api_base=job["base_url"], cache=False)
    pipeline = ExtractionPipeline(sharedlm.get_shared_lm())
    await pipeline.acall(input_data=workflow_input(job["workflows"]))  # warm-up: DSPy's caches, one connection
    engine = current_engine()
    if job["variant"] == "cold":
        engine.pacer.warm_connections = None
    opened_before = engine.transport.connections_opened

    async def one(index: int) -> bool:
        try:
            await pipeline.acall(input_data=workflow_input(index))
        except Exception:
            return False
        return True

    started, cpu = time.perf_counter(), time.process_time()
    outcomes = await asyncio.gather(*(one(i) for i in range(job["workflows"])))
    wall = time.perf_counter() - started
    return {"variant": job["variant"], "scheme": job["scheme"], "wall_s": wall, "cpu_s": time.process_time() - cpu,
            "ok": sum(outcomes), "failed": job["workflows"] - sum(outcomes),
            "connections_opened": engine.transport.connections_opened - opened_before,
            "connections_warmed": sharedlm.stats().connections_warmed}


def _worker(spec: str) -> int:
    import sharedlm

    job = json.loads(spec)
    with sharedlm.relaxed_gc() if job["relaxed_gc"] else contextlib.nullcontext():
        result = asyncio.run(_measure(job))
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


def _run_job(job: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-start-state-") as state:
        completed = subprocess.run(
            [sys.executable, __file__, WORKER_FLAG, json.dumps(job)], capture_output=True, text=True,
            timeout=JOB_TIMEOUT_S, env={**env, "SHAREDLM_STATE_DIR": state}, check=False)
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line.removeprefix(RESULT_MARKER))
            return result
    raise RuntimeError(f"job {job} printed no result (exit {completed.returncode}): {completed.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=1000, help="two-step workflows per job (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="jobs per variant and scheme (default 3)")
    parser.add_argument("--latency", type=float, default=1.0, help="provider latency, seconds (default 1.0)")
    parser.add_argument("--schemes", default="http,https", help="which of http,https to run (default both)")
    parser.add_argument("--relaxed-gc", action="store_true", help="run each batch under sharedlm.relaxed_gc()")
    parser.add_argument("--json", type=Path, default=None, help="write every job's result as JSON")
    args = parser.parse_args(argv)

    from sharedlm.simulator import SimulatorProcess, SimulatorSettings

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    results: list[dict[str, Any]] = []
    order = [("warm", "cold")[(i + i // 2) % 2] for i in range(2 * args.repeats)]  # warm cold cold warm ...
    with tempfile.TemporaryDirectory(prefix="bench-start-tls-") as directory:
        cert, key = _self_signed(Path(directory))
        for scheme in args.schemes.split(","):
            tls = {"tls_cert": cert, "tls_key": key} if scheme == "https" else {}
            env = {**os.environ, "SSL_CERT_FILE": cert} if scheme == "https" else dict(os.environ)
            with SimulatorProcess(SimulatorSettings(latency=args.latency, jitter=0.0, **tls)) as sim:  # type: ignore[arg-type]
                for variant in order:
                    job = {"variant": variant, "scheme": scheme, "base_url": sim.base_url,
                           "workflows": args.workflows, "relaxed_gc": args.relaxed_gc}
                    result = _run_job(job, env)
                    results.append(result)
                    print(f"{scheme:5} {variant:4} wall {result['wall_s']:6.3f} s  cpu {result['cpu_s']:6.3f} s  "
                          f"ok {result['ok']:5}  failed {result['failed']}  connections opened "
                          f"{result['connections_opened']:5} (warmed {result['connections_warmed']})", flush=True)
    floor = 2 * args.latency
    print(f"\n{args.workflows:,} two-step workflows at {args.latency:g} s (floor {floor:g} s), median of "
          f"{args.repeats} jobs each{', relaxed_gc()' if args.relaxed_gc else ''}:")
    for scheme in args.schemes.split(","):
        walls = {variant: statistics.median(r["wall_s"] for r in results
                                            if r["scheme"] == scheme and r["variant"] == variant)
                 for variant in ("warm", "cold")}
        ratio = walls["warm"] / walls["cold"]
        print(f"  {scheme:5}  warm {walls['warm']:.3f} s ({walls['warm'] / floor:.3f}x floor)  cold "
              f"{walls['cold']:.3f} s ({walls['cold'] / floor:.3f}x floor)  warm/cold {ratio:.4f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"argv": sys.argv, "results": results}, indent=2))
    return 0 if all(r["failed"] == 0 for r in results) else 1


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == WORKER_FLAG:
        sys.exit(_worker(sys.argv[2]))
    sys.exit(main())
