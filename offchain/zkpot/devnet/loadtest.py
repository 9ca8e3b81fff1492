"""``zkpot loadtest``: many contributors in one round on the dev chain, with real proofs.

Proving is the slow part, so the proofs are made once and cached: ``N`` distinct models
(one digits MLP trained on the task's training split, its last bias moved by ``i`` quanta
for the ``i``-th, so that every model commitment differs) are proved on the demo's digits
task, so that the reveals are the ones whose cost per block the weights predict. The task
is registered with a minimum score of 1: the test is about the chain's capacity, not the
models.
Then Chopsticks builds blocks in batches (``--build-block-mode Batch``: each block takes
what is pending, as far as the runtime's block limits let it) while ``N`` accounts are
funded, register as workers, commit and reveal in one round. The report records, per
block, the transactions and the weight the runtime counted (``System::BlockWeight``), the
blocks and the wall time of each phase, the election, and the Chopsticks process's
memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from substrateinterface import Keypair

from zkpot import paths
from zkpot.chain.client import AsyncChain, ChainClient, Zkpot
from zkpot.chain.protocol import commit_digest
from zkpot.chain.registration import register_task
from zkpot.devnet.chopsticks import DevChain, DevnetConfig, free_port
from zkpot.proof import prover
from zkpot.proof.task import Task, TaskSpec, ensure_task

log = logging.getLogger(__name__)

UNIT = 10**12
#: The load test's task: the demo's digits task.
LOAD_SPEC = TaskSpec()
#: Most contributors one run takes: the runtime's `MaxContributors`.
MAX_CONTRIBUTORS = 1024


class LoadTestError(RuntimeError):
    """The load test could not run or its round went wrong; the message says how."""


@dataclass
class LoadConfig:
    """Options of ``zkpot loadtest``."""

    contributors: int = 200
    out: Path = Path("loadtest-out")
    #: Blocks of the commit and reveal windows: room for every transaction of the phase.
    commit_blocks: int = 40
    reveal_blocks: int = 60
    #: Longest wait for one phase's transactions to be included.
    phase_timeout: float = 900.0


def proof_cache(task: Task) -> Path:
    """Where the load test's proofs of ``task`` are kept (by its verifying key)."""
    return paths.cache_dir() / "loadtest" / task.manifest.vk.sha256[:16]


def _base_model(task: Task, cache: Path) -> Path:
    """The trained model every variant starts from (trained once, cached)."""
    from zkpot_models import arch_spec, build_model, load_dataset, train_test_split
    from zkpot_models.train import train

    path = cache / "base.pt"
    if path.is_file():
        return path
    spec = LOAD_SPEC
    ds = load_dataset(spec.dataset)
    tr, _ = train_test_split(ds, spec.test_fraction, spec.split_seed)
    shape = arch_spec(task.manifest.architecture).input_shape
    torch.manual_seed(0)
    model = build_model(task.manifest.architecture)
    train(model, tr.x.reshape((len(tr.y), *shape)).astype(np.float32), tr.y, epochs=20, lr=0.01,
          batch_size=32, seed=0, device="cpu")
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


async def ensure_proofs(task: Task, n: int, *, progress: bool = False) -> list[dict[str, Any]]:
    """``n`` proofs of distinct models on ``task``, made once and cached: each a dict with
    ``proof`` (hex), ``instances`` (ints), ``commitment`` and ``score``."""
    cache = proof_cache(task)
    cache.mkdir(parents=True, exist_ok=True)
    base = torch.load(_base_model(task, cache), weights_only=True)
    last = list(base)[-1]
    quantum = 2.0 ** -task.manifest.settings.param_scale
    out = []
    started = time.monotonic()
    for i in range(n):
        path = cache / f"proof-{i:04d}.json"
        if not path.is_file():
            state = {k: v.clone() for k, v in base.items()}
            # A different model each: the last bias moved by i quanta.
            state[last].view(-1)[0] += i * quantum
            work = cache / f".work-{i:04d}"
            work.mkdir(exist_ok=True)
            weights = work / "model.pt"
            torch.save(state, weights)
            r = await prover.prove_async(task.dir, weights, work, min_score=None)
            record = {"proof": r.proof_hex.removeprefix("0x"), "instances": [int(v) for v in r.instances],
                      "commitment": r.commitment_hex, "score": int(r.score),
                      "prove_seconds": r.prove_seconds}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record))
            tmp.replace(path)
            for f in work.iterdir():
                f.unlink()
            work.rmdir()
            if progress:
                done = i + 1
                left = (time.monotonic() - started) / done * (n - done)
                print(f"  proof {done}/{n} (score {r.score}, {r.prove_seconds:.1f} s); about {left / 60:.0f} min left",
                      flush=True)
        out.append(json.loads(path.read_text()))
    if len({p["commitment"] for p in out}) != n:
        raise LoadTestError("the cached proofs do not all commit to distinct models")
    return out


