"""The dashboard's view of the chain, kept current block by block.

On every new best block the feed takes one status snapshot (tasks, rounds, elections,
workers), reads the proof events of the blocks since its last look (so the accepted and
rejected proofs of each round accumulate, with the verifier's reason), and scores every
newly published global model of a task whose bundle is at hand on that task's fixed test
samples. The model is downloaded from its publisher with a size bound and checked against
the chain's commitment first, so the score is that of the model the chain names, as a
proof of it would show.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from zkpot.chain.client import ChainError, Zkpot
from zkpot.chain.status import proof_outcomes, snapshot
from zkpot.fl.aggregation import AggregationError, GlobalModel
from zkpot.proof.commitment import CommitmentError
from zkpot.proof.task import Task

log = logging.getLogger(__name__)

#: Attempts to score one round's global model before the feed gives up on it.
SCORE_ATTEMPTS = 3
#: Seconds one download of a global model may take.
DOWNLOAD_TIMEOUT = 20.0


def bundle_hash(task: Task) -> str:
    """The chain's ``vka_hash`` of a task bundle: BLAKE2b-256 of the VKA words it registers."""
    return "0x" + hashlib.blake2b(task.vka_words(), digest_size=32).hexdigest()


@dataclass
class _RoundProofs:
    accepted: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


@dataclass
class _ModelScore:
    attempts: int = 0
    score: int | None = None
    samples: int | None = None
    error: str | None = None


