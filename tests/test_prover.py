"""Proof of training with the real ezkl pipeline on the embedded digits task."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import ezkl
import numpy as np
import pytest
import torch
from zkpot import circuit, prover, quantize, srs
from zkpot.task import (
    TaskError,
    TaskSpec,
    build_task,
    ensure_default_task,
    fixed_test_set,
    load_task,
)
from zkpot_models import build_model, load_digits, train, train_test_split

pytestmark = pytest.mark.prover


@pytest.fixture(scope="session")
def task():
    return ensure_default_task()


def _trained(labels_shift: int = 0, seed: int = 0) -> torch.nn.Module:
    _, whole = fixed_test_set(TaskSpec())
    ds = load_digits()
    tr, _ = train_test_split(ds, 0.2, 0)
    torch.manual_seed(seed)
    model = build_model("digits-mlp")
    train(model, tr.x, (tr.y + labels_shift) % 10, epochs=30, lr=0.01, batch_size=64, seed=seed)
    return model


@pytest.fixture(scope="session")
def honest_weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "honest.pt"
    torch.save(_trained().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def honest_proof(task, honest_weights, tmp_path_factory) -> prover.ProofResult:
    return prover.prove_weights(task.dir, honest_weights, tmp_path_factory.mktemp("proof"))


def test_proof_is_accepted_by_ezkl(task, honest_proof):
    assert ezkl.verify(
        honest_proof.proof_path,
        str(task.path("settings_file")),
        str(task.path("vk")),
        srs_path=str(srs.resolve(task.manifest.srs)),
    )
    assert len(honest_proof.instances) == task.manifest.instances.num_instances
    assert honest_proof.score >= task.manifest.min_score


def test_score_in_proof_equals_quantized_model_score(task, honest_weights, honest_proof):
    model = build_model("digits-mlp")
    model.load_state_dict(torch.load(honest_weights, weights_only=True))
    assert quantize.quantized_score(task, model, task.test_set()) == honest_proof.score


def test_commitment_is_the_poseidon_hash_of_the_parameters(task, honest_weights, honest_proof):
    commitment, score = asyncio.run(prover.model_commitment(task, honest_weights))
    assert commitment == honest_proof.commitment and score == honest_proof.score
    # Other weights, other commitment.
    other = build_model("digits-mlp")
    other.load_state_dict(torch.load(honest_weights, weights_only=True))
    with torch.no_grad():
        other.l2.bias[0] += 0.5
    path = Path(honest_proof.proof_path).parent / "other.pt"
    torch.save(other.state_dict(), path)
    assert asyncio.run(prover.model_commitment(task, path))[0] != commitment


def test_quantization_keeps_accuracy_on_the_whole_test_split(task, honest_weights):
    model = build_model("digits-mlp")
    model.load_state_dict(torch.load(honest_weights, weights_only=True))
    _, whole = fixed_test_set(TaskSpec())
    report = quantize.accuracy_report(task, model, whole)
    assert report.samples == len(whole.y) > 300
    assert report.float_accuracy > 0.9
    assert report.gap_points <= 0.5, report


def _score(task, model: torch.nn.Module, tmp: Path) -> int:
    weights = tmp / "w.pt"
    torch.save(model.state_dict(), weights)
    return asyncio.run(prover.witness_async(task, weights, tmp / "work")).score


def test_degenerate_models_score_zero(task, tmp_path):
    zero = build_model("digits-mlp")
    with torch.no_grad():
        for p in zero.parameters():
            p.zero_()
    assert _score(task, zero, tmp_path) == 0
    # All logits equal but not zero: every sample is a tie, and ties are wrong.
    equal = build_model("digits-mlp")
    with torch.no_grad():
        for p in equal.parameters():
            p.zero_()
        equal.l2.bias.fill_(1.25)
    assert _score(task, equal, tmp_path) == 0
    logits = np.full((4, 10), 3.0)
    assert not circuit.strictly_correct(logits, np.array([0, 1, 2, 3])).any()


def test_flipped_labels_score_below_threshold_and_are_refused_before_proving(task, tmp_path):
    flipped = _trained(labels_shift=1)
    assert _score(task, flipped, tmp_path) < task.manifest.min_score
    weights = tmp_path / "flipped.pt"
    torch.save(flipped.state_dict(), weights)
    start = time.monotonic()
    with pytest.raises(prover.BelowThreshold, match="below the task's minimum"):
        prover.prove_weights(task.dir, weights, tmp_path / "out")
    assert time.monotonic() - start < 20  # refused before the proving step
    assert not (tmp_path / "out" / "proof.json").exists()


def test_wrong_weights_and_missing_files_give_clear_errors(task, tmp_path):
    cnn = tmp_path / "cnn.pt"
    torch.save(build_model("digits-cnn").state_dict(), cnn)
    with pytest.raises(prover.ProverError, match="do not fit digits-mlp"):
        prover.prove_weights(task.dir, cnn, tmp_path / "out")
    with pytest.raises(prover.ProverError, match="not found"):
        prover.prove_weights(task.dir, tmp_path / "nope.pt", tmp_path / "out")
    broken = tmp_path / "task"
    shutil.copytree(task.dir, broken)
    (broken / "vk.key").unlink()
    with pytest.raises(TaskError, match="missing artifact vk"):
        load_task(broken)
    (broken / "vk.key").write_bytes(b"tampered")
    with pytest.raises(TaskError, match="does not match its hash"):
        load_task(broken)


def test_prove_async_leaves_the_event_loop_free(task, honest_weights, tmp_path):
    async def run() -> float:
        gaps, last = [], time.monotonic()

        async def tick() -> None:
            nonlocal last
            while True:
                await asyncio.sleep(0.05)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await prover.prove_async(task.dir, honest_weights, tmp_path)
        ticker.cancel()
        return max(gaps)

    assert asyncio.run(run()) < 0.5


def test_building_a_task_twice_gives_the_same_vka(tmp_path):
    spec = TaskSpec(name="digits-mlp-repro")
    a = build_task(spec, tmp_path / "a")
    b = build_task(spec, tmp_path / "b")
    assert a.path("vka").read_bytes() == b.path("vka").read_bytes()
    # The compiled circuit file is left out: ezkl serialises hash maps in it in no fixed
    # order. What it describes, the verifying key and its VKA, is identical.
    for role in ("onnx", "settings_file", "vk", "vka", "test_data", "witness_input"):
        assert a.manifest.artifacts()[role].sha256 == b.manifest.artifacts()[role].sha256, role
    assert a.manifest.initial_commitment == b.manifest.initial_commitment
    assert a.manifest.srs.insecure and a.manifest.srs.kind.value == "dev-insecure"


def test_exported_json_schema_is_current():
    from zkpot_schemas.export import SCHEMAS

    for name, model in SCHEMAS.items():
        path = Path(__file__).resolve().parents[1] / "schemas" / "json" / f"{name}.schema.json"
        committed = json.loads(path.read_text())
        assert committed == json.loads(json.dumps(model.model_json_schema(), sort_keys=True)), (
            f"{path} is stale: run python -m zkpot_schemas"
        )
