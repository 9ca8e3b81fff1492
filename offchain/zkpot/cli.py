"""The ``zkpot`` command.

Thin handlers over the modules that do the work; this file wires the argument parser and
turns the project's one-line errors into a message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from zkpot import __version__, paths
from zkpot.devnet.chopsticks import DevChain, DevnetConfig, DevnetError
from zkpot.worker.config import Behaviour

log = logging.getLogger("zkpot")


class CliError(Exception):
    """An error to show as one line, with the exit code to leave with."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _devnet_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devnet", help="start the dev chain and keep it running until Ctrl-C")
    p.add_argument("--spec", type=Path, default=paths.default_raw_spec(), help="raw chain spec")
    p.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    p.add_argument("--port", type=int, default=9944, help="RPC port (default 9944)")
    p.add_argument("--db", type=Path, default=None, help="SQLite file to keep blocks in")
    p.add_argument("--resume", action="store_true", help="continue from the newest block in --db")
    p.add_argument(
        "--block-time",
        type=float,
        default=6.0,
        help="seconds between empty blocks; 0 builds blocks only for transactions (default 6)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the chain")
    p.set_defaults(func=_run_devnet)


async def _serve_devnet(config: DevnetConfig) -> None:
    stop = _stop_on_signals()
    async with DevChain(config) as chain:
        print(chain.url, flush=True)
        log.info("dev chain running; Ctrl-C stops it (log: %s)", chain.log_path)
        await stop.wait()
    log.info("dev chain stopped")


def _run_devnet(args: argparse.Namespace) -> None:
    config = DevnetConfig(
        spec=args.spec,
        host=args.host,
        port=args.port,
        db=args.db,
        resume=args.resume,
        block_time=args.block_time,
        start_timeout=args.timeout,
    )
    try:
        asyncio.run(_serve_devnet(config))
    except DevnetError as e:
        raise CliError(str(e)) from e


def _task_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("task", help="build or check a task bundle")
    tsub = p.add_subparsers(dest="task_command", required=True)
    b = tsub.add_parser("build", help="build the embedded digits task (or another)")
    b.add_argument("--out", type=Path, default=None, help="task directory (default: the cache)")
    b.add_argument("--architecture", default="digits-mlp",
                   help="model architecture; its data set comes with it (digits-mlp, mnist7-mlp, ...)")
    b.add_argument("--samples", type=int, default=32, help="test samples fixed into the circuit")
    b.add_argument("--min-score", type=int, default=24,
                   help="fixed test samples a proof must show correct (default 24)")
    b.add_argument("--srs", type=Path, default=None, help="ceremony SRS file (default: dev SRS)")
    b.add_argument("--srs-sha256", default=None, help="published SHA-256 of --srs")
    b.set_defaults(func=_run_task_build)
    c = tsub.add_parser(
        "check", help="check a task bundle against its hashes, and its C(0) and initial "
        "commitment against its circuit"
    )
    c.add_argument("task_dir", type=Path, help="the task bundle to audit")
    c.set_defaults(func=_run_task_check)


def _run_task_build(args: argparse.Namespace) -> None:
    from zkpot_models import arch_spec

    from zkpot.proof import srs, task

    spec = task.TaskSpec(
        name=args.architecture,
        architecture=args.architecture,
        dataset=arch_spec(args.architecture).dataset,
        num_samples=args.samples,
        min_score=args.min_score,
    )
    srs_file = srs_ref = None
    if args.srs is not None:
        if not args.srs_sha256:
            raise CliError("--srs needs --srs-sha256: a ceremony file is only used with its hash")
        logrows = spec.run_args.logrows or 16
        try:
            srs_file, srs_ref = srs.ceremony_srs(args.srs, logrows, args.srs_sha256)
        except srs.SrsError as e:
            raise CliError(str(e)) from e
    out = args.out or task.default_task_dir()
    try:
        built = task.build_task(spec, out, srs_file=srs_file, srs_ref=srs_ref)
    except (task.TaskError, ValueError) as e:
        raise CliError(str(e)) from e
    m = built.manifest
    if m.srs.insecure:
        log.warning("this task uses an INSECURE development SRS: never use it in production")
    print(json.dumps({"task": str(out), "vka_sha256": m.vka.sha256,
                      "initial_commitment": m.initial_commitment,
                      "logrows": m.settings.logrows, "srs": m.srs.kind.value}, indent=2))


def _run_task_check(args: argparse.Namespace) -> None:
    from zkpot.proof import task

    try:
        t = task.load_task(args.task_dir)
        task.audit_commitments(t)
    except task.TaskError as e:
        raise CliError(str(e)) from e
    print(f"{args.task_dir}: ok ({len(t.manifest.artifacts())} artifacts match their hashes; "
          "C(0) and the initial commitment match the circuit)")


