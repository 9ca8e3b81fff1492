"""The simulation: one run of a consensus rule under an attack, and the grid of runs.

A run trains ``clients`` local models per round from the rule's global model, on the
clients' shares of the task's training split, lets the Byzantine ones (a seeded choice of
``round(fraction * clients)``, the same for every rule) do what their attack does, and
lets the rule decide the next global model. Everything a run draws comes from its seed,
split and round, never from the rule or attack, so the rules meet the same clients, data
and Byzantine set. The score ZKPoT selects by is the quantized model's, computed by the
fixed-point emulation that a test checks against ezkl's witness; with ``prove_every`` real
proofs are made and verified natively and must carry the same score.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from zkpot_models import (
    Dataset,
    arch_spec,
    build_model,
    evaluate,
    load_dataset,
    load_weights,
    split_dirichlet,
    split_iid,
    train,
    train_test_split,
)

from zkpot import paths
from zkpot.experiments import attacks, privacy, rules
from zkpot.experiments.config import ExperimentConfig
from zkpot.proof import circuit, ezkl_ops, prover, quantize, srs
from zkpot.proof.task import Task, TaskSpec, ensure_task


class ExperimentError(RuntimeError):
    """A run cannot go on (a proven score differs from the simulated one, ...)."""


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid."""

    rule: str
    attack: str
    fraction: float
    split: str
    seed: int


def grid(cfg: ExperimentConfig) -> list[RunSpec]:
    """Every run of ``cfg`` (Byzantine fraction 0 runs once, without an attack)."""
    out = []
    for split in cfg.splits:
        for seed in cfg.seeds:
            for fraction in cfg.byzantine_fractions:
                for attack in (["none"] if fraction == 0 else cfg.attacks):
                    for rule in cfg.rules:
                        out.append(RunSpec(rule, attack, fraction, split, seed))
    return out


def task_spec(architecture: str) -> TaskSpec:
    """The task a run of ``architecture`` uses (the embedded one for digits-mlp)."""
    if architecture == TaskSpec().architecture:
        return TaskSpec()
    return TaskSpec(name=architecture, architecture=architecture, dataset=arch_spec(architecture).dataset)


@dataclass(frozen=True)
class _Data:
    task: Task
    train: Dataset
    whole: circuit.TestSet
    fixed: circuit.TestSet


@lru_cache(maxsize=4)
def _data(architecture: str) -> _Data:
    spec = task_spec(architecture)
    task = ensure_task(spec)
    shape = arch_spec(architecture).input_shape
    tr, te = train_test_split(load_dataset(spec.dataset), spec.test_fraction, spec.split_seed)
    tr = Dataset(tr.name, tr.x.reshape((len(tr), *shape)), tr.y)
    whole = circuit.TestSet(x=te.x.reshape((len(te), *shape)).astype(np.float32), y=te.y,
                            num_classes=arch_spec(architecture).num_classes)
    return _Data(task, tr, whole, task.test_set())


