#!/usr/bin/env python3
"""Measures the prover per model: task build, proving-key setup, witness, proof, both
verifiers, sizes and peak memory. A benchmark, not a test: it records numbers.

    .venv/bin/python scripts/bench_prover.py --architecture digits-mlp digits-cnn \\
        --out docs/bench/prover.json

Each step runs in a child process (as the worker runs them), so the peak resident memory
of the heaviest child is what a machine needs for that step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from zkpot import paths
from zkpot.proof import ezkl_ops, prover, quantize, srs
from zkpot.proof.task import TaskSpec, build_task, fixed_test_set
from zkpot_models import arch_spec, load_dataset, load_weights, train, train_test_split


def _children_peak_mib() -> float:
    # ru_maxrss of RUSAGE_CHILDREN: the largest of the waited-for children, in KiB.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=paths.REPO_ROOT).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "commit": commit, "cuda": torch.cuda.is_available()}


async def bench(arch: str, root: Path) -> dict[str, Any]:
    """Builds a task for ``arch`` and measures every step on a trained model."""
    spec = TaskSpec(name=f"bench-{arch}", architecture=arch, dataset=arch_spec(arch).dataset)
    t0 = time.perf_counter()
    task = await asyncio.to_thread(build_task, spec, root / arch)
    build_s = time.perf_counter() - t0

    pk = task.pk_path()
    t0 = time.perf_counter()
    await prover.ensure_proving_key(task)
    setup_s = time.perf_counter() - t0
    setup_peak = _children_peak_mib()

    ds = load_dataset(spec.dataset)
    tr, _ = train_test_split(ds, spec.test_fraction, spec.split_seed)
    fixed, whole = fixed_test_set(spec)
    model = load_weights(arch, task.dir / task.manifest.initial_weights.path)
    x = tr.x.reshape((len(tr.y), *fixed.x.shape[1:]))
    trained = train(model, x, tr.y, epochs=30, lr=0.01, batch_size=64, seed=0, progress=False)
    weights = root / f"{arch}.pt"
    torch.save(model.state_dict(), weights)
    acc = quantize.accuracy_report(task, model, whole)

    result = await prover.prove_async(task.dir, weights, root / f"{arch}-proof", min_score=None)
    prove_peak = _children_peak_mib()

    proof_path = Path(result.proof_path)
    t0 = time.perf_counter()
    ok = ezkl_ops.verify(proof_path, task.path("settings_file"), task.path("vk"),
                         srs.resolve(task.manifest.srs))
    ezkl_verify_ms = (time.perf_counter() - t0) * 1000
    native = prover.verify_natively(task, proof_path) or f"not built ({paths.rust_binary('zkpot-verify')})"
    return {
        "architecture": arch,
        "logrows": task.manifest.settings.logrows,
        "test_samples_in_circuit": spec.num_samples,
        "task_build_s": round(build_s, 1),
        "key_setup_s": round(setup_s, 1),
        "key_setup_peak_mib": round(setup_peak),
        "proving_key_mib": round(pk.stat().st_size / 2**20),
        "train_s": round(trained.seconds, 1),
        "witness_s": round(result.witness_seconds, 2),
        "prove_s": round(result.prove_seconds, 1),
        # The largest child so far: the setup's and the proof's children together.
        "setup_or_prove_peak_mib": round(prove_peak),
        "proof_bytes": len(result.proof_bytes),
        "vka_bytes": task.path("vka").stat().st_size,
        "score": result.score,
        "float_accuracy": round(acc.float_accuracy, 4),
        "quantized_accuracy": round(acc.quantized_accuracy, 4),
        "ezkl_verify": ok,
        "ezkl_verify_ms": round(ezkl_verify_ms, 1),
        "zkpot_verify": native,
    }


def main() -> int:
    """Runs the benchmark for each architecture and writes the JSON record."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--architecture", nargs="+", default=["digits-mlp"])
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    results: dict[str, Any] = {"machine": _machine(), "models": []}
    with tempfile.TemporaryDirectory(prefix="zkpot-bench-", dir=paths.cache_dir()) as tmp:
        for arch in args.architecture:
            print(f"== {arch}", file=sys.stderr, flush=True)
            try:
                results["models"].append(asyncio.run(bench(arch, Path(tmp))))
            except Exception as e:  # noqa: BLE001 - a failed model is recorded, not fatal
                results["models"].append({"architecture": arch, "error": f"{type(e).__name__}: {e}"})
            print(json.dumps(results["models"][-1], indent=2), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