class Feed:
    """Follows the chain and holds the dashboard's state (:attr:`state`, numbered by
    :attr:`version`); :meth:`changed` waits for the next one."""

    def __init__(self, zk: Zkpot, url: str, *, task: int | None = None, history: int = 20,
                 backfill: int = 200, bundles: Sequence[Task] = (),
                 labels: dict[str, str] | None = None, poll: float = 1.0) -> None:
        self.zk, self.url, self.task, self.history = zk, url, task, history
        self.backfill, self.poll = backfill, poll
        self.labels = dict(labels or {})
        self._bundles = {bundle_hash(t): t for t in bundles}
        self._proofs: dict[tuple[int, int], _RoundProofs] = {}
        self._scores: dict[tuple[int, int], _ModelScore] = {}
        self._scanned: int | None = None
        self._best: int | None = None
        self._cond = asyncio.Condition()
        self._http: aiohttp.ClientSession | None = None
        self.state: dict[str, Any] = {"chain": {"url": url}, "block": None, "tasks": [], "workers": [],
                                      "labels": self.labels, "error": None, "updated": None}
        self.version = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Refreshes on every new best block until ``stop``; a chain that goes away is
        reported in the state and asked again."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)) as http:
            self._http = http
            while not stop.is_set():
                try:
                    best = await self.zk.best_number()
                    if best != self._best:
                        await self.refresh()
                        self._best = best
                except ChainError as e:
                    if self.state.get("error") != str(e):
                        log.warning("dashboard: the chain did not answer: %s", e)
                        await self._publish({**self.state, "error": str(e)})
                try:
                    await asyncio.wait_for(stop.wait(), self.poll)
                except TimeoutError:
                    pass

    async def changed(self, version: int, timeout: float) -> int:
        """Waits up to ``timeout`` seconds for a state newer than ``version``; returns the
        current version."""
        async with self._cond:
            if self.version == version:
                try:
                    await asyncio.wait_for(self._cond.wait(), timeout)
                except TimeoutError:
                    pass
            return self.version

    async def refresh(self) -> None:
        """One look at the chain: snapshot, new proof events, new global models."""
        snap = await snapshot(self.zk, self.task, self.history, event_blocks=0)
        best = snap["block"]["number"]
        if self._scanned is None or best < self._scanned:
            # First look, or a chain that was reset: read back a bounded window.
            self._proofs.clear()
            self._scanned = best - self.backfill
        for p in await proof_outcomes(self.zk, self._scanned + 1, best, self.task):
            rp = self._proofs.setdefault((p["task"], p["round"]), _RoundProofs())
            if p["accepted"]:
                rp.accepted[p["who"]] = p["score"]
            else:
                rp.rejected[p["who"]] = p["reason"]
        self._scanned = best
        for t in snap["tasks"]:
            bundle = self._bundles.get(t["vka_hash"])
            for e in t["elections"]:
                if bundle is not None and e["published"]:
                    await self._score(bundle, t["id"], e)
        await self._publish(self._compose(snap))

    async def _publish(self, state: dict[str, Any]) -> None:
        async with self._cond:
            self.state = state
            self.version += 1
            self._cond.notify_all()

    async def _score(self, bundle: Task, task_id: int, election: dict[str, Any]) -> None:
        """Scores the round's published model once (a few attempts while it is not served)."""
        ms = self._scores.setdefault((task_id, election["round"]), _ModelScore())
        if ms.score is not None or ms.attempts >= SCORE_ATTEMPTS or self._http is None:
            return
        ms.attempts += 1
        # Imported here: the worker's and the prover's modules load PyTorch and ezkl, which
        # a dashboard without bundles never needs.
        from zkpot.worker.daemon import WorkerError, check_global_model, download

        num_params = bundle.manifest.num_params
        try:
            data = await download(self._http, election["published"]["uri"],
                                  GlobalModel.encoded_size(num_params))
            gm = await check_global_model(bundle, data, election["aggregate"]["commitment"])
            ms.score, ms.samples = await asyncio.to_thread(_fixed_score, bundle, gm)
            ms.error = None
        except (WorkerError, AggregationError, CommitmentError, aiohttp.ClientError, TimeoutError,
                OSError, ValueError) as e:
            ms.error = str(e) or type(e).__name__
            log.info("dashboard: global model of round %d not scored: %s", election["round"], ms.error)

    def _compose(self, snap: dict[str, Any]) -> dict[str, Any]:
        tasks = []
        for t in snap["tasks"]:
            bundle = self._bundles.get(t["vka_hash"])
            by_round: dict[int, dict[str, Any]] = {}
            for e in t["elections"]:
                by_round[e["round"]] = {**e, "accepted": [], "rejected": [], "global": None}
            for (tid, r), rp in self._proofs.items():
                if tid != t["id"]:
                    continue
                entry = by_round.setdefault(r, {"round": r, "leader": None, "ranking": [], "authors": [],
                                                 "aggregate": None, "left_out": [], "published": None,
                                                 "outcome": None, "global": None})
                entry["accepted"] = sorted(rp.accepted.items(), key=lambda kv: -kv[1])
                entry["rejected"] = [{"who": w, "reason": why} for w, why in rp.rejected.items()]
            for r, entry in by_round.items():
                ms = self._scores.get((t["id"], r))
                if ms is not None:
                    entry["global"] = {"score": ms.score, "samples": ms.samples, "error": ms.error}
            rounds = sorted(by_round.values(), key=lambda e: e["round"])[-self.history:]
            tasks.append({**{k: v for k, v in t.items() if k != "elections"},
                          "samples": None if bundle is None else bundle.manifest.test_set.num_samples,
                          "bundle": None if bundle is None else bundle.manifest.name,
                          "rounds": rounds})
        return {"chain": {"url": self.url}, "block": snap["block"], "tasks": tasks,
                "workers": snap["workers"], "labels": self.labels, "error": None,
                "updated": time.time()}


def _fixed_score(bundle: Task, gm: GlobalModel) -> tuple[int, int]:
    """(correct, samples) of a global model on the task's fixed test samples, quantized
    as in the circuit."""
    from zkpot_models import build_model

    from zkpot.proof import quantize

    model = build_model(bundle.manifest.architecture)
    state = gm.to_state(model.state_dict(), bundle.manifest.settings.param_scale)
    test = bundle.test_set()
    try:
        return quantize.emulated_score(bundle, state, test), len(test.y)
    except ValueError:
        # Not an architecture the emulation reproduces: ask ezkl for the logits.
        model.load_state_dict(state)
        return quantize.quantized_score(bundle, model, test), len(test.y)
