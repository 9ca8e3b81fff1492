#!/usr/bin/env python3
"""Compares ZKPoT statements side by side, in one run: the model committed by a Poseidon
hash (``hashed``, the statement tasks had before) or by the KZG commitment of its parameter
column (``polycommit``, tasks now), at 8, 16 and 32 fixed test samples; and how well each
sample count ranks models (ranking power). A benchmark, not a test: it records numbers.

    .venv/bin/python scripts/bench_statement.py --out docs/bench/statement.json

Proving cost, per (statement, samples): the smallest logrows the circuit fits (Poseidon
alone needs 2^16), key setup and proving time (each in a ``python -m zkpot.proof.prove_step``
child, as the worker runs them, without PyTorch in the process), proving and verifying key
sizes, proof size, and ezkl's verdict. Every configuration proves the same trained model.

Ranking power, per sample count: models trained on different shares and for different
lengths (as workers in a round differ) are scored exactly as the circuit scores them
(ezkl's quantized logits, ties wrong) on the first N fixed samples; recorded are how many
model pairs the score tells apart, how often the best score is shared (an election then
falls to the tie-break), and the rank correlation with accuracy on the whole test split.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from zkpot import paths
from zkpot.proof import circuit, ezkl_ops, quantize, srs
from zkpot.proof.ezkl_ops import RunArgs
from zkpot.proof.task import TaskSpec, ensure_default_task, fixed_test_set
from zkpot_models import build_model, load_dataset, split_iid, train, train_test_split

SAMPLES = (8, 16, 32)
STATEMENTS = ("hashed", "polycommit")


def _machine() -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_prover import _machine as machine

    return machine()


def _step(*args: str) -> float:
    """Runs one prove_step child; returns its wall time."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "zkpot.proof.prove_step", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"prove_step {args[0]}: {r.stderr.strip()[-300:]}")
    return time.perf_counter() - t0


def prove_cost(model: torch.nn.Module, n: int, statement: str, work: Path) -> dict[str, Any]:
    """Builds the circuit for ``n`` samples and ``statement``, sets it up and proves."""
    work.mkdir(parents=True)
    fixed, _ = fixed_test_set(TaskSpec(num_samples=n))
    onnx, settings, compiled = work / "net.onnx", work / "settings.json", work / "net.ezkl"
    data, wit = work / "input.json", work / "witness.json"
    circuit.export_onnx(model, fixed, onnx)
    data.write_text(json.dumps(circuit.witness_input(fixed)))
    probe = ezkl_ops.gen_settings(onnx, settings, RunArgs(param_visibility=statement))
    rows = int(probe["num_rows"])
    # The smallest domain that holds the rows (and, hashed, Poseidon's 49,612): try it,
    # and one more if ezkl cannot lay the circuit out in it.
    logrows = max(math.ceil(math.log2(rows + 64)), 16 if statement == "hashed" else 12)
    last_error = ""
    for lr in (logrows, logrows + 1):
        try:
            ezkl_ops.gen_settings(onnx, settings, RunArgs(param_visibility=statement, logrows=lr))
            ezkl_ops.compile_circuit(onnx, compiled, settings)
            srs_file, _ = srs.dev_srs(lr)
            ezkl_ops.gen_witness(data, compiled, wit)
            setup_s = _step("setup", str(compiled), str(wit), str(srs_file), str(work / "vk.key"),
                            str(work / "pk.key"))
            if statement == "polycommit":
                ezkl_ops.gen_witness(data, compiled, wit, vk=work / "vk.key", srs=srs_file)
            prove_s = _step("prove", str(compiled), str(wit), str(srs_file), str(work / "pk.key"),
                            str(work / "proof.json"))
        except (RuntimeError, ezkl_ops.EzklError) as e:
            last_error = str(e)
            continue
        ok = ezkl_ops.verify(work / "proof.json", settings, work / "vk.key", srs_file)
        return {
            "statement": statement, "samples": n, "rows": rows, "logrows": lr,
            "setup_s": round(setup_s, 1), "prove_s": round(prove_s, 1),
            "proving_key_mib": round((work / "pk.key").stat().st_size / 2**20),
            "verifying_key_bytes": (work / "vk.key").stat().st_size,
            "proof_bytes": len(ezkl_ops.proof_file_bytes(work / "proof.json")),
            "instances": len(json.loads((work / "proof.json").read_text())["instances"][0]),
            "ezkl_verify": ok,
        }
    return {"statement": statement, "samples": n, "rows": rows, "error": last_error[:300]}


def _kendall_tau(a: list[float], b: list[float]) -> float:
    concordant = discordant = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        s = (a[i] - a[j]) * (b[i] - b[j])
        concordant += s > 0
        discordant += s < 0
    pairs = len(a) * (len(a) - 1) / 2
    return (concordant - discordant) / pairs


def ranking_power(models: list[torch.nn.Module]) -> list[dict[str, Any]]:
    """How well the first N fixed samples rank ``models``."""
    task = ensure_default_task()
    fixed, whole = fixed_test_set(TaskSpec())
    correct = [circuit.strictly_correct(quantize.quantized_logits(task, m, fixed.x), fixed.y) for m in models]
    accuracy = [float(circuit.strictly_correct(quantize.quantized_logits(task, m, whole.x), whole.y).mean())
                for m in models]
    out = []
    for n in SAMPLES:
        scores = [int(c[:n].sum()) for c in correct]
        pairs = list(itertools.combinations(range(len(models)), 2))
        out.append({
            "samples": n,
            "scores": scores,
            "pairs_told_apart": round(sum(scores[i] != scores[j] for i, j in pairs) / len(pairs), 3),
            "best_score_shared_by": scores.count(max(scores)),
            "kendall_tau_with_test_accuracy": round(_kendall_tau(scores, accuracy), 3),
        })
    return [{"whole_test_split_accuracy": [round(a, 4) for a in accuracy]}, *out]


def trained_models() -> list[torch.nn.Module]:
    """Models as a round's workers make them: 4 IID shares, 3 training lengths."""
    ds = load_dataset("digits")
    tr, _ = train_test_split(ds, 0.2, 0)
    shares = split_iid(len(tr.y), 4, 7)
    models = []
    for share, epochs in itertools.product(range(4), (2, 5, 20)):
        part = tr.subset(shares[share])
        torch.manual_seed(share)
        m = build_model("digits-mlp")
        train(m, part.x, part.y, epochs=epochs, lr=0.01, batch_size=64, seed=share, progress=False)
        models.append(m.eval())
    return models


def main() -> int:
    """Runs both measurements and writes the JSON record."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    models = trained_models()
    record: dict[str, Any] = {"machine": _machine(), "proving": [], "ranking": ranking_power(models)}
    print(json.dumps(record["ranking"], indent=1), flush=True)
    best = models[-1]  # share 3, 20 epochs
    with tempfile.TemporaryDirectory(prefix="zkpot-bench-stmt-", dir=paths.cache_dir()) as tmp:
        for n in SAMPLES:
            for statement in STATEMENTS:
                r = prove_cost(best, n, statement, Path(tmp) / f"{statement}-{n}")
                record["proving"].append(r)
                print(json.dumps(r), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2, default=lambda o: o.tolist()
                                       if isinstance(o, np.ndarray) else str(o)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