def _rss_mib(pid: int | None) -> float | None:
    """Resident memory of a process and its children (Chopsticks runs under node)."""
    if pid is None:
        return None
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # Field 5 of stat (after the name) is the process group: Chopsticks' own group.
        if int(stat[2]) != pid:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


class _Sender:
    """Sends signed transactions without waiting (the pool and Chopsticks' batches do the
    rest) and follows the blocks they land in."""

    def __init__(self, url: str) -> None:
        self.client = ChainClient(url)
        self.s = self.client.connect()
        self.blocks: list[dict[str, Any]] = []
        self._seen = self.s.get_block_number(self.s.get_chain_head())

    def send(self, kp: Keypair, module: str, fn: str, params: dict[str, Any], nonce: int) -> None:
        call = self.s.compose_call(call_module=module, call_function=fn, call_params=params)
        xt = self.s.create_signed_extrinsic(call=call, keypair=kp, nonce=nonce)
        self.s.rpc_request("author_submitExtrinsic", [str(xt.data)])

    def follow(self, phase: str) -> list[dict[str, Any]]:
        """Records the blocks built since the last call."""
        best = self.s.get_block_number(self.s.get_chain_head())
        new = []
        for n in range(self._seen + 1, best + 1):
            h = self.s.get_block_hash(n)
            block = self.s.get_block(block_hash=h)
            events = self.s.get_events(block_hash=h)
            weight = self.s.query("System", "BlockWeight", block_hash=h).value
            names: dict[str, int] = {}
            for e in events:
                key = f"{e.value['module_id']}.{e.value['event_id']}"
                names[key] = names.get(key, 0) + 1
            new.append({"number": n, "phase": phase, "extrinsics": len(block["extrinsics"]),
                        "weight_normal_ms": int(weight["normal"]["ref_time"]) / 1e9,
                        "weight_mandatory_ms": int(weight["mandatory"]["ref_time"]) / 1e9,
                        "events": names})
        self._seen = best
        self.blocks.extend(new)
        return new


