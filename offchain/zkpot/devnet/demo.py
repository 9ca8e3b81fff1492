"""``zkpot demo``: ZKPoT end to end on the dev chain, in one command.

Starts the dev chain, registers the embedded digits task (building it if needed), starts
N worker daemons (separate processes, each with its own key, data share, HTTP server and
state directory; one of them Byzantine), runs R rounds and reports each: contributions and
scores, rejected proofs and why, the leader, the new block authors, the global model's
accuracy. Writes plots and a JSON report, checks the elections with polkadot.js, shuts
everything down.

The dev chain is Chopsticks, which builds a block for every transaction and otherwise on
demand. The demo is its clock: the round windows are long in blocks, and when every worker
is done with a phase (their ``/health`` says so) it produces the blocks up to the phase's
end at once. A round takes as long as its work, not a fixed wall time; the protocol itself
only counts blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from substrateinterface import Keypair

from zkpot import paths
from zkpot.chain.client import AsyncChain, Round, Zkpot
from zkpot.chain.registration import register_task
from zkpot.chain.status import proof_outcomes
from zkpot.dashboard.feed import Feed
from zkpot.dashboard.server import serving
from zkpot.devnet.chopsticks import DevChain, DevnetConfig, free_port
from zkpot.proof import prover, quantize
from zkpot.proof.task import TaskSpec, ensure_default_task, fixed_test_set
from zkpot.worker.config import Behaviour

log = logging.getLogger(__name__)

UNIT = 10**12


@dataclass
class DemoConfig:
    """Options of ``zkpot demo``."""

    workers: int = 4
    rounds: int = 3
    byzantine: str = Behaviour.FLIPPED_LABELS.value
    #: Honest workers that leave each round's secure aggregation after the key agreement.
    dropout: int = 0
    out: Path = Path("demo-out")
    epochs: int = 20
    #: Seconds between looks at the workers.
    poll: float = 1.0
    #: Longest wait for the workers in one phase before the clock moves on anyway.
    phase_timeout: float = 900.0
    #: Windows in blocks: longer than the transactions of a phase (each makes a block;
    #: the demo's clock adds the rest once the workers are done).
    commit_blocks: int = 30
    reveal_blocks: int = 30
    aggregation_blocks: int = 15
    #: Port of the election dashboard served while the demo runs (0: any free one);
    #: None: no dashboard.
    dashboard_port: int | None = 0


@dataclass
class RoundReport:
    """What happened in one round."""

    round: int
    seconds: float = 0.0
    contributions: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    leader: str | None = None
    #: Whether the leader's score equals the runner-up's: the election then fell to the
    #: tie-break (earlier reveal, then account).
    tie_break: bool = False
    authors: list[str] = field(default_factory=list)
    outcome: str = ""
    published: str | None = None
    #: The global model's commitment A as the chain computed it, who it includes with which
    #: weights, who was left out, and which workers checked the model they downloaded
    #: against A (and whose served models they refused).
    aggregate: dict[str, Any] | None = None
    #: How the chain settled this round's publication once the next round's commits were
    #: in: acknowledgements naming the publisher, of how many contributors, who was paid.
    settlement: dict[str, Any] | None = None
    #: The round's secure aggregation as the publisher ran it: participants, threshold,
    #: survivors and who dropped at which step, whether the sum was recovered and C(s)
    #: matched A over the survivors, its time and bytes; and each participant's costs.
    secure_aggregation: dict[str, Any] | None = None
    global_accuracy: float | None = None
    global_quantized_accuracy: float | None = None
    timings: dict[str, float] = field(default_factory=dict)


class LiveView:
    """What each worker is doing, from its ``/health``: redrawn in place on a terminal (with
    the proof's progress), one log line per change of status otherwise."""

    def __init__(self, names: list[str], out: TextIO, tty: bool) -> None:
        self.names = names
        self.out = out
        self.tty = tty
        self._drawn = 0
        self._last: dict[str, str] = {}

    @staticmethod
    def describe(health: dict[str, Any]) -> tuple[str, str]:
        """(status, status with progress) of one worker's health."""
        if not health:
            return "unreachable", "unreachable"
        status = str(health.get("status") or health.get("step") or "?")
        prog = health.get("proving")
        if not prog:
            return status, status
        expected = max(float(prog["expected"]), 1.0)
        pct = min(99, int(100 * float(prog["elapsed"]) / expected))
        return status, f"{status} {pct:>2} % ({float(prog['elapsed']):.0f} of ~{expected:.0f} s)"

    def update(self, healths: list[dict[str, Any]]) -> None:
        """Shows the workers' current state."""
        rows = [(name, *self.describe(h)) for name, h in zip(self.names, healths, strict=True)]
        if self.tty:
            self.clear()
            for name, _, text in rows:
                self.out.write(f"  {name:<14} {text}\n")
            self._drawn = len(rows)
        else:
            for name, status, _ in rows:
                if self._last.get(name) != status:
                    self.out.write(f"  [{name}] {status}\n")
            self._last = {name: status for name, status, _ in rows}
        self.out.flush()

    def clear(self) -> None:
        """Removes the live lines from a terminal (before other output)."""
        if self.tty and self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0
            self.out.flush()


class WorkerProcess:
    """A worker daemon started as ``zkpot worker run``."""

    def __init__(self, name: str, uri: str, behaviour: str, index: int, total: int,
                 chain_url: str, task_dir: Path, task_id: int, root: Path, epochs: int,
                 alpha: float | None = None, dropout: bool = False) -> None:
        if behaviour == Behaviour.POISONED_AGGREGATE.value:
            # Made the top scorer, so that it really is the leader: it trains on the whole
            # training split (one share of one), twice as long.
            index, total, epochs, alpha = 0, 1, 2 * epochs, None
        self.name = name
        self.keypair = Keypair.create_from_uri(uri)
        self.behaviour = behaviour
        self.dir = root / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        key_file = self.dir / "key"
        key_file.write_text(uri)
        key_file.chmod(0o600)
        (self.dir / "worker.toml").write_text(
            "\n".join([
                f'chain_url = "{chain_url}"',
                f"task_id = {task_id}",
                f'task_dir = "{task_dir}"',
                f'state_dir = "{self.dir / "state"}"',
                f"listen_port = {self.port}",
                f'behaviour = "{behaviour}"',
                f"dropout_after_key_agreement = {'true' if dropout else 'false'}",
                "[key]",
                f'file = "{key_file}"',
                "[data]",
                f"client = {index}",
                f"clients = {total}",
                *([f"alpha = {alpha}"] if alpha is not None else []),
                "seed = 7",
                "[training]",
                f"epochs = {epochs}",
                f"seed = {index}",
            ]) + "\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of its HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Starts the daemon; its log goes to ``worker.log``."""
        log_file = (self.dir / "worker.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zkpot.cli", "worker", "run", "--config", str(self.dir / "worker.toml")],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def stop(self) -> None:
        """Stops the daemon (SIGTERM, then SIGKILL)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    async def health(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        """Its ``/health`` document ({} while unreachable)."""
        try:
            async with http.get(self.url + "/health", timeout=aiohttp.ClientTimeout(total=2)) as r:
                return await r.json()
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return {}


def _print_round(r: RoundReport, names: dict[str, str]) -> None:
    def who(a: str | None) -> str:
        return names.get(a or "", (a or "-")[:10])

    print(f"\n=== round {r.round} ({r.seconds:.0f} s) ===")
    print(f"{'worker':<10} {'score':>5}  commitment")
    for c in sorted(r.contributions, key=lambda c: -c["score"]):
        print(f"{who(c['who']):<10} {c['score']:>5}  {c['commitment'][:18]}…")
    for rej in r.rejected:
        print(f"{who(rej['who']):<10} {'-':>5}  REJECTED: {rej['reason']}")
    print(f"leader: {who(r.leader)}{' (tied on score: decided by the tie-break)' if r.tie_break else ''}"
          f"   outcome: {r.outcome}")
    print(f"next block authors: {', '.join(who(a) for a in r.authors) or '(unchanged)'}")
    a = r.aggregate
    if a:
        parts = ", ".join(f"{who(i['who'])}×{i['weight']}" for i in a["included"])
        print(f"aggregate A = {a['commitment'][:18]}… computed on chain over {parts}"
              + (f"; left out: {', '.join(who(x) for x in a['left_out'])}" if a["left_out"] else ""))
        if "checked" in a:  # only a published model is downloaded and checked
            print(f"checked against A by {a['checked']}/{a['workers']} workers"
                  + "".join(f"; {who(c['worker'])} refused {', '.join(who(x) for x in c['refused'])} "
                            f"and took it from {who(c['from'])}" for c in a["checks"] if c["refused"]))
    s = r.secure_aggregation
    if s:
        dropped = "; ".join(f"{who(x)} at {why.split(':', 1)[0]}" for x, why in s["dropped"].items())
        print(f"secure aggregation by {who(s['by'])}: {len(s['survivors'])} of {s['participants']} "
              f"contributions (threshold {s['threshold']}), dropped {len(s['dropped'])}"
              + (f" ({dropped})" if dropped else "")
              + f"; sum {'recovered' if s['recovered'] else 'NOT recovered'}"
              + {True: ", C(s) = A over the survivors", False: ", C(s) != A: not published",
                 None: ""}[s["matched"]]
              + f"; {s['seconds']:.1f} s, {s['message_rounds']} message rounds"
              + (f"; error: {s['error']}" if s["error"] else ""))
    if r.global_accuracy is not None:
        print(f"global model: {r.published}  accuracy {100 * r.global_accuracy:.1f}% "
              f"(quantized {100 * (r.global_quantized_accuracy or 0):.1f}%)")
    else:
        print("global model: not published")
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items()))


async def _produce_until(chain: DevChain, zk: Zkpot, target: int) -> None:
    number = await zk.best_number()
    if target > number:
        await chain.new_blocks(target - number)


async def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Runs the demo; returns the report (also written to ``cfg.out/report.json``)."""
    if cfg.workers < 2:
        raise ValueError("the demo needs at least 2 workers")
    if cfg.byzantine not in {b.value for b in Behaviour} | {"none"}:
        raise ValueError(f"unknown Byzantine kind {cfg.byzantine!r}")
    honest = cfg.workers - (cfg.byzantine != "none")
    # Secure aggregation needs two survivors and the task's two thirds of the contributions.
    if not 0 <= cfg.dropout or (cfg.dropout and (honest - cfg.dropout) * 3 < 2 * honest):
        raise ValueError(f"--dropout {cfg.dropout}: at most a third of the {honest} honest workers may drop")
    out = cfg.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print("preparing the digits task (built once, then cached)", flush=True)
    task = await asyncio.to_thread(ensure_default_task)
    await prover.ensure_proving_key(task)
    _, whole_test = fixed_test_set(TaskSpec())

    chain = DevChain(DevnetConfig(port=free_port(), block_time=0, log_path=out / "chopsticks.log"))
    workers: list[WorkerProcess] = []
    rounds: list[RoundReport] = []
    async with chain, aiohttp.ClientSession() as http:
        print(f"dev chain: {chain.url}", flush=True)
        ac = AsyncChain(chain.url)
        zk = Zkpot(ac)
        alice = Keypair.create_from_uri("//Alice")
        task_id = await register_task(
            zk, alice, task, commit_blocks=cfg.commit_blocks, reveal_blocks=cfg.reveal_blocks,
            aggregation_blocks=cfg.aggregation_blocks,
            # Two thirds, rounded so that 2 of 3 contributions are enough.
            min_included_percent=66,
        )
        byzantine_index = cfg.workers - 1 if cfg.byzantine != "none" else -1
        # With a poisoning leader the honest workers hold skewed (non-IID) shares, as
        # clients often do, so that the Byzantine worker with all the data leads.
        alpha = 0.3 if cfg.byzantine == Behaviour.POISONED_AGGREGATE.value else None
        # The honest workers just before the Byzantine one drop out of secure aggregation.
        dropping = set(range(byzantine_index if byzantine_index >= 0 else cfg.workers)[::-1][:cfg.dropout])
        for i in range(cfg.workers):
            behaviour = cfg.byzantine if i == byzantine_index else Behaviour.HONEST.value
            w = WorkerProcess(
                f"worker{i + 1}" + ("-byz" if i == byzantine_index else "")
                + ("-drop" if i in dropping else ""),
                f"//zkpot-demo-worker-{i + 1}", behaviour, i, cfg.workers, chain.url, task.dir,
                task_id, out / "workers", cfg.epochs, alpha=alpha, dropout=i in dropping,
            )
            await ac.submit(alice, "Balances", "transfer_keep_alive",
                            {"dest": w.keypair.ss58_address, "value": 1000 * UNIT})
            workers.append(w)
        names = {w.keypair.ss58_address: w.name for w in workers}
        names[alice.ss58_address] = "alice"
        for w in workers:
            w.start()
        try:
            async with contextlib.AsyncExitStack() as stack:
                if cfg.dashboard_port is not None:
                    feed = Feed(Zkpot(AsyncChain(chain.url)), chain.url, task=task_id,
                                bundles=[task], labels=names)
                    url = await stack.enter_async_context(serving(feed, port=cfg.dashboard_port))
                    print(f"dashboard: {url}", flush=True)
                rounds = await _drive(cfg, chain, zk, http, task, task_id, workers, names, whole_test)
        finally:
            for w in workers:
                w.stop()
        validators = await ac.call(ac.client.query, "Session", "Validators")
        seen_by_polkadot_js = _read_with_polkadot_js(chain.url)
        await ac.close()

    report = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "task": {"dir": str(task.dir), "vka_sha256": task.manifest.vka.sha256,
                 "min_score": task.manifest.min_score, "srs": task.manifest.srs.kind.value},
        "workers": [{"name": w.name, "address": w.keypair.ss58_address, "behaviour": w.behaviour}
                    for w in workers],
        "rounds": [asdict(r) for r in rounds],
        "final_validators": validators,
        "polkadot_js": {"elections": seen_by_polkadot_js["zkpot"]["storage"].get("elections"),
                        "validators": seen_by_polkadot_js["session"]["validators"]},
        "seconds": time.monotonic() - started,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    _plots(report, out)
    _check_against_polkadot_js(report)
    print(f"\nreport: {out / 'report.json'}; plots: {out}/*.png", flush=True)
    return report


async def _drive(cfg: DemoConfig, chain: DevChain, zk: Zkpot, http: aiohttp.ClientSession,
                 task: Any, task_id: int, workers: list[WorkerProcess], names: dict[str, str],
                 whole_test: Any) -> list[RoundReport]:
    """The demo's clock: moves the chain on as the workers finish each phase."""
    reports: list[RoundReport] = []
    view = LiveView([w.name for w in workers], sys.stdout, sys.stdout.isatty())
    current: RoundReport | None = None
    phase_started = current_start = time.monotonic()
    last_phase: tuple[int, str] | None = None
    while True:
        rnd = await zk.round(task_id)
        if rnd is None:
            raise RuntimeError("the task has no round")
        if (rnd.index, rnd.phase) != last_phase:
            now = time.monotonic()
            if current is not None and last_phase is not None and last_phase[0] == current.round:
                current.timings[last_phase[1].lower()] = now - phase_started
            last_phase, phase_started = (rnd.index, rnd.phase), now
            if rnd.phase == "Commit":
                view.clear()
                if current is not None:
                    await _close_report(current, zk, task, task_id, whole_test, names, workers, http)
                    if reports:
                        await _settlement(reports[-1], zk, task_id, names)
                    reports.append(current)
                    if len(reports) >= cfg.rounds:
                        return reports
                current = RoundReport(round=rnd.index)
                current_start = now
                print(f"round {rnd.index}: training and proving…", flush=True)
        if current is not None:
            current.seconds = time.monotonic() - current_start
        healths = [await w.health(http) for w in workers]
        view.update(healths)
        timeout = time.monotonic() - phase_started > cfg.phase_timeout
        if not await advance_clock(chain, zk, rnd, healths, force=timeout):
            await asyncio.sleep(cfg.poll)


async def advance_clock(chain: DevChain, zk: Zkpot, rnd: Round, healths: list[dict[str, Any]],
                        *, force: bool = False) -> bool:
    """Produces the blocks that end the round's current phase when every worker is done
    with it (from their ``/health``), or at once when ``force``. Returns whether it did."""
    in_round = [h for h in healths if h.get("round") == rnd.index]
    steps = [h.get("step") for h in in_round]
    if rnd.phase == "Commit":
        done = len(in_round) == len(healths) and all(
            s in ("committed", "skipped", "revealed") for s in steps)
        if done or force:
            await _produce_until(chain, zk, rnd.commit_end)
            return True
    elif rnd.phase == "Reveal":
        if force or not [s for s in steps if s in ("committed", "revealing")]:
            await _produce_until(chain, zk, rnd.reveal_end)
            return True
    elif rnd.phase == "Aggregation":
        # Every candidate that ran the round's secure aggregation failed (a wrong sum, too
        # many dropouts): nobody will publish, so the turns need not wait out the clock.
        runs = [run for h in healths for run in (h.get("secagg") or {}).get("aggregator") or []
                if run.get("round") == rnd.index]
        force = force or bool(runs) and all(run.get("error") for run in runs)
        if force and rnd.deadline is not None:
            await _produce_until(chain, zk, rnd.deadline)
            return True
    else:  # Closed: the next round opens in the next block
        await chain.new_blocks(1)
        return True
    return False


async def _close_report(r: RoundReport, zk: Zkpot, task: Any, task_id: int, whole_test: Any,
                        names: dict[str, str], workers: list[WorkerProcess],
                        http: aiohttp.ClientSession) -> None:
    """Fills a round's report from the chain once it has closed."""
    r.contributions = [
        {"who": str(c["who"]), "score": int(c["score"]), "commitment": str(c["commitment"])}
        for c in await zk.contributions(task_id, r.round)
    ]
    record = await zk.election(task_id, r.round)
    if record is not None:
        r.leader = str(record["ranking"][0][0]) if record["ranking"] else None
        scores = [int(score) for _, score in record["ranking"]]
        r.tie_break = len(scores) > 1 and scores[0] == scores[1]
        r.authors = [str(a) for a in record["authors"]]
        outcome = record["outcome"]
        r.outcome = outcome if isinstance(outcome, str) else json.dumps(outcome)
        if record.get("published"):
            pub = record["published"]
            uri = pub["model"]["uri"]
            uri = bytes.fromhex(uri[2:]).decode() if isinstance(uri, str) and uri.startswith("0x") else str(uri)
            r.published = uri
    else:
        r.outcome = "AuthorSetKept(NoValidContribution)"
    r.rejected = await _rejections(zk, task_id, r.round)
    if record is not None and record.get("aggregate"):
        agg = record["aggregate"]
        r.aggregate = {
            "commitment": str(agg["commitment"]),
            "included": [{"who": str(w), "weight": int(x)} for w, x in agg["included"]],
            "total_weight": int(agg["total_weight"]),
            "left_out": [str(w) for w in record.get("left_out") or []],
        }
    if r.aggregate is not None:
        r.secure_aggregation = await _secure_aggregation(r.round, record, workers, http)
    if r.published and r.aggregate is not None:
        checks = await _global_checks(r.round, workers, http)
        r.aggregate["checks"] = checks
        r.aggregate["workers"] = len(workers)
        r.aggregate["checked"] = sum(1 for c in checks if c["matches"])
        verified = next((c for c in checks if c["matches"]), None)
        if verified is not None:
            try:
                r.global_accuracy, r.global_quantized_accuracy = await _global_accuracy(
                    verified["file"], task, whole_test)
            except (OSError, ValueError) as e:
                log.warning("could not evaluate the global model: %s", e)
    _print_round(r, names)


async def _secure_aggregation(round: int, record: dict[str, Any], workers: list[WorkerProcess],
                              http: aiohttp.ClientSession) -> dict[str, Any] | None:
    """The round's secure aggregation from the workers' ``/health``: the publisher's run (or
    the leader's, when nobody published) and every participant's costs."""
    pub = record.get("published")
    runner = str(pub["by"]) if pub else (str(record["ranking"][0][0]) if record["ranking"] else None)
    runs, costs = {}, []
    for w in workers:
        health = await w.health(http)
        sa = health.get("secagg") or {}
        for run in sa.get("aggregator") or []:
            if run.get("round") == round:
                runs[w.keypair.ss58_address] = run
        for c in sa.get("participant") or []:
            if c.get("round") == round:
                costs.append({"worker": w.keypair.ss58_address, **c})
    run = runs.get(runner or "")
    if run is None:
        return None
    return {"by": runner, **run, "participant_costs": costs}


async def _rejections(zk: Zkpot, task_id: int, round: int) -> list[dict[str, Any]]:
    best = await zk.best_number()
    return [{"who": p["who"], "reason": p["reason"]}
            for p in await proof_outcomes(zk, best - 60, best, task_id)
            if not p["accepted"] and p["round"] == round]


async def _settlement(r: RoundReport, zk: Zkpot, task_id: int, names: dict[str, str]) -> None:
    """Records (and prints) how the chain settled round ``r``'s publication."""
    record = await zk.election(task_id, r.round)
    settled = (record or {}).get("settlement")
    if not settled:
        return
    r.settlement = {"acks": int(settled["acks"]), "of": int(settled["of"]),
                    "paid": str(settled["paid"]) if settled.get("paid") else None}
    publisher = str(record["published"]["by"]) if record.get("published") else None
    paid = r.settlement["paid"]
    print(f"round {r.round}'s publication settled: {r.settlement['acks']} of {r.settlement['of']} "
          f"contributors acknowledged the publisher {names.get(publisher or '', publisher)}; "
          f"reward paid to {names.get(paid or '', paid or 'nobody')}", flush=True)


async def _global_checks(round: int, workers: list[WorkerProcess], http: aiohttp.ClientSession,
                         timeout: float = 300.0) -> list[dict[str, Any]]:
    """Each worker's check of the global model published in ``round`` (from ``/health``),
    waiting until every running worker has made it: workers fetch and check the model as
    the next round opens, before they train."""
    deadline = time.monotonic() + timeout
    while True:
        checks = []
        for w in workers:
            health = await w.health(http)
            done = next((c for c in health.get("global_checks") or [] if c.get("round") == round), None)
            if done is not None:
                checks.append({"worker": w.keypair.ss58_address, "from": done.get("from"),
                               "refused": list(done.get("refused") or []), "matches": bool(done.get("matches")),
                               "file": done.get("file")})
        alive = [w for w in workers if w.proc is not None and w.proc.poll() is None]
        if len(checks) >= len(alive) or time.monotonic() > deadline:
            return checks
        await asyncio.sleep(1.0)


async def _global_accuracy(file: str, task: Any, whole_test: Any) -> tuple[float, float]:
    """Float and quantized accuracy of a global model file a worker checked against A."""
    from zkpot_models import build_model

    from zkpot.fl import aggregation

    model = build_model(task.manifest.architecture)
    gm = aggregation.GlobalModel.decode(Path(file).read_bytes(), task.manifest.num_params)
    model.load_state_dict(gm.to_state(model.state_dict(), task.manifest.settings.param_scale))
    report = await asyncio.to_thread(quantize.accuracy_report, task, model, whole_test)
    return report.float_accuracy, report.quantized_accuracy


def _read_with_polkadot_js(url: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(paths.node_binary()), "read-chain.mjs", url, "--blocks", "0"],
        cwd=paths.devnet_dir(), capture_output=True, text=True, timeout=180,
    )
    if out.returncode != 0:
        raise RuntimeError(f"polkadot.js could not read the chain: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout)


def _check_against_polkadot_js(report: dict[str, Any]) -> None:
    """The elections polkadot.js decoded must be the ones the demo saw."""
    seen, aggregates = {}, {}
    for entry in report["polkadot_js"]["elections"] or []:
        (_task, rnd) = entry["key"][0]
        seen[int(rnd)] = [str(a) for a in entry["value"]["authors"]]
        aggregates[int(rnd)] = (entry["value"].get("aggregate") or {}).get("commitment")
    for r in report["rounds"]:
        if r["authors"] and seen.get(r["round"]) != r["authors"]:
            raise RuntimeError(f"round {r['round']}: polkadot.js saw authors {seen.get(r['round'])}")
        if r["aggregate"] and aggregates.get(r["round"]) != r["aggregate"]["commitment"]:
            raise RuntimeError(f"round {r['round']}: polkadot.js saw the aggregate "
                               f"{aggregates.get(r['round'])}")
    if sorted(report["polkadot_js"]["validators"]) != sorted(report["final_validators"]):
        raise RuntimeError("polkadot.js and substrate-interface disagree on the validators")


def _plots(report: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {w["address"]: w["name"] for w in report["workers"]}
    rounds = [r["round"] for r in report["rounds"]]

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(rounds, [100 * (r["global_accuracy"] or 0) for r in report["rounds"]], "o-", label="float")
    ax.plot(rounds, [100 * (r["global_quantized_accuracy"] or 0) for r in report["rounds"]], "s--",
            label="quantized")
    ax.set(xlabel="round", ylabel="accuracy on the test split (%)", title="Global model")
    ax.set_xticks(rounds)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "global_accuracy.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for addr, name in names.items():
        scores = []
        for r in report["rounds"]:
            s = next((c["score"] for c in r["contributions"] if c["who"] == addr), None)
            scores.append(float("nan") if s is None else s)
        ax.plot(rounds, scores, "o-", label=name)
    ax.axhline(report["task"]["min_score"], color="gray", ls=":", label="minimum")
    ax.set(xlabel="round", ylabel="proven score (of 32)", title="Scores per worker")
    ax.set_xticks(rounds)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3))
    workers = list(names)
    grid = [[1 if addr in r["authors"] else 0 for r in report["rounds"]] for addr in workers]
    ax.imshow(grid, cmap="Greens", aspect="auto", vmin=0, vmax=1)
    ax.set_yticks(range(len(workers)), [names[a] for a in workers])
    ax.set_xticks(range(len(rounds)), [f"after round {r}" for r in rounds])
    ax.set_title("Block authors elected for the next session")
    fig.tight_layout()
    fig.savefig(out / "authors.png", dpi=120)
    plt.close(fig)


def main(cfg: DemoConfig) -> int:
    """Runs the demo; 0 on success."""
    # ezkl warns about the task's low input scale on every witness; the scale is chosen
    # (docs/prover.md) and the warning is noise in the demo's report.
    logging.getLogger("ezkl").setLevel(logging.ERROR)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(cfg))
        return 0
    return 130
