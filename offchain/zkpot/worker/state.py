"""What a worker did in each round, on disk, so that a killed worker resumes safely.

One JSON file per (task, round), replaced atomically (write, fsync, rename) at every step.
Submissions are recorded before they are sent and after they are included; after a crash
in between, the chain (``Zkpot.Commits``) says whether the submission happened, so a
restarted worker never commits or reveals twice and never forgets a round it can finish.
"""

from __future__ import annotations

import enum
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Step(enum.StrEnum):
    """How far a worker got in a round (each step implies the ones before)."""

    STARTED = "started"
    TRAINED = "trained"
    PROVED = "proved"
    COMMITTING = "committing"
    COMMITTED = "committed"
    REVEALING = "revealing"
    REVEALED = "revealed"
    SKIPPED = "skipped"


ORDER = [Step.STARTED, Step.TRAINED, Step.PROVED, Step.COMMITTING, Step.COMMITTED,
         Step.REVEALING, Step.REVEALED]


class RoundState(BaseModel):
    """The worker's record of one round."""

    model_config = ConfigDict(extra="forbid")

    task: int
    round: int
    step: Step = Step.STARTED
    base_model: str = ""
    #: The account whose served global model matched ``base_model`` (none for the bundle's
    #: initial model): acknowledged in this round's commit.
    model_from: str | None = None
    #: Accounts whose served global model did not match ``base_model``.
    model_refused: list[str] = []
    weights: str | None = None
    proof: str | None = None
    commitment: str | None = None
    score: int | None = None
    digest: str | None = None
    commit_block: str | None = None
    reveal_block: str | None = None
    accepted: bool | None = None
    note: str = ""

    def at_least(self, step: Step) -> bool:
        """Whether the round got to ``step``."""
        if self.step is Step.SKIPPED:
            return False
        return ORDER.index(self.step) >= ORDER.index(step)


class StateStore:
    """The state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "rounds").mkdir(parents=True, exist_ok=True)
        (root / "models").mkdir(parents=True, exist_ok=True)
        (root / "proofs").mkdir(parents=True, exist_ok=True)

    def _path(self, task: int, round: int) -> Path:
        return self.root / "rounds" / f"task{task}-round{round}.json"

    def load(self, task: int, round: int) -> RoundState | None:
        """The record of a round, if any."""
        p = self._path(task, round)
        if not p.is_file():
            return None
        return RoundState.model_validate_json(p.read_text())

    def save(self, state: RoundState) -> None:
        """Replaces the record atomically: a crash leaves the old or the new one."""
        atomic_write(self._path(state.task, state.round), state.model_dump_json(indent=2).encode())

    def rounds(self, task: int) -> list[RoundState]:
        """All records of a task, oldest first."""
        out = [RoundState.model_validate_json(p.read_text())
               for p in (self.root / "rounds").glob(f"task{task}-round*.json")]
        return sorted(out, key=lambda s: s.round)

    def model_path(self, name: str) -> Path:
        """Where a model file named ``name`` is kept."""
        return self.root / "models" / name

    def proof_dir(self, task: int, round: int) -> Path:
        """Where a round's proof goes."""
        return self.root / "proofs" / f"task{task}-round{round}"

    def _proven_path(self) -> Path:
        return self.root / "proven-commitments"

    def was_proven(self, commitment: str) -> bool:
        """Whether a proof of the model with this commitment was ever started here."""
        p = self._proven_path()
        return p.is_file() and commitment in p.read_text().split()

    def remember_proven(self, commitment: str) -> None:
        """Records, durably and before proving, that this model is being proven: each
        proof opens the parameters at one more point, so no model is proven twice."""
        with self._proven_path().open("a") as f:
            f.write(commitment + "\n")
            f.flush()
            os.fsync(f.fileno())


def atomic_write(path: Path, data: bytes) -> None:
    """Writes ``data`` so that readers see the old or the new file, never half of one, even
    after a crash (the file and its directory entry are synced)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
