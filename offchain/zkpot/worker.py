"""The worker daemon: one long-lived asyncio process per participant.

Each round, as ``docs/protocol.md`` describes: fetch the global model and check it against
its on-chain commitment; train on the worker's private data (CUDA when present); prove
(in child processes, never blocking the loop); commit; reveal; serve the model to the
round's aggregators once the reveal is on chain; and, when its turn to aggregate comes,
download the contributions, check each against its on-chain commitment, average them
(FedAvg), publish the new global model and serve it.

The worker is driven by the chain's state, not by its own clock: every new block it reads
the task's round and does what the phase asks, consulting its state directory so that a
restart neither repeats a submission nor forgets a round it can still finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
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

from zkpot import aggregation, ezkl_ops, prover
from zkpot.chain import AsyncChain, ChainError, ExtrinsicFailed, Round, Zkpot
from zkpot.config import Behaviour, WorkerConfig
from zkpot.keys import LoadedKey, session_keys_proof
from zkpot.metrics import WorkerMetrics
from zkpot.protocol import commit_digest
from zkpot.server import H_SAMPLES, ModelServer, signed_headers
from zkpot.state import RoundState, StateStore, Step, atomic_write
from zkpot.task import Task, load_task

log = logging.getLogger(__name__)

#: URI scheme of a model inside the task bundle (the initial model).
BUNDLE_SCHEME = "bundle:"
#: Largest sample count a contributor may claim (FedAvg weight).
MAX_SAMPLES = 10**9


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
        self.server = ModelServer(self.metrics, self._health, self._aggregators_of)
        self.poll_interval = poll_interval
        self.retry_delay = retry_delay
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._job: asyncio.Task[None] | None = None
        self._job_round: int | None = None
        self._last_block = -1
        self._round: Round | None = None
        self._status = "starting"
        self._http: aiohttp.ClientSession | None = None
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
        for st in self.store.rounds(self.task_id):
            if st.step is Step.REVEALED and st.accepted and st.weights:
                self.server.serve_contribution(st.task, st.round, self._served(st), st.samples)
        for path in self.store.root.joinpath("models").glob(f"global-task{self.task_id}-round*.pt"):
            rnd = int(path.stem.rsplit("round", 1)[1])
            self.server.serve_global(self.task_id, rnd, path)

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
                    self.zk.commit(self.kp, self.task_id, rnd.index, bytes.fromhex(st.digest or "")),
                )
                st.commit_block = receipt.block_hash
            st.step = Step.COMMITTED
            self.store.save(st)
            log.info("round %d: committed (score %s)", rnd.index, st.score)

    async def _prepare(self, rnd: Round, st: RoundState) -> None:
        """Fetches the global model, trains, proves. Runs as a background task."""
        try:
            self._status = f"round {rnd.index}: training"
            model = await self._global_model(rnd)
            samples = await self._train(model, rnd)
            weights = self.store.model_path(f"contribution-task{self.task_id}-round{rnd.index}.pt")
            atomic_write(weights, _state_bytes(model))
            st.weights, st.samples, st.step = str(weights), samples, Step.TRAINED
            self.store.save(st)

            self._status = f"round {rnd.index}: proving"
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
            instances = result.instances_be32()
            if self.cfg.behaviour.inflates_score:
                instances = await self._claim_more_than_proved(instances)
            st.proof = result.proof_path
            st.commitment = result.commitment_hex
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
        except (prover.ProverError, WorkerError, aggregation.AggregationError, OSError) as e:
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

    async def _global_model(self, rnd: Round) -> torch.nn.Module:
        """The model this round trains from, checked against its on-chain commitment."""
        info = await self.zk.task(self.task_id)
        if info is None:
            raise WorkerError(f"task {self.task_id} disappeared from the chain")
        model_ref = info["global_model"]
        commitment = str(model_ref["commitment"])
        uri = _decode_uri(model_ref["uri"])
        if commitment != rnd.base_model:
            # Published after this round opened: the round trains from its base model.
            log.info("round %d trains from %s", rnd.index, rnd.base_model)
        path = await self._fetch_model(uri, rnd.base_model)
        return load_weights(self.task.manifest.architecture, path)

    async def _fetch_model(self, uri: str, commitment: str) -> Path:
        target = self.store.model_path(f"global-{commitment[2:18]}.pt")
        if not target.is_file():
            if uri.startswith(BUNDLE_SCHEME):
                name = uri[len(BUNDLE_SCHEME):]
                if name != self.task.manifest.initial_weights.path:
                    raise WorkerError(f"unknown bundle model {name!r}")
                shutil.copyfile(self.task.path("initial_weights"), target)
            else:
                data, _ = await self._download(uri, signed=False)
                atomic_write(target, data)
        got, _ = await prover.model_commitment(self.task, target)
        if f"0x{got:064x}" != commitment:
            target.unlink(missing_ok=True)
            self.metrics.errors.labels("bad_model").inc()
            raise WorkerError(f"the model at {uri} does not match its on-chain commitment")
        return target

    async def _download(self, url: str, *, signed: bool) -> tuple[bytes, dict[str, str]]:
        assert self._http is not None
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
        headers = signed_headers(self.kp, path) if signed else {}
        async with self._http.get(url, headers=headers) as resp:
            if resp.status != 200:
                raise WorkerError(f"GET {url}: HTTP {resp.status}")
            if (resp.content_length or 0) > self.cfg.max_model_bytes:
                raise WorkerError(f"GET {url}: model larger than {self.cfg.max_model_bytes} bytes")
            data = bytearray()
            async for chunk in resp.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > self.cfg.max_model_bytes:
                    raise WorkerError(f"GET {url}: model larger than {self.cfg.max_model_bytes} bytes")
            return bytes(data), dict(resp.headers)

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
        if accepted and st.weights:
            self.server.serve_contribution(self.task_id, rnd.index, self._served(st), st.samples)

    def _served(self, st: RoundState) -> Path:
        """The weights served to the leader: those proved, except for a swapped-model worker,
        which serves the same weights slightly changed (a commitment the leader must catch)."""
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

    async def _aggregators_of(self, task: int, round: int) -> set[str]:
        record = await self.zk.election(task, round)
        if record is None:
            return set()
        return {str(who) for who, _ in record["ranking"]}

    async def _aggregation_phase(self, rnd: Round, st: RoundState) -> None:
        if st.step in (Step.COMMITTED, Step.REVEALING):
            await self._reveal_phase(rnd, st)  # finish a reveal interrupted by a restart
        record = await self.zk.election(self.task_id, rnd.index)
        if record is None or record.get("published"):
            return
        ranking = [(str(who), int(score)) for who, score in record["ranking"]]
        turn = rnd.turn or 0
        if turn >= len(ranking) or ranking[turn][0] != self.me:
            return
        if self._job is not None and not self._job.done():
            return
        self._job_round = rnd.index
        self._job = asyncio.create_task(self._aggregate(rnd, ranking), name=f"aggregate-{rnd.index}")

    async def _aggregate(self, rnd: Round, ranking: list[tuple[str, int]]) -> None:
        """Collects the contributions, checks them, averages them and publishes."""
        self._status = f"round {rnd.index}: aggregating"
        try:
            commitments = {
                str(c["who"]): str(c["commitment"])
                for c in await self.zk.contributions(self.task_id, rnd.index)
            }
            models: list[tuple[dict[str, torch.Tensor], int]] = []
            for who, _ in ranking:
                try:
                    path, samples = await self._collect(who, rnd.index)
                    got, _ = await prover.model_commitment(self.task, path)
                    if f"0x{got:064x}" != commitments.get(who):
                        self.metrics.errors.labels("bad_model").inc()
                        log.warning("round %d: refused %s's model: it does not match its commitment",
                                    rnd.index, who)
                        continue
                    state = torch.load(path, map_location="cpu", weights_only=True)
                    models.append((state, samples))
                except (TimeoutError, WorkerError, prover.ProverError, aiohttp.ClientError, OSError, ValueError) as e:
                    self.metrics.errors.labels("collect").inc()
                    log.warning("round %d: no model from %s: %s", rnd.index, who, e)
            if not models:
                raise WorkerError("no contribution could be collected and checked")
            averaged = aggregation.fedavg(models)
            path = self.store.model_path(f"global-task{self.task_id}-round{rnd.index}.pt")
            atomic_write(path, _state_bytes_from(averaged))
            commitment, _ = await prover.model_commitment(self.task, path)
            self.server.serve_global(self.task_id, rnd.index, path)
            uri = f"{self.cfg.base_url}/models/global/{self.task_id}/{rnd.index}"
            await self._submit(
                "publish_model",
                self.zk.publish_model(self.kp, self.task_id, rnd.index, f"0x{commitment:064x}", uri),
            )
            log.info("round %d: published the average of %d models as %s", rnd.index, len(models), uri)
            self._status = f"round {rnd.index}: published"
        except (WorkerError, aggregation.AggregationError, prover.ProverError, ChainError) as e:
            self.metrics.errors.labels("aggregate").inc()
            log.error("round %d: aggregation failed: %s", rnd.index, e)
            self._status = f"round {rnd.index}: aggregation failed: {e}"

    async def _collect(self, who: str, round: int) -> tuple[Path, int]:
        """A contributor's model and its sample count (our own from disk)."""
        if who == self.me:
            st = self.store.load(self.task_id, round)
            if st is None or not st.weights:
                raise WorkerError("own contribution missing from the state directory")
            return Path(st.weights), st.samples
        endpoint = await self.zk.endpoint(who)
        if not endpoint:
            raise WorkerError("no endpoint on chain")
        url = f"{endpoint.rstrip('/')}/models/contribution/{self.task_id}/{round}"
        data, headers = await self._download(url, signed=True)
        try:
            samples = int(headers.get(H_SAMPLES, "0"))
        except ValueError:
            samples = 0
        if not 1 <= samples <= MAX_SAMPLES:
            raise WorkerError(f"bad sample count {headers.get(H_SAMPLES)!r}")
        path = self.store.model_path(f"collected-task{self.task_id}-round{round}-{who[:12]}.pt")
        atomic_write(path, data)
        return path, samples

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