async def run(cfg: LoadConfig, *, progress: bool = True) -> dict[str, Any]:
    """Runs the load test; returns the report (also written to ``cfg.out/report.json``)."""
    n = cfg.contributors
    if not 1 <= n <= MAX_CONTRIBUTORS:
        raise LoadTestError(f"--contributors must be 1..{MAX_CONTRIBUTORS}, got {n}")
    out = cfg.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    task = await asyncio.to_thread(ensure_task, LOAD_SPEC)
    await prover.ensure_proving_key(task)
    t0 = time.monotonic()
    proofs = await ensure_proofs(task, n, progress=progress)
    proving_s = time.monotonic() - t0
    accounts = [Keypair.create_from_uri(f"//zkpot-load-{i}") for i in range(n)]
    alice = Keypair.create_from_uri("//Alice")
    phases: dict[str, dict[str, Any]] = {}

    chain = DevChain(DevnetConfig(port=free_port(), block_time=0, build_block_mode="Batch",
                                  log_path=out / "chopsticks.log"))
    async with chain:
        ac = AsyncChain(chain.url)
        zk = Zkpot(ac)
        task_id = await register_task(zk, alice, task, min_score=1, commit_blocks=cfg.commit_blocks,
                                      reveal_blocks=cfg.reveal_blocks, aggregation_blocks=10,
                                      top=MAX_CONTRIBUTORS, min_included_percent=67)
        info = await zk.task(task_id)
        assert info is not None
        sender = await asyncio.to_thread(_Sender, chain.url)
        rss_start = _rss_mib(chain.pid)

        async def phase(name: str, send: Any, done_event: str, expected: int) -> None:  # noqa: ANN401
            started = time.monotonic()
            await asyncio.to_thread(send)
            deadline = started + cfg.phase_timeout
            seen = 0
            blocks: list[dict[str, Any]] = []
            while seen < expected:
                if time.monotonic() > deadline:
                    raise LoadTestError(f"{name}: {seen} of {expected} included after {cfg.phase_timeout:g} s")
                await asyncio.sleep(0.5)
                new = await asyncio.to_thread(sender.follow, name)
                blocks += new
                failed = sum(b["events"].get("System.ExtrinsicFailed", 0) for b in new)
                if failed:
                    raise LoadTestError(f"{name}: {failed} transactions failed (log: {chain.log_path})")
                seen += sum(b["events"].get(done_event, 0) for b in new)
            phases[name] = {"transactions": expected, "blocks": len(blocks),
                            "seconds": round(time.monotonic() - started, 2),
                            "max_block_weight_ms": max((b["weight_normal_ms"] for b in blocks), default=0),
                            "max_extrinsics_per_block": max((b["extrinsics"] for b in blocks), default=0)}
            if progress:
                print(f"{name}: {expected} transactions in {len(blocks)} blocks, "
                      f"{phases[name]['seconds']:.1f} s", flush=True)

        alice_nonce = await ac.call(ac.client.account_nonce, alice.ss58_address)

        def fund() -> None:
            for i, kp in enumerate(accounts):
                sender.send(alice, "Balances", "transfer_keep_alive",
                            {"dest": kp.ss58_address, "value": 1000 * UNIT}, alice_nonce + i)

        await phase("fund", fund, "Balances.Transfer", n)
        await phase("register", lambda: [sender.send(kp, "Zkpot", "register_worker", {}, 0)
                                         for kp in accounts], "Zkpot.WorkerRegistered", n)
        rnd = await zk.round(task_id)
        if rnd is None or rnd.phase != "Commit":
            await chain.new_blocks(1)
            rnd = await zk.round(task_id)
        assert rnd is not None and rnd.phase == "Commit", rnd
        index = rnd.index
        opened = time.monotonic()

        def words(p: dict[str, Any]) -> list[bytes]:
            return [v.to_bytes(32, "big") for v in p["instances"]]

        def commit() -> None:
            for kp, p in zip(accounts, proofs, strict=True):
                digest = commit_digest(kp.public_key, task_id, index, bytes.fromhex(p["proof"]), words(p))
                sender.send(kp, "Zkpot", "commit", {"task": task_id, "round": index,
                                                    "digest": "0x" + digest.hex(), "ack": None}, 1)

        await phase("commit", commit, "Zkpot.CommitAccepted", n)
        best = await zk.best_number()
        await chain.new_blocks(max(0, int(rnd.commit_end) - best))
        bound = {"ref_time": int(info["verify_weight"]["ref_time"]),
                 "proof_size": int(info["verify_weight"]["proof_size"])}

        def reveal() -> None:
            for kp, p in zip(accounts, proofs, strict=True):
                sender.send(kp, "Zkpot", "reveal", {
                    "task": task_id, "round": index, "proof": "0x" + p["proof"],
                    "instances": [["0x" + w.hex() for w in words(p)]],
                    "verify_weight_bound": bound}, 2)

        await asyncio.to_thread(sender.follow, "between")
        await phase("reveal", reveal, "Zkpot.ProofAccepted", n)
        rss_peak = _rss_mib(chain.pid)
        best = await zk.best_number()
        await chain.new_blocks(max(0, int(rnd.reveal_end) - best))
        elected = await asyncio.to_thread(sender.follow, "election")
        record = await zk.election(task_id, index)
        if record is None or len(record["ranking"]) != n:
            raise LoadTestError(f"the election ranked {0 if record is None else len(record['ranking'])} of {n}")
        round_s = time.monotonic() - opened
        rss_end = _rss_mib(chain.pid)
        await ac.close()

    per_block = [b for b in sender.blocks if b["phase"] == "reveal" and b["events"].get("Zkpot.ProofAccepted")]
    report = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "task": {"name": task.manifest.name, "samples": task.manifest.test_set.num_samples,
                 "logrows": task.manifest.settings.logrows, "vka_bytes": len(task.vka_words()),
                 "verify_weight_ms": int(info["verify_weight"]["ref_time"]) / 1e9},
        "proofs": {"count": n, "distinct_commitments": len({p["commitment"] for p in proofs}),
                   "proof_bytes": len(proofs[0]["proof"]) // 2,
                   "seconds_this_run": round(proving_s, 1),
                   "prove_seconds_mean": round(float(np.mean([p["prove_seconds"] for p in proofs])), 2)},
        "phases": phases,
        "reveals_per_block": [b["events"]["Zkpot.ProofAccepted"] for b in per_block],
        "election": {"ranked": len(record["ranking"]), "outcome": record["outcome"],
                     "aggregate_over": len((record.get("aggregate") or {}).get("included") or []),
                     "block_weight_mandatory_ms": max((b["weight_mandatory_ms"] for b in elected), default=0)},
        "round_seconds": round(round_s, 1),
        "chopsticks_rss_mib": {"start": rss_start, "after_reveals": rss_peak, "end": rss_end},
        "blocks": sender.blocks,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def summary(report: dict[str, Any]) -> str:
    """The report in a few lines."""
    t, p = report["task"], report["phases"]
    lines = [f"{report['proofs']['count']} contributors, task {t['name']} ({t['samples']} samples, "
             f"logrows {t['logrows']}, verification {t['verify_weight_ms']:.1f} ms of weight)"]
    for name, ph in p.items():
        lines.append(f"  {name:<8} {ph['transactions']:>5} tx in {ph['blocks']:>3} blocks, {ph['seconds']:>7.1f} s, "
                     f"at most {ph['max_extrinsics_per_block']} tx and {ph['max_block_weight_ms']:.0f} ms of weight a block")
    lines.append(f"  reveals per block: {report['reveals_per_block']}")
    e = report["election"]
    lines.append(f"  election: {e['ranked']} ranked, aggregate over {e['aggregate_over']}, "
                 f"hook weight {e['block_weight_mandatory_ms']:.0f} ms; round {report['round_seconds']:.0f} s")
    lines.append(f"  Chopsticks memory (MiB): {report['chopsticks_rss_mib']}")
    return "\n".join(lines)
