"""The dev chain: Chopsticks running the zkpot runtime from its raw chain spec.

Chopsticks (``@acala-network/chopsticks``) is an existing Substrate engine: it executes the
real wasm runtime, builds blocks (one per submitted transaction in ``Instant`` mode, plus
``dev_newBlock`` on request) and serves the standard JSON-RPC that substrate-interface and
polkadot.js speak. This module starts it on loopback, waits until it answers, optionally
ticks empty blocks like a real chain's clock, and always cleans up: the process runs in its
own process group, dies with its parent, and is killed on exit or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from zkpot import paths

log = logging.getLogger(__name__)

#: The storage key of the runtime wasm, ``:code``, as hex.
_CODE_KEY = "0x" + b":code".hex()

#: Linux prctl option: deliver a signal to the child when its parent dies.
_PR_SET_PDEATHSIG = 1


class DevnetError(RuntimeError):
    """Why the dev chain could not be started or reached, in one line."""


@dataclass(frozen=True)
class DevnetConfig:
    """How to run the dev chain."""

    spec: Path = field(default_factory=paths.default_raw_spec)
    host: str = "127.0.0.1"
    port: int = 9944
    #: SQLite file where Chopsticks keeps its blocks; ``None`` keeps them in memory only.
    db: Path | None = None
    #: Continue from the newest block in ``db`` instead of genesis.
    resume: bool = False
    #: Seconds between empty blocks (a chain's clock); 0 builds blocks only on demand.
    block_time: float = 0.0
    #: Seconds to wait for the first answer.
    start_timeout: float = 120.0
    #: Where Chopsticks' own output goes.
    log_path: Path | None = None

    @property
    def ws_url(self) -> str:
        """The WebSocket URL clients connect to."""
        return f"ws://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """The HTTP JSON-RPC URL."""
        return f"http://{self.host}:{self.port}"


def validate(config: DevnetConfig) -> None:
    """Checks everything that can be checked before starting; raises :class:`DevnetError`."""
    if not isinstance(config.port, int) or not 1 <= config.port <= 65535:
        raise DevnetError(f"invalid port {config.port!r}: a TCP port is 1-65535")
    if config.block_time < 0:
        raise DevnetError(f"invalid block time {config.block_time}: must be 0 or more seconds")
    if config.start_timeout <= 0:
        raise DevnetError(f"invalid timeout {config.start_timeout}: must be positive")
    if not config.spec.is_file():
        raise DevnetError(
            f"chain spec not found: {config.spec} (scripts/build-chain.sh builds it)"
        )
    try:
        with config.spec.open("rb") as f:
            spec = json.load(f)
        top = spec["genesis"]["raw"]["top"]
        if _CODE_KEY not in top:
            raise KeyError("no :code")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DevnetError(f"{config.spec} is not a raw chain spec with a runtime ({e})") from e
    if config.resume and config.db is None:
        raise DevnetError("--resume needs --db: there is nothing to resume from")
    if not paths.chopsticks_entry().is_file():
        raise DevnetError(
            f"Chopsticks is not installed in {paths.devnet_dir()} (scripts/setup.sh installs it)"
        )
    _check_port_free(config.host, config.port)


def newest_block_hash(db: Path) -> str:
    """The hash of the newest block Chopsticks stored in ``db`` (its SQLite file)."""
    if not db.is_file():
        raise DevnetError(f"nothing to resume: {db} does not exist")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT hash FROM block ORDER BY number DESC LIMIT 1").fetchone()
    except sqlite3.Error as e:
        raise DevnetError(f"cannot read the chain database {db}: {e}") from e
    if row is None:
        raise DevnetError(f"nothing to resume: {db} holds no blocks")
    return str(row[0])


def _check_port_free(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise DevnetError(f"cannot resolve host {host!r}: {e.strerror}") from e
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # As Node does when it listens: connections in TIME_WAIT from a previous run on
        # this port do not make it busy, a listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except PermissionError as e:
            raise DevnetError(f"not allowed to listen on {host}:{port}") from e
        except OSError as e:
            raise DevnetError(f"port {port} on {host} is already in use") from e


def _die_with_parent() -> None:
    """Runs in the child before exec: it gets SIGTERM when the Python process dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevChain:
    """A running dev chain. Use ``async with DevChain(config) as chain: ...``."""

    def __init__(self, config: DevnetConfig) -> None:
        self.config = config
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self._ticker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """WebSocket URL of the chain."""
        return self.config.ws_url

    @property
    def log_path(self) -> Path:
        """File that receives Chopsticks' output."""
        return self.config.log_path or (paths.cache_dir() / "devnet" / f"chopsticks-{self.config.port}.log")

    def command(self) -> list[str]:
        """The Chopsticks command line."""
        c = self.config
        cmd = [
            str(paths.node_binary()),
            str(paths.chopsticks_entry()),
            "--genesis",
            str(c.spec.resolve()),
            "--host",
            c.host,
            "--port",
            str(c.port),
            "--build-block-mode",
            "Instant",
            "--runtime-log-level",
            "2",
        ]
        if c.db is not None:
            cmd += ["--db", str(c.db.resolve())]
            if c.resume:
                # Chopsticks' CLI hands "true" over as a string, which its schema refuses:
                # name the newest block instead.
                cmd += ["--resume", newest_block_hash(c.db)]
        return cmd

    async def start(self) -> None:
        """Starts Chopsticks and returns once it answers JSON-RPC."""
        validate(self.config)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.config.db is not None:
            self.config.db.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        log.info("starting chopsticks: %s", " ".join(self.command()))
        self._proc = subprocess.Popen(
            self.command(),
            cwd=paths.devnet_dir(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._session = aiohttp.ClientSession()
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        if self.config.block_time > 0:
            self._ticker = asyncio.create_task(self._tick(), name="devnet-ticker")

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        while True:
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                raise DevnetError(
                    f"Chopsticks exited with code {code}: {self._last_log_line()}"
                )
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, DevnetError):
                await self.rpc("system_chain", [], timeout=2.0)
                return
            if time.monotonic() > deadline:
                raise DevnetError(
                    f"the dev chain did not answer on {self.url} within "
                    f"{self.config.start_timeout:g} s (log: {self.log_path})"
                )
            await asyncio.sleep(0.25)

    def _last_log_line(self) -> str:
        try:
            lines = [
                ln.strip()
                for ln in self.log_path.read_text(errors="replace").splitlines()
                if ln.strip()
            ]
        except OSError:
            return "(no log)"
        return lines[-1][:300] if lines else "(no output)"

    async def rpc(self, method: str, params: list[Any], timeout: float = 60.0) -> Any:
        """One JSON-RPC call over HTTP."""
        if self._session is None:
            raise DevnetError("the dev chain is not running")
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        async with self._session.post(
            self.config.http_url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            reply = await resp.json(content_type=None)
        if "error" in reply:
            raise DevnetError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result")

    async def new_blocks(self, count: int = 1) -> str:
        """Builds ``count`` blocks now (Chopsticks' ``dev_newBlock``); returns the last hash."""
        return await self.rpc("dev_newBlock", [{"count": count}], timeout=600.0)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.config.block_time)
            try:
                await self.new_blocks(1)
            except (TimeoutError, aiohttp.ClientError, DevnetError) as e:
                log.warning("block ticker: %s", e)

    async def stop(self) -> None:
        """Stops Chopsticks and everything it started; safe to call more than once."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await asyncio.to_thread(proc.wait)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    async def __aenter__(self) -> DevChain:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
