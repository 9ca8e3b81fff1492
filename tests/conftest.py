"""Shared fixtures: the real dev chain, started through the real `zkpot devnet` command."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from zkpot import paths
from zkpot.devnet.chopsticks import free_port  # noqa: F401 - tests import it from here

REPO = paths.REPO_ROOT
ZKPOT = [sys.executable, "-m", "zkpot.cli"]


class DevnetProcess:
    """`zkpot devnet` running as a child process."""

    def __init__(self, port: int, *extra: str, log: Path) -> None:
        self.port = port
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            [*ZKPOT, "devnet", "--port", str(port), "--block-time", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            cwd=REPO,
            start_new_session=True,
        )
        self.url = self._read_url(timeout=180)

    def _read_url(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("ws://"):
            self.stop()
            raise RuntimeError(f"zkpot devnet did not start: {self.log.read_text()[-2000:]}")
        return line

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode


def require_built_chain() -> Path:
    spec = paths.default_raw_spec()
    if not spec.is_file():
        pytest.fail(f"no raw chain spec at {spec}: run scripts/setup.sh first")
    return spec


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetProcess]:
    """One dev chain for the session's chain tests."""
    require_built_chain()
    log = tmp_path_factory.mktemp("devnet") / "devnet.log"
    chain = DevnetProcess(free_port(), log=log)
    try:
        yield chain
    finally:
        chain.stop()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2) -> bool:  # noqa: ANN001
    """Polls ``predicate`` until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