def _prove_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prove", help="prove a model's score on a task")
    p.add_argument("--task", type=Path, required=True, help="task directory")
    p.add_argument("--weights", type=Path, required=True, help="state dict saved by torch.save")
    p.add_argument("--out", type=Path, required=True, help="output directory for proof.json")
    p.set_defaults(func=_run_prove)


def _run_prove(args: argparse.Namespace) -> None:
    from zkpot.proof import prover

    try:
        result = asyncio.run(
            prover.prove_async(args.task, args.weights, args.out, progress=sys.stderr.isatty())
        )
    except prover.ProverError as e:
        raise CliError(str(e)) from e
    print(f"commitment {result.commitment_hex}")
    print(f"score {result.score}")
    print(f"proof {result.proof_path} ({len(result.proof_bytes)} bytes, "
          f"proved in {result.prove_seconds:.1f} s)")


def _commitment_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "commitment", help="print a model's commitment as the chain stores it (hex, x||y)"
    )
    p.add_argument("--task", type=Path, required=True, help="task directory")
    p.add_argument("--weights", type=Path, required=True, help="state dict saved by torch.save")
    p.set_defaults(func=_run_commitment)


def _run_commitment(args: argparse.Namespace) -> None:
    from zkpot.proof import commitment, prover, task

    try:
        t = task.load_task(args.task)
        prover.check_weights(t, args.weights)
        from zkpot_models import load_weights

        model = load_weights(t.manifest.architecture, args.weights)
        print(commitment.to_hex(commitment.model_commitment(t, model.state_dict())))
    except (task.TaskError, prover.ProverError, commitment.CommitmentError) as e:
        raise CliError(str(e)) from e


def _worker_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="the worker daemon")
    wsub = p.add_subparsers(dest="worker_command", required=True)
    r = wsub.add_parser("run", help="run a worker until Ctrl-C")
    r.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    r.set_defaults(func=_run_worker)


def _run_worker(args: argparse.Namespace) -> None:
    from zkpot.worker import config, keys

    try:
        cfg = config.load_config(args.config)
    except config.ConfigError as e:
        for problem in e.problems:
            print(f"zkpot worker: {problem}", file=sys.stderr)
        raise CliError("invalid configuration; nothing was started", code=2) from None
    try:
        key = keys.from_file(cfg.key.file) if cfg.key.file else keys.from_env(cfg.key.env or "")
    except keys.KeyLoadError as e:
        raise CliError(str(e), code=2) from None

    from zkpot.worker.daemon import Worker, WorkerError

    async def serve() -> None:
        stop = _stop_on_signals()
        await Worker(cfg, key).run(stop)

    try:
        asyncio.run(serve())
    except WorkerError as e:
        raise CliError(str(e)) from e


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="ZKPoT end to end on the dev chain")
    p.add_argument("--workers", type=int, default=4, help="worker daemons to start (default 4)")
    p.add_argument("--rounds", type=int, default=3, help="rounds to run (default 3)")
    p.add_argument("--byzantine", default="flipped-labels",
                   help="what the last worker does (default flipped-labels; none: all honest)",
                   choices=[*(b.value for b in Behaviour if b is not Behaviour.HONEST), "none"])
    p.add_argument("--dropout", type=int, default=0, metavar="N",
                   help="N honest workers leave every round's secure aggregation after the key agreement")
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="report and plots")
    p.add_argument("--dashboard-port", type=int, default=0, metavar="PORT",
                   help="serve the election dashboard on 127.0.0.1:PORT while the demo runs "
                   "(default: any free port, printed at the start)")
    p.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> None:
    from zkpot.devnet import demo

    if args.workers < 2 or args.rounds < 1:
        raise CliError("the demo needs --workers 2 or more and --rounds 1 or more", code=2)
    try:
        code = demo.main(demo.DemoConfig(workers=args.workers, rounds=args.rounds,
                                         byzantine=args.byzantine, dropout=args.dropout,
                                         out=args.out,
                                         dashboard_port=None if args.no_dashboard else args.dashboard_port))
    except (DevnetError, RuntimeError, ValueError) as e:
        raise CliError(str(e)) from e
    if code:
        raise CliError("interrupted", code=code)


def _status_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="the chain's ZKPoT state: tasks, rounds, elections, workers")
    p.add_argument("--chain", default="ws://127.0.0.1:9944", help="node or dev chain URL (default ws://127.0.0.1:9944)")
    p.add_argument("--task", type=int, default=None, help="only this task")
    p.add_argument("--history", type=int, default=3, help="election records per task (default 3)")
    p.add_argument("--events", type=int, default=30, metavar="BLOCKS",
                   help="show the proofs accepted and rejected (with why) in the newest BLOCKS blocks (default 30)")
    p.add_argument("--json", action="store_true", help="JSON for scripts instead of text")
    p.add_argument("--watch", action="store_true", help="print again on every new block (Ctrl-C stops)")
    p.set_defaults(func=_run_status)