def _partition(cfg: ExperimentConfig, data: _Data, split: str, seed: int) -> list[np.ndarray]:
    if split == "iid":
        return split_iid(len(data.train), cfg.clients, seed)
    return split_dirichlet(data.train.y, cfg.clients, cfg.alpha, seed, min_size=cfg.batch_size // 2 or 1)


def _byzantine(cfg: ExperimentConfig, fraction: float, seed: int) -> set[int]:
    rng = np.random.default_rng([seed, 11])
    return set(rng.permutation(cfg.clients)[: round(fraction * cfg.clients)].tolist())


def _copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


def _accuracies(data: _Data, model: torch.nn.Module) -> tuple[float, float]:
    state = model.state_dict()
    q = circuit.strictly_correct(quantize.emulated_logits(data.task, state, data.whole.x), data.whole.y)
    return float(evaluate(model, data.whole.x, data.whole.y)), float(q.mean())


def _prove_and_check(data: _Data, state: dict[str, torch.Tensor], simulated: int, where: str) -> dict[str, Any]:
    """A real proof of ``state``, verified natively (or by ezkl where the native verifier
    is not built); its score must be the simulated one."""
    with tempfile.TemporaryDirectory(prefix="zkpot-exp-proof-") as tmp:
        weights = Path(tmp) / "w.pt"
        torch.save(state, weights)
        # min_score=None: a model below the minimum is proved too, its score checked all the same.
        result = asyncio.run(prover.prove_async(data.task.dir, weights, Path(tmp) / "proof", min_score=None))
        proof = Path(result.proof_path)
        native = prover.verify_natively(data.task, proof)
        if native is not None:
            verified, verifier = native == "valid", "zkpot-verify"
        else:
            verified = ezkl_ops.verify(proof, data.task.path("settings_file"), data.task.path("vk"),
                                       srs.resolve(data.task.manifest.srs))
            verifier = "ezkl"
    if not verified:
        raise ExperimentError(f"{where}: the proof did not verify ({verifier})")
    if result.score != simulated:
        raise ExperimentError(f"{where}: the proof carries score {result.score}, the simulation said {simulated}")
    return {"simulated": simulated, "proven": result.score, "verifier": verifier,
            "prove_seconds": round(result.prove_seconds, 1)}


def run_one(cfg: ExperimentConfig, spec: RunSpec) -> dict[str, Any]:
    """One run; returns its per-round rows, final accuracies, membership inference and any
    proofs made."""
    start = time.monotonic()
    data = _data(cfg.architecture)
    arch = cfg.architecture
    parts = _partition(cfg, data, spec.split, spec.seed)
    byz = _byzantine(cfg, spec.fraction, spec.seed)
    attack = attacks.get(spec.attack)
    honest = attacks.get("none")
    rule = rules.get(spec.rule)
    template = build_model(arch)
    global_state = _copy(load_weights(arch, data.task.path("initial_weights")).state_dict())
    power = np.random.default_rng([spec.seed, 13]).lognormal(0.0, 1.0, cfg.clients)
    rows, proofs = [], []
    last_local: dict[int, dict[str, torch.Tensor]] = {}
    for r in range(cfg.rounds):
        subs = []
        for c in range(cfg.clients):
            behaviour = attack if c in byz else honest
            arng = np.random.default_rng([spec.seed, r, c, 2])
            local = _copy(global_state)
            if behaviour.trains:
                model = build_model(arch)
                model.load_state_dict(global_state)
                idx = parts[c]
                train(model, data.train.x[idx], behaviour.labels(data.train.y[idx], arng),
                      epochs=cfg.local_epochs, lr=cfg.lr, batch_size=cfg.batch_size,
                      seed=spec.seed * 1_000_003 + r * 1009 + c)
                local = _copy(model.state_dict())
            last_local[c] = local
            subs.append(rules.Submission(c, c in byz, behaviour.submit(global_state, local, arng)
                                         if c in byz else local))
        ctx = rules.Context(data.task, data.fixed, cfg.min_score, cfg.aggregator_candidates,
                            global_state, attack, np.random.default_rng([spec.seed, r, 1]),
                            np.ones(cfg.clients), power)
        outcome = rule.round(ctx, subs, template)
        if spec.rule == "zkpot" and cfg.prove_every and (r + 1) % cfg.prove_every == 0:
            ranked = sorted(outcome.scores, key=lambda c: -outcome.scores[c])[: cfg.prove_clients]
            for c in ranked:
                proofs.append({"round": r + 1, "client": c, **_prove_and_check(
                    data, subs[c].state, outcome.scores[c], f"{spec} round {r + 1} client {c}")})
        global_state = _copy(outcome.global_state)
        template.load_state_dict(global_state)
        float_acc, quant_acc = _accuracies(data, template)
        rows.append({"round": r + 1, "float_accuracy": float_acc, "quantized_accuracy": quant_acc,
                     "included": len(outcome.included),
                     "byzantine_included": sum(1 for c in outcome.included if c in byz),
                     "leader_byzantine": outcome.leader_byzantine, "poisoned": outcome.poisoned})
    mia = _membership(cfg, data, parts, byz, global_state, last_local, spec.seed, template)
    return {**asdict(spec), "rows": rows, "final_float_accuracy": rows[-1]["float_accuracy"],
            "final_quantized_accuracy": rows[-1]["quantized_accuracy"], "mia": mia,
            "exposes_individual": rule.exposes_individual, "proofs": proofs,
            "seconds": round(time.monotonic() - start, 2)}


def _membership(cfg: ExperimentConfig, data: _Data, parts: list[np.ndarray], byz: set[int],
                global_state: dict[str, torch.Tensor], last_local: dict[int, dict[str, torch.Tensor]],
                seed: int, template: torch.nn.Module) -> dict[str, dict[str, float]]:
    """The loss-threshold attack on the first honest client's training data, against the
    final global model and against that client's own last model."""
    target = min(c for c in range(cfg.clients) if c not in byz)
    rng = np.random.default_rng([seed, 17])
    members = rng.permutation(parts[target])[: cfg.mia_samples]
    outside = rng.permutation(len(data.whole.y))[: len(members)]
    m = (data.train.x[members], data.train.y[members])
    n = (data.whole.x[outside], data.whole.y[outside])
    out = {}
    for exposure, state in (("global", global_state), ("individual", last_local[target])):
        template.load_state_dict(state)
        res = privacy.loss_threshold(template, m, n)
        out[exposure] = {"auc": res.auc, "advantage": res.advantage}
    return out


def _init_worker(plugins: list[str]) -> None:
    torch.set_num_threads(1)
    load_plugins(plugins)


def load_plugins(plugins: list[str]) -> None:
    """Imports the configured plugin modules (they register attacks and rules)."""
    for name in plugins:
        importlib.import_module(name)


def run_grid(cfg: ExperimentConfig, progress: bool = True) -> Iterator[dict[str, Any]]:
    """Runs every run of ``cfg`` in ``cfg.workers`` processes, yielding results as they
    finish."""
    load_plugins(cfg.plugins)
    specs = grid(cfg)
    for s in specs:
        attacks.get(s.attack)
        rules.get(s.rule)
    _data(cfg.architecture)  # builds the task once, before the workers need it
    workers = cfg.workers or os.cpu_count() or 1
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(specs), desc="runs", unit="run")
    try:
        if workers == 1:
            torch.set_num_threads(1)
            for s in specs:
                yield run_one(cfg, s)
                if bar is not None:
                    bar.update(1)
            return
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(cfg.plugins,)) as pool:
            futures = [pool.submit(run_one, cfg, s) for s in specs]
            for f in as_completed(futures):
                yield f.result()
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def run(cfg: ExperimentConfig, out: Path, command: str, progress: bool = True) -> str:
    """Runs the grid, writes the results to ``out`` and returns the markdown summary."""
    from zkpot.experiments import report

    start = time.monotonic()
    results = list(run_grid(cfg, progress=progress))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=paths.REPO_ROOT).stdout.strip()
    meta = {"seconds": time.monotonic() - start, "commit": commit or "?", "command": command,
            "cpus": os.cpu_count()}
    return report.write(cfg, results, out, meta)
