"""The worker daemon: one long-lived asyncio process per participant.

Each round, as ``docs/protocol.md`` describes: fetch the global model and check it against
the commitment the chain computed (trying the round's other aggregator candidates when a
served model does not match); train on the worker's private data (CUDA when present);
prove (in child processes, never blocking the loop; never the same parameters twice);
commit, acknowledging who served the global model; reveal; take part in the round's secure
aggregation, which only ever sends masked vectors; and, as one of the best-ranked
contributors, drive that secure aggregation, check the recovered sum against the chain's
aggregate commitment over the survivors, serve it and, on its turn, publish it.

The worker is driven by the chain's state, not by its own clock: every new block it reads
the task's round and does what the phase asks, consulting its state directory so that a
restart neither repeats a submission nor forgets a round it can still finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import torch
from zkpot_models import (
    build_model,
    load_dataset,
    load_weights,
    split_dirichlet,
    split_iid,
    train,
    train_test_split,
)

from zkpot.chain.client import AsyncChain, ChainError, ExtrinsicFailed, Round, Zkpot
from zkpot.chain.protocol import commit_digest
from zkpot.fl import aggregation
from zkpot.fl import secagg as secagg_mod
from zkpot.proof import commitment as commitment_mod
from zkpot.proof import ezkl_ops, prover
from zkpot.proof.task import Task, TaskError, audit_commitments, load_task
from zkpot.worker.config import Behaviour, WorkerConfig
from zkpot.worker.keys import LoadedKey, session_keys_proof
from zkpot.worker.metrics import WorkerMetrics
from zkpot.worker.secagg_http import (
    ParticipantHost,
    RoundSession,
    RunStats,
    round_session,
    run_aggregation,
)
from zkpot.worker.server import ModelServer
from zkpot.worker.state import RoundState, StateStore, Step, atomic_write

log = logging.getLogger(__name__)

#: URI scheme of a model inside the task bundle (the initial model).
BUNDLE_SCHEME = "bundle:"
#: How many rounds back a worker looks for the publication of its base model.
HISTORY_SEARCH = 16
#: Seconds a worker keeps asking a round's aggregator candidates for its global model.
GLOBAL_MODEL_WAIT = 120.0


class WorkerError(RuntimeError):
    """The worker cannot run; the message says why."""


class Worker:
    """One participant."""

    def __init__(
        self,
        config: WorkerConfig,
        key: LoadedKey,
        *,
        poll_interval: float = 0.5,
        retry_delay: float = 5.0,
        progress: bool | None = None,
    ) -> None:
        self.cfg = config
        self.kp = key.keypair
        self.me = self.kp.ss58_address
        self.task: Task = load_task(config.task_dir)
        self.task_id = config.task_id
        self.chain = AsyncChain(config.chain_url)
        self.zk = Zkpot(self.chain)
        self.store = StateStore(config.state_dir)
        self.metrics = WorkerMetrics()
        self.secagg = ParticipantHost(self.kp, self.store.root / "secagg", self._secagg_spec,
                                      vanish_after_key_agreement=config.dropout_after_key_agreement)
        self.server = ModelServer(self.metrics, self._health, self.secagg)
        self.poll_interval = poll_interval
        self.retry_delay = retry_delay
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._job: asyncio.Task[None] | None = None
        self._job_round: int | None = None
        self._last_block = -1
        self._round: Round | None = None
        self._status = "starting"
        self._http: aiohttp.ClientSession | None = None
        self._global_lock = asyncio.Lock()
        #: Checks of published global models, by round (shown in /health).
        self._global_checks: dict[int, dict[str, Any]] = {}
        #: Rounds whose global model this worker serves.
        self._served_rounds: set[int] = set()
        #: Rounds whose publication this worker looked at to serve as a fallback.
        self._fallback_seen: set[int] = set()
        #: This worker's runs of secure aggregation as a candidate, by round (in /health).
        self._secagg_runs: dict[int, RunStats] = {}
        #: When the running proof started, and how long the last one took (its progress in
        #: /health is elapsed over that; 40 s before the first proof).
        self._proving_since: float | None = None
        self._last_prove_seconds = 40.0
        self._x, self._y = self._private_data()

    # -- set-up -----------------------------------------------------------------------

    def _private_data(self) -> tuple[np.ndarray, np.ndarray]:
        """This worker's share of the training split of the task's data set."""
        d = self.cfg.data
        ds = load_dataset(d.dataset, None if d.directory is None else str(d.directory))
        # The same split the task was built with: the circuit's test samples are never
        # trained on.
        ref = self.task.manifest.test_set
        train_set, _ = train_test_split(ds, ref.test_fraction, ref.split_seed)
        if d.alpha is None:
            parts = split_iid(len(train_set), d.clients, d.seed)
        else:
            parts = split_dirichlet(train_set.y, d.clients, d.alpha, d.seed)
        part = train_set.subset(parts[d.client])
        shape = self.task.test_set().x.shape[1:]
        return part.x.reshape((len(part.y), *shape)), part.y

    async def _check_task(self) -> None:
        vka = await self.zk.vka(self.task_id)
        if vka is None:
            raise WorkerError(f"task {self.task_id} is not registered on {self.cfg.chain_url}")
        if vka != self.task.vka_words():
            raise WorkerError(
                f"task {self.task_id} on chain has another VKA than the bundle {self.cfg.task_dir}"
            )
        info = await self.zk.task(self.task_id)
        if info is None or str(info["zero_commitment"]) != self.task.manifest.zero_commitment:
            raise WorkerError(f"task {self.task_id} on chain has another C(0) than the bundle")
        # C(0) is what every aggregate subtracts: recompute it from the circuit, with the
        # initial model's commitment, rather than trust the bundle's word.
        try:
            await asyncio.to_thread(audit_commitments, self.task)
        except TaskError as e:
            raise WorkerError(f"task bundle {self.cfg.task_dir}: {e}") from e

    async def _register(self) -> None:
        if await self.zk.worker(self.me) is None:
            log.info("registering as worker %s", self.me)
            await self._submit("register_worker", self.zk.register_worker(self.kp))
        if await self.zk.endpoint(self.me) != self.cfg.base_url:
            await self._submit("set_endpoint", self.zk.set_endpoint(self.kp, self.cfg.base_url))
        if self.cfg.author and not await self.zk.has_session_keys(self.me):
            keys, proof = session_keys_proof(self.kp)
            await self._submit("set_keys", self.zk.set_session_keys(self.kp, keys, proof))

    def _restore_served_models(self) -> None:
        for path in self.store.root.joinpath("models").glob(f"global-task{self.task_id}-round*.zkps"):
            if path.stem.endswith("-poisoned"):
                continue
            rnd = int(path.stem.rsplit("round", 1)[1])
            poisoned = path.with_name(path.stem + "-poisoned.zkps")
            self.server.serve_global(self.task_id, rnd, poisoned if poisoned.is_file() else path)
            self._served_rounds.add(rnd)

    # -- main loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Runs until ``stop`` is set."""
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.cfg.http_timeout))
        await self.server.start(self.cfg.listen_host, self.cfg.listen_port)
        try:
            await self._with_retry(self._check_task)
            await self._with_retry(self._register)
            self._restore_served_models()
            await prover.ensure_proving_key(self.task)
            self._status = "running"
            log.info("worker %s on task %d ready (serving %s)", self.me, self.task_id, self.cfg.base_url)
            while not stop.is_set():
                try:
                    await self._tick()
                except ChainError as e:
                    self.metrics.errors.labels("chain").inc()
                    self._status = f"chain unreachable: {e}"
                    log.warning("chain: %s", e)
                except (OSError, ValueError, KeyError, RuntimeError) as e:
                    # A step failed on local trouble (disk, a damaged file, a bug): the
                    # round's state is on disk, so the step is simply tried again later.
                    self.metrics.errors.labels("internal").inc()
                    self._status = f"step failed: {type(e).__name__}: {e}"
                    log.exception("round step failed; trying again in %.0f s", self.retry_delay)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.retry_delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
        finally:
            self._status = "stopping"
            if self._job is not None:
                self._job.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._job
            await self.server.stop()
            await self._http.close()
            await self.chain.close()

    async def _with_retry(self, fn: Callable[[], Any], attempts: int = 30) -> None:
        delay = 0.5
        for i in range(attempts):
            try:
                await fn()
                return
            except ChainError as e:
                if i == attempts - 1 or isinstance(e, ExtrinsicFailed):
                    raise
                log.warning("%s; retrying in %.1f s", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _submit(self, call: str, coro: Any) -> Any:
        try:
            receipt = await coro
        except ExtrinsicFailed as e:
            self.metrics.submissions.labels(call, e.error).inc()
            raise
        except ChainError:
            self.metrics.submissions.labels(call, "error").inc()
            raise
        self.metrics.submissions.labels(call, "ok").inc()
        return receipt

    async def _tick(self) -> None:
        # Every tick, not only on new blocks: local work (a finished proof) must move on
        # even while the chain is quiet.
        self._last_block = await self.zk.best_number()
        rnd = await self.zk.round(self.task_id)
        self._round = rnd
        if rnd is None or rnd.index == 0:
            return
        self.metrics.current_round.set(rnd.index)
        st = self.store.load(self.task_id, rnd.index)
        if st is None:
            if rnd.phase != "Commit":
                return  # joined too late for this round
            st = RoundState(task=self.task_id, round=rnd.index, base_model=rnd.base_model)
            self.store.save(st)
        if rnd.phase == "Commit" and await self._serve_previous_global(rnd):
            return
        if rnd.phase == "Commit":
            await self._commit_phase(rnd, st)
        elif rnd.phase == "Reveal":
            await self._reveal_phase(rnd, st)
        elif rnd.phase == "Aggregation":
            await self._aggregation_phase(rnd, st)
        self._finish_stale_rounds(rnd)

    def _finish_stale_rounds(self, rnd: Round) -> None:
        for st in self.store.rounds(self.task_id):
            if st.round < rnd.index and not st.at_least(Step.COMMITTED) and st.step is not Step.SKIPPED:
                st.step, st.note = Step.SKIPPED, st.note or "the round ended before the commit"
                self.store.save(st)
                self.metrics.rounds.labels("skipped").inc()

    # -- commit phase -------------------------------------------------------------------

    async def _commit_phase(self, rnd: Round, st: RoundState) -> None:
        if st.step is Step.SKIPPED:
            return
        if not st.at_least(Step.PROVED):
            if self._job is None or self._job.done():
                if self._job is not None and self._job_round == rnd.index and self._job.exception():
                    return  # failed for this round; reported in the log
                self._job_round = rnd.index
                self._job = asyncio.create_task(self._prepare(rnd, st), name=f"prepare-{rnd.index}")
            return
        if st.step in (Step.PROVED, Step.COMMITTING):
            if await self.zk.commit_record(self.task_id, rnd.index, self.me) is None:
                st.step = Step.COMMITTING
                self.store.save(st)
                receipt = await self._submit(
                    "commit",
                    self.zk.commit(
                        self.kp, self.task_id, rnd.index, bytes.fromhex(st.digest or ""), st.model_from
                    ),
                )
                st.commit_block = receipt.block_hash
            st.step = Step.COMMITTED
            self.store.save(st)
            log.info("round %d: committed (score %s)", rnd.index, st.score)
            self._status = f"round {rnd.index}: committed"

    async def _prepare(self, rnd: Round, st: RoundState) -> None:
        """Fetches the global model, trains, proves. Runs as a background task."""
        try:
            self._status = f"round {rnd.index}: training"
            model, source = await self._global_model(rnd)
            st.model_from = source
            st.model_refused = list(self._global_checks.get(rnd.index - 1, {}).get("refused", []))
            await self._train(model, rnd)
            weights = self.store.model_path(f"contribution-task{self.task_id}-round{rnd.index}.pt")
            st.commitment = await self._unproven_commitment(model)
            atomic_write(weights, _state_bytes(model))
            st.weights, st.step = str(weights), Step.TRAINED
            self.store.save(st)

            self._status = f"round {rnd.index}: proving"
            self._proving_since = time.monotonic()
            self.store.remember_proven(st.commitment)
            out = self.store.proof_dir(self.task_id, rnd.index)
            try:
                result = await prover.prove_async(
                    self.task.dir, weights, out, progress=self.progress,
                    min_score=None if self.cfg.behaviour.inflates_score else await self._min_score(),
                )
            except prover.BelowThreshold as e:
                st.step, st.note = Step.SKIPPED, str(e)
                self.store.save(st)
                self.metrics.rounds.labels("below-minimum").inc()
                log.info("round %d: %s", rnd.index, e)
                return
            self.metrics.proofs.inc()
            self.metrics.prove_seconds.observe(result.prove_seconds)
            self._last_prove_seconds = result.witness_seconds + result.prove_seconds
            instances = result.instances_be32()
            if self.cfg.behaviour.inflates_score:
                instances = await self._claim_more_than_proved(instances)
            if result.commitment_hex != st.commitment:
                raise WorkerError("the proof commits to other parameters than the ones recorded")
            st.proof = result.proof_path
            st.score = result.score
            st.digest = commit_digest(
                self.kp.public_key, self.task_id, rnd.index, result.proof_bytes, instances
            ).hex()
            # The instances actually submitted go beside the proof.
            Path(result.proof_path).with_suffix(".instances").write_bytes(b"".join(instances))
            st.step = Step.PROVED
            self.store.save(st)
            self.metrics.last_score.set(result.score)
            self._status = f"round {rnd.index}: proved"
        except (prover.ProverError, WorkerError, aggregation.AggregationError,
                commitment_mod.CommitmentError, OSError) as e:
            self.metrics.errors.labels("prepare").inc()
            log.error("round %d: %s", rnd.index, e)
            self._status = f"round {rnd.index}: {e}"
            raise

    async def _min_score(self) -> int:
        """The minimum score the chain accepts for the task (the registered one rules)."""
        info = await self.zk.task(self.task_id)
        if info is None:
            raise WorkerError(f"task {self.task_id} disappeared from the chain")
        return int(info["min_score"])

    async def _claim_more_than_proved(self, instances: list[bytes]) -> list[bytes]:
        """A Byzantine worker's lie: the proof stays, the claimed score goes up to the
        task's minimum. The chain's verifier must reject it."""
        layout = self.task.manifest.instances
        score = int.from_bytes(instances[layout.score_index], "big")
        claimed = max(score + 1, await self._min_score())
        forged = list(instances)
        forged[layout.score_index] = claimed.to_bytes(32, "big")
        return forged

    async def _global_model(self, rnd: Round) -> tuple[torch.nn.Module, str | None]:
        """The model this round trains from, checked against its on-chain commitment, and
        the account that served it (``None`` for the task's initial model)."""
        path, source = await self._verified_global(rnd.index, rnd.base_model)
        return self._model_from_global(path), source

    def _model_from_global(self, path: Path) -> torch.nn.Module:
        template = build_model(self.task.manifest.architecture)
        gm = aggregation.GlobalModel.decode(path.read_bytes(), self.task.manifest.num_params)
        template.load_state_dict(gm.to_state(template.state_dict(), self.task.manifest.settings.param_scale))
        return template

    async def _verified_global(self, before_round: int, commitment: str) -> tuple[Path, str | None]:
        """The global model with ``commitment`` (the newest one published before
        ``before_round``), as a verified file: from the bundle when it is the initial
        model, otherwise from the publisher or, when what it serves does not match the
        chain's commitment, from the round's other aggregator candidates in rank order."""
        async with self._global_lock:
            target = self.store.model_path(f"global-{commitment[2:34]}.zkps")
            check_file = target.with_suffix(".check.json")
            if target.is_file() and check_file.is_file():
                check = json.loads(check_file.read_text())
                if check.get("round") is not None:
                    self._global_checks[int(check["round"])] = check
                return target, check.get("from")
            if commitment == self.task.manifest.initial_commitment:
                state = load_weights(self.task.manifest.architecture, self.task.path("initial_weights")).state_dict()
                values = commitment_mod.quantize_state(state, self.task.manifest.settings.param_scale)
                data = aggregation.of_single(values).encode()
                await self._check_global(data, commitment)
                atomic_write(target, data)
                atomic_write(check_file, json.dumps({"round": None, "from": None}).encode())
                return target, None
            published_round, sources = await self._global_sources(before_round, commitment)
            refused: list[str] = []
            # A fallback candidate may still be summing when the round opens: sources that
            # are unreachable or have nothing yet are asked again; a source whose model
            # does not match is refused for good.
            deadline = asyncio.get_running_loop().time() + GLOBAL_MODEL_WAIT
            while True:
                for who, url in sources:
                    if who in refused:
                        continue
                    try:
                        data = await self._download(url)
                    except (TimeoutError, WorkerError, aiohttp.ClientError, OSError) as e:
                        log.info("global model of round %d not available from %s yet: %s",
                                 published_round, who, e)
                        continue
                    try:
                        await self._check_global(data, commitment)
                    except (WorkerError, aggregation.AggregationError, commitment_mod.CommitmentError) as e:
                        refused.append(who)
                        self.metrics.errors.labels("bad_model").inc()
                        log.warning("refused the global model of round %d from %s: %s",
                                    published_round, who, e)
                        continue
                    check = {"round": published_round, "from": who, "refused": refused,
                             "matches": True, "file": str(target)}
                    atomic_write(target, data)
                    atomic_write(check_file, json.dumps(check).encode())
                    self._global_checks[published_round] = check
                    log.info("global model of round %d from %s matches the chain's commitment%s",
                             published_round, who, f" (refused {', '.join(refused)})" if refused else "")
                    return target, who
                if len(refused) == len(sources) or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(2.0)
            self._global_checks[published_round] = {
                "round": published_round, "from": None, "refused": refused, "matches": False,
            }
            raise WorkerError(f"no aggregator served the global model of round {published_round} "
                              f"matching its commitment (asked {len(sources)}, refused {len(refused)})")

    async def _check_global(self, data: bytes, commitment: str) -> None:
        await check_global_model(self.task, data, commitment)

    async def _global_sources(self, before_round: int, commitment: str) -> tuple[int, list[tuple[str, str]]]:
        """The round that published the model with ``commitment``, and where to get it:
        the publisher's URI first, then the other candidates' servers."""
        for r in range(before_round - 1, max(0, before_round - 1 - HISTORY_SEARCH), -1):
            record = await self.zk.election(self.task_id, r)
            pub = (record or {}).get("published")
            if not pub or str(pub["model"]["commitment"]) != commitment:
                continue
            publisher = str(pub["by"])
            sources = [(publisher, _decode_uri(pub["model"]["uri"]))]
            for who in self._candidates(record):
                if who != publisher:
                    endpoint = await self.zk.endpoint(who)
                    if endpoint:
                        sources.append((who, f"{endpoint.rstrip('/')}/models/global/{self.task_id}/{r}"))
            return r, sources
        raise WorkerError(f"no publication of the global model {commitment[:18]}… in the last "
                          f"{HISTORY_SEARCH} rounds")

    def _candidates(self, record: dict[str, Any]) -> list[str]:
        """The round's aggregator candidates: its best-ranked contributors."""
        return [str(who) for who, _ in record["ranking"]][: self.cfg.aggregator_candidates]

    async def _download(self, url: str) -> bytes:
        assert self._http is not None
        return await download(self._http, url, self.cfg.max_model_bytes)

    async def _unproven_commitment(self, model: torch.nn.Module) -> str:
        """The model's commitment, after moving its last parameter by one quantum as often
        as needed so that it is one this worker never proved: the commitment is
        unblinded and each proof opens it at a new point, so proving the same parameters
        twice (a retrained round after a crash, say) would reveal more of them."""
        scale = self.task.manifest.settings.param_scale
        while True:
            c = commitment_mod.to_hex(
                await asyncio.to_thread(commitment_mod.model_commitment, self.task, model.state_dict())
            )
            if not self.store.was_proven(c):
                return c
            with torch.no_grad():
                last = list(model.parameters())[-1]
                last.view(-1)[-1] += 2.0**-scale
            log.info("this model was proven before; moved its last parameter by one quantum")

    async def _train(self, model: torch.nn.Module, rnd: Round) -> int:
        x, y = self._x, self._y
        t = self.cfg.training
        if self.cfg.behaviour is Behaviour.RANDOM_WEIGHTS:
            torch.manual_seed(t.seed + rnd.index)
            fresh = build_model(self.task.manifest.architecture)
            model.load_state_dict(fresh.state_dict())
            return len(y)
        if self.cfg.behaviour is Behaviour.FLIPPED_LABELS:
            y = (y + 1) % self.task.manifest.test_set.num_classes
        device = None if self.cfg.device == "auto" else self.cfg.device
        result = await asyncio.to_thread(
            train, model, x, y, epochs=t.epochs, lr=t.lr, batch_size=t.batch_size,
            seed=t.seed + rnd.index, device=device, progress=self.progress,
        )
        self.metrics.train_seconds.observe(result.seconds)
        log.info("round %d: trained on %d samples (%s) in %.1f s, train accuracy %.3f",
                 rnd.index, result.samples, result.device, result.seconds, result.train_accuracy)
        return result.samples

    # -- reveal phase -------------------------------------------------------------------

    async def _reveal_phase(self, rnd: Round, st: RoundState) -> None:
        if st.step not in (Step.COMMITTED, Step.REVEALING):
            if not st.at_least(Step.COMMITTED) and st.step is not Step.SKIPPED:
                st.step, st.note = Step.SKIPPED, "not proved before the commit window closed"
                self.store.save(st)
                self.metrics.rounds.labels("late").inc()
            return
        record = await self.zk.commit_record(self.task_id, rnd.index, self.me)
        if record is None:
            st.step, st.note = Step.SKIPPED, "the commit is not on chain"
            self.store.save(st)
            return
        if not record["revealed"]:
            st.step = Step.REVEALING
            self.store.save(st)
            proof_path = Path(st.proof or "")
            proof = ezkl_ops.proof_file_bytes(proof_path)
            raw = proof_path.with_suffix(".instances").read_bytes()
            instances = [raw[i:i + 32] for i in range(0, len(raw), 32)]
            try:
                receipt = await self._submit(
                    "reveal", self.zk.reveal(self.kp, self.task_id, rnd.index, proof, instances)
                )
                st.reveal_block = receipt.block_hash
                rejected = receipt.events_of("Zkpot", "ProofRejected")
                if rejected:
                    st.note = f"proof rejected: {rejected[0].get('reason')}"
            except ExtrinsicFailed as e:
                st.note = f"reveal failed: {e}"
        accepted = any(
            c["who"] == self.me for c in await self.zk.contributions(self.task_id, rnd.index)
        )
        st.step, st.accepted = Step.REVEALED, accepted
        self.store.save(st)
        self.metrics.rounds.labels("accepted" if accepted else "rejected").inc()
        log.info("round %d: revealed, %s", rnd.index, "accepted" if accepted else f"not accepted ({st.note})")
        self._status = f"round {rnd.index}: revealed, {'accepted' if accepted else 'not accepted'}"

    def _input_weights(self, st: RoundState) -> Path:
        """The weights this worker enters into secure aggregation: those proved, except for
        a swapped-model worker, which enters the same weights slightly changed (the
        recovered sum then misses the chain's aggregate commitment)."""
        proved = Path(st.weights or "")
        if self.cfg.behaviour is not Behaviour.SWAPPED_MODEL:
            return proved
        swapped = proved.with_name(proved.stem + "-swapped.pt")
        if not swapped.exists():
            state = torch.load(proved, map_location="cpu", weights_only=True)
            state = {k: v + 0.01 for k, v in state.items()}
            atomic_write(swapped, _state_bytes_from(state))
        return swapped

    # -- aggregation phase ----------------------------------------------------------------

    async def _secagg_spec(self, task: int, round: int) -> tuple[RoundSession, list[int]] | None:
        """The round's secure-aggregation session and this worker's input ``w q`` (its
        proven parameters times the chain's weight), or ``None`` if it is not one of the
        round's aggregated contributors."""
        if task != self.task_id:
            return None
        record = await self.zk.election(task, round)
        st = self.store.load(task, round)
        if record is None or not record.get("aggregate") or st is None or not st.weights:
            return None
        rs = await self._round_session(round, record)
        me = rs.pid(self.me)
        if me is None:
            return None
        state = torch.load(self._input_weights(st), map_location="cpu", weights_only=True)
        q = commitment_mod.quantize_state(state, self.task.manifest.settings.param_scale)
        w = rs.weight(me)
        return rs, [(w * v) % ezkl_ops.FIELD_MODULUS for v in q]

    async def _round_session(self, round: int, record: dict[str, Any]) -> RoundSession:
        info = await self.zk.task(self.task_id)
        if info is None:
            raise WorkerError(f"task {self.task_id} is gone from the chain")
        return round_session(
            self.task_id, round,
            commitment_mod.from_hex(str(record["aggregate"]["commitment"])),
            [(str(who), int(w)) for who, w in record["aggregate"]["included"]],
            self._candidates(record),
            int(info["aggregation"]["min_included_percent"]),
            self.task.manifest.num_params,
        )

    async def _aggregation_phase(self, rnd: Round, st: RoundState) -> None:
        if st.step in (Step.COMMITTED, Step.REVEALING):
            await self._reveal_phase(rnd, st)  # finish a reveal interrupted by a restart
        record = await self.zk.election(self.task_id, rnd.index)
        if record is None or not record.get("aggregate"):
            return
        if self.me not in self._candidates(record) or rnd.index in self._served_rounds:
            return
        if rnd.index in self._secagg_runs and self._secagg_runs[rnd.index].error:
            # The participants answer a second run from the same protocol state: it would
            # see the same messages and fail the same way.
            return
        if self._job is not None and not self._job.done():
            return
        self._job_round = rnd.index
        self._job = asyncio.create_task(self._aggregate(rnd.index), name=f"aggregate-{rnd.index}")

    async def _serve_previous_global(self, rnd: Round) -> bool:
        """A candidate of the previous round that did not see its aggregation phase (it
        was published quickly) sums and serves its global model now, before training, so
        that it can stand in for the publisher. Returns whether it started that job."""
        prev = rnd.index - 1
        if prev < 1 or prev in self._served_rounds or prev in self._fallback_seen:
            return False
        if self._job is not None and not self._job.done():
            return False  # the commit phase waits for the running job anyway
        self._fallback_seen.add(prev)
        record = await self.zk.election(self.task_id, prev)
        if not record or not record.get("published") or self.me not in self._candidates(record):
            return False
        self._job_round = prev
        self._job = asyncio.create_task(self._aggregate(prev), name=f"aggregate-{prev}")
        return True

    async def _aggregate(self, round: int) -> None:
        """As one of the round's candidates: runs the round's secure aggregation with its
        contributors, checks the recovered sum ``s`` against the aggregate commitment over
        the survivors, and serves it; publishes it when it is this worker's turn. The sum of
        a run whose survivors are not the published included set is not served."""
        self._status = f"round {round}: secure aggregation"
        stats = RunStats(round)
        self._secagg_runs[round] = stats
        try:
            record = await self.zk.election(self.task_id, round)
            if record is None or not record.get("aggregate"):
                return
            rs = await self._round_session(round, record)
            if rs.session.threshold < 3:
                log.warning("round %d: secure aggregation with threshold %d: a sum of two "
                            "contributions reveals each to the other contributor",
                            round, rs.session.threshold)
            endpoints: dict[int, str] = {}
            for pid, who in enumerate(rs.accounts, start=1):
                endpoint = await self.zk.endpoint(who)
                if endpoint:
                    endpoints[pid] = endpoint
            assert self._http is not None
            result, _ = await run_aggregation(rs, endpoints, self.kp, self._http,
                                              timeout=self.cfg.http_timeout, stats=stats)
            survivors = [rs.account(pid) for pid in result.included]
            gm = aggregation.GlobalModel(values=result.values,
                                         total_weight=sum(rs.weight(pid) for pid in result.included))
            await self._check_sum(round, rs, gm, survivors, stats)
            await self._publish_or_serve(round, gm, survivors)
        except (WorkerError, secagg_mod.SecAggError, aggregation.AggregationError,
                commitment_mod.CommitmentError, ChainError) as e:
            self.metrics.errors.labels("aggregate").inc()
            stats.error = stats.error or str(e)
            log.error("round %d: aggregation failed: %s", round, e)
            self._status = f"round {round}: aggregation failed: {e}"
        finally:
            for old in sorted(self._secagg_runs)[:-8]:
                del self._secagg_runs[old]

    async def _check_sum(self, round: int, rs: RoundSession, gm: aggregation.GlobalModel,
                         survivors: list[str], stats: RunStats) -> None:
        """``C(s)`` must be the aggregate commitment over the survivors, computed here from
        their on-chain commitments as the chain will: otherwise a contributor entered
        another vector than the one it proved, and the sum is not served."""
        weights = dict(zip(rs.accounts, rs.weights, strict=True))
        commitments = {str(c["who"]): str(c["commitment"])
                       for c in await self.zk.contributions(self.task_id, round)}
        expected = commitment_mod.aggregate(
            [commitment_mod.from_hex(commitments[who]) for who in survivors],
            [weights[who] for who in survivors],
            commitment_mod.from_hex(self.task.manifest.zero_commitment),
        )
        got = await asyncio.to_thread(commitment_mod.commit_values, self.task, gm.values)
        stats.matched = got == expected
        if not stats.matched:
            self.metrics.errors.labels("bad_sum").inc()
            raise WorkerError(
                f"the recovered sum of {len(survivors)} contributions does not match the aggregate "
                "commitment over them: a contributor entered another vector than it proved "
                "(not served, not published)")
        log.info("round %d: secure aggregation recovered the sum of %d of %d contributions; "
                 "C(s) matches the aggregate over them", round, len(survivors), stats.participants)

    async def _publish_or_serve(self, round: int, gm: aggregation.GlobalModel, survivors: list[str]) -> None:
        """Publishes (on turn) or waits for the publication, then serves the sum if the
        published included set is this run's survivor set."""
        while True:
            rnd = await self.zk.round(self.task_id)
            record = await self.zk.election(self.task_id, round)
            if rnd is None or record is None:
                return
            pub = record.get("published")
            if pub:
                # The chain recomputed the aggregate over the set the publisher named.
                included = [str(who) for who, _ in record["aggregate"]["included"]]
                break
            ranking = [str(who) for who, _ in record["ranking"]]
            on_turn = (rnd.index == round and rnd.phase == "Aggregation" and rnd.turn is not None
                       and rnd.turn < len(ranking) and ranking[rnd.turn] == self.me)
            if on_turn:
                self._write_global(round, gm)
                uri = f"{self.cfg.base_url}/models/global/{self.task_id}/{round}"
                await self._submit(
                    "publish_model", self.zk.publish_model(self.kp, self.task_id, round, uri, survivors)
                )
                log.info("round %d: published the sum of %d contributions as %s", round, len(survivors), uri)
                self._served_rounds.add(round)
                self._status = f"round {round}: published"
                return
            if rnd.index != round or rnd.phase != "Aggregation":
                return  # closed without a publication
            await asyncio.sleep(self.poll_interval)
        if sorted(included) != sorted(survivors):
            raise WorkerError(f"cannot serve the global model of round {round}: the publisher "
                              "summed another set of contributions than this run recovered")
        self._write_global(round, gm)
        self._served_rounds.add(round)
        self._status = f"round {round}: serving the global model"

    def _write_global(self, round: int, gm: aggregation.GlobalModel) -> Path:
        """Writes and serves the global model file."""
        path = self.store.model_path(f"global-task{self.task_id}-round{round}.zkps")
        atomic_write(path, gm.encode())
        served = path
        st = self.store.load(self.task_id, round)
        if self.cfg.behaviour is Behaviour.POISONED_AGGREGATE and st is not None and st.weights:
            # Model replacement: its own model, scaled to the total weight.
            state = torch.load(st.weights, map_location="cpu", weights_only=True)
            own = commitment_mod.quantize_state(state, self.task.manifest.settings.param_scale)
            poisoned = aggregation.weighted_sum([own], [gm.total_weight])
            served = path.with_name(path.stem + "-poisoned.zkps")
            atomic_write(served, poisoned.encode())
        self.server.serve_global(self.task_id, round, served)
        return path

    # -- health ---------------------------------------------------------------------------

    def _health(self) -> dict[str, Any]:
        rnd = self._round
        st = self.store.load(self.task_id, rnd.index) if rnd is not None and rnd.index else None
        return {
            "address": self.me,
            "task": self.task_id,
            "block": self._last_block,
            "round": rnd.index if rnd else None,
            "phase": rnd.phase if rnd else None,
            "step": st.step.value if st else None,
            "score": st.score if st else None,
            "status": self._status,
            # While proving: seconds so far and the last proof's duration, for a progress figure.
            "proving": None if self._proving_since is None or not self._status.endswith(": proving") else {
                "elapsed": round(time.monotonic() - self._proving_since, 1),
                "expected": round(self._last_prove_seconds, 1)},
            # The newest checks of published global models against the chain's aggregate.
            "global_checks": [self._global_checks[r] for r in sorted(self._global_checks)[-4:]],
            # Secure aggregation: this worker's costs as a participant, and its runs as a
            # candidate aggregator (survivors, dropouts, whether C(s) matched).
            "secagg": {
                "participant": self.secagg.stats(),
                "aggregator": [self._secagg_runs[r].as_dict() for r in sorted(self._secagg_runs)[-4:]],
            },
        }


def _decode_uri(value: Any) -> str:
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:]).decode(errors="replace")
    return str(value)


