"""The load test, small: 32 contributors with distinct real proofs in one round.

``zkpot loadtest --contributors 32`` as a separate process: 32 accounts are funded,
register, commit and reveal real proofs (made once and cached) on the dev chain building
blocks in batches. Every reveal must be accepted, the election must rank all 32 and
aggregate them, and no block may carry more weight than the runtime allows; the report is
checked against the chain's own counts. docs/scale.md has the full-size run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, ZKPOT, require_built_chain

pytestmark = [pytest.mark.chain, pytest.mark.prover]

N = 32
#: The runtime's normal-dispatch share of a block (75 % of 2 s), in ms of weight.
NORMAL_MS = 1500.0


def test_32_contributors_reveal_in_one_round(tmp_path: Path) -> None:
    require_built_chain()
    out = tmp_path / "load"
    r = subprocess.run([*ZKPOT, "loadtest", "--contributors", str(N), "--commit-blocks", "10",
                        "--reveal-blocks", "10", "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    report = json.loads((out / "report.json").read_text())
    assert report["proofs"]["count"] == N and report["proofs"]["distinct_commitments"] == N
    for phase in ("fund", "register", "commit", "reveal"):
        assert report["phases"][phase]["transactions"] == N, phase
    # Every reveal verified on chain and counted once; the election ranked and aggregated all.
    assert sum(report["reveals_per_block"]) == N
    assert report["election"]["ranked"] == N and report["election"]["aggregate_over"] == N
    accepted = sum(b["events"].get("Zkpot.ProofAccepted", 0) for b in report["blocks"])
    rejected = sum(b["events"].get("Zkpot.ProofRejected", 0) for b in report["blocks"])
    assert (accepted, rejected) == (N, 0)
    # Batches: many reveals share a block, and no block holds more than the normal share.
    assert max(report["reveals_per_block"]) > 1
    assert all(b["weight_normal_ms"] <= NORMAL_MS for b in report["blocks"])
    assert "reveals per block" in r.stdout