def _run_status(args: argparse.Namespace) -> None:
    from zkpot.chain.client import AsyncChain, ChainError, Zkpot
    from zkpot.chain.status import render, snapshot, watch

    def emit(snap: dict) -> None:
        print(json.dumps(snap) if args.json else render(snap), flush=True)

    async def run() -> None:
        chain = AsyncChain(args.chain)
        zk = Zkpot(chain)
        try:
            if not args.watch:
                emit(await snapshot(zk, args.task, args.history, args.events))
                return
            stop = _stop_on_signals()
            await watch(zk, args.task, emit, stop, history=args.history, event_blocks=args.events)
        finally:
            await chain.close()

    try:
        asyncio.run(run())
    except ChainError as e:
        raise CliError(f"{args.chain}: {e}") from None


def _dashboard_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="a live web page of the chain's elections, scores and proofs")
    p.add_argument("--chain", default="ws://127.0.0.1:9944", help="node or dev chain URL (default ws://127.0.0.1:9944)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    p.add_argument("--port", type=int, default=8090, help="HTTP port (default 8090)")
    p.add_argument("--task", type=int, default=None, help="only this task")
    p.add_argument("--task-dir", type=Path, action="append", default=None, metavar="DIR",
                   help="a task bundle whose global models the page scores on its fixed test "
                   "samples (repeatable; default: the bundles in the cache)")
    p.add_argument("--history", type=int, default=20, help="rounds per task to show (default 20)")
    p.add_argument("--backfill", type=int, default=200, metavar="BLOCKS",
                   help="blocks read back for proof events at the start (default 200)")
    p.set_defaults(func=_run_dashboard)


def _run_dashboard(args: argparse.Namespace) -> None:
    from zkpot.chain.client import AsyncChain, Zkpot
    from zkpot.dashboard.feed import Feed
    from zkpot.dashboard.server import serving
    from zkpot.proof.task import TaskError, load_task

    bundles = []
    dirs = args.task_dir or sorted(p for p in (paths.cache_dir() / "tasks").glob("[!.]*") if p.is_dir())
    for d in dirs:
        try:
            bundles.append(load_task(d))
        except TaskError as e:
            if args.task_dir:
                raise CliError(str(e)) from None
            log.info("not a usable task bundle, skipped: %s", e)

    async def run() -> None:
        chain = AsyncChain(args.chain)
        feed = Feed(Zkpot(chain), args.chain, task=args.task, history=args.history,
                    backfill=args.backfill, bundles=bundles)
        stop = _stop_on_signals()
        try:
            async with serving(feed, args.host, args.port) as url:
                print(url, flush=True)
                log.info("dashboard of %s at %s; Ctrl-C stops it", args.chain, url)
                await stop.wait()
        finally:
            await chain.close()

    try:
        asyncio.run(run())
    except OSError as e:
        raise CliError(f"cannot serve on {args.host}:{args.port}: {e}") from None


def _experiment_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="compare consensus rules in a federated-learning simulation")
    p.add_argument("config", type=Path, nargs="?", default=None,
                   help="TOML file overriding the embedded default configuration")
    p.add_argument("--quick", action="store_true", help="a small grid (one seed, IID, fractions 0 and 30 %%)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: one per core)")
    p.add_argument("--out", type=Path, default=Path("experiment-out"), help="results, plots and summary")
    p.set_defaults(func=_run_experiment)


def _run_experiment(args: argparse.Namespace) -> None:
    from zkpot.experiments import config, engine

    overrides = {} if args.workers is None else {"workers": args.workers}
    try:
        cfg = config.load(args.config, quick=args.quick, overrides=overrides)
    except config.ConfigError as e:
        raise CliError(str(e), code=2) from None
    command = " ".join(["zkpot experiment", *([str(args.config)] if args.config else []),
                        *(["--quick"] if args.quick else [])])
    try:
        summary = engine.run(cfg, args.out, command, progress=sys.stderr.isatty())
    except (ValueError, engine.ExperimentError) as e:
        raise CliError(str(e)) from e
    print(summary)
    print(f"results: {args.out}/", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="zkpot", description="Zero-Knowledge Proof of Training consensus."
    )
    parser.add_argument("--version", action="version", version=f"zkpot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _devnet_parser(sub)
    _task_parser(sub)
    _prove_parser(sub)
    _commitment_parser(sub)
    _worker_parser(sub)
    _demo_parser(sub)
    _experiment_parser(sub)
    _status_parser(sub)
    _dashboard_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zkpot`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Readable lines in a terminal; key=value records for log collectors otherwise.
    fmt = (
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
        if sys.stderr.isatty()
        else 'ts=%(asctime)s level=%(levelname)s logger=%(name)s msg="%(message)s"'
    )
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format=fmt, stream=sys.stderr
    )
    if not args.verbose:
        # ezkl logs every step at INFO; its warnings are what a user needs.
        logging.getLogger("ezkl").setLevel(logging.WARNING)
    try:
        args.func(args)
    except CliError as e:
        print(f"zkpot {args.command}: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