def _state_bytes(model: torch.nn.Module) -> bytes:
    return _state_bytes_from(model.state_dict())


def _state_bytes_from(state: dict[str, torch.Tensor]) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, buf)
    return buf.getvalue()


async def download(http: aiohttp.ClientSession, url: str, limit: int) -> bytes:
    """GET ``url``'s body, refusing one over ``limit`` bytes before reading it all."""
    async with http.get(url) as resp:
        if resp.status != 200:
            raise WorkerError(f"GET {url}: HTTP {resp.status}")
        if (resp.content_length or 0) > limit:
            raise WorkerError(f"GET {url}: model larger than {limit} bytes")
        data = bytearray()
        async for chunk in resp.content.iter_chunked(1 << 16):
            data += chunk
            if len(data) > limit:
                raise WorkerError(f"GET {url}: model larger than {limit} bytes")
        return bytes(data)


async def check_global_model(task: Task, data: bytes, commitment: str) -> aggregation.GlobalModel:
    """A served global model, refused unless it parses for ``task`` and its commitment is
    the chain's ``commitment``."""
    gm = aggregation.GlobalModel.decode(data, task.manifest.num_params)
    got = await asyncio.to_thread(commitment_mod.commit_values, task, gm.values)
    if commitment_mod.to_hex(got) != commitment:
        raise WorkerError("its commitment differs from the chain's aggregate")
    return gm
