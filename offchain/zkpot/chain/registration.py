"""Registering a task bundle on chain (through sudo on the dev chain)."""

from __future__ import annotations

from substrateinterface import Keypair

from zkpot.chain.client import Zkpot
from zkpot.proof.task import Task
from zkpot.worker.daemon import BUNDLE_SCHEME


async def register_task(
    zk: Zkpot,
    sudo: Keypair,
    task: Task,
    *,
    min_score: int | None = None,
    commit_blocks: int | None = None,
    reveal_blocks: int | None = None,
    aggregation_blocks: int | None = None,
    min_included_percent: int | None = None,
) -> int:
    """Registers ``task`` with the hashes of its artifacts; returns the on-chain task id.
    The initial model is the bundle's own (``bundle:initial.pt``)."""
    m = task.manifest
    timing = m.timing
    return await zk.register_task(
        sudo,
        task.vka_words(),
        artifacts={
            "onnx": "0x" + m.onnx.sha256,
            "settings": "0x" + m.settings_file.sha256,
            "test_set": "0x" + m.test_data.sha256,
        },
        layout=m.instances.model_dump(),
        min_score=m.min_score if min_score is None else min_score,
        initial_commitment=m.initial_commitment,
        initial_uri=BUNDLE_SCHEME + m.initial_weights.path,
        zero_commitment=m.zero_commitment,
        aggregation={
            "top": m.aggregation.top,
            "weighting": m.aggregation.weighting.value,
            "min_included_percent": min_included_percent or m.aggregation.min_included_percent,
        },
        timing={
            "commit_blocks": commit_blocks or timing.commit_blocks,
            "reveal_blocks": reveal_blocks or timing.reveal_blocks,
            "aggregation_blocks": aggregation_blocks or timing.aggregation_blocks,
        },
    )
