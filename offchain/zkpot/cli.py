"""The ``zkpot`` command.

Each sub-command lives with the module that implements it; this file only wires the
argument parser and turns the project's one-line errors into a message and an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from zkpot import __version__, paths
from zkpot.devnet import DevChain, DevnetConfig, DevnetError

log = logging.getLogger("zkpot")


class CliError(Exception):
    """An error to show as one line, with the exit code to leave with."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
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


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="zkpot", description="Zero-Knowledge Proof of Training consensus."
    )
    parser.add_argument("--version", action="version", version=f"zkpot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _devnet_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zkpot`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
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
