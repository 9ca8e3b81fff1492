"""Proof of training with the real ezkl pipeline on the embedded digits task."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import ezkl
import numpy as np
import pytest
import torch
from zkpot.fl import aggregation
from zkpot.proof import circuit, commitment, prover, quantize, srs
from zkpot.proof.task import (
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


def test_zkpot_commitment_prints_the_proofs_first_point(task, honest_weights, honest_proof):
    out = subprocess.run(
        [sys.executable, "-m", "zkpot.cli", "commitment", "--task", str(task.dir),
         "--weights", str(honest_weights)],
        capture_output=True, text=True, check=True,
    )
    printed = out.stdout.strip()
    # The chain reads the commitment from the proof bytes, at the layout's offset.
    offset = task.manifest.instances.commitment_offset
    assert printed == "0x" + honest_proof.proof_bytes[offset:offset + 64].hex()
    assert printed == honest_proof.commitment_hex
    # Other weights, other commitment.
    other = build_model("digits-mlp")
    other.load_state_dict(torch.load(honest_weights, weights_only=True))
    with torch.no_grad():
        other.l2.bias[0] += 0.5
    assert commitment.to_hex(commitment.model_commitment(task, other.state_dict())) != printed


def test_commitments_add_up_on_real_models(task, honest_weights):
    """C(a) + C(b) = C(a + b) + C(0), and the weighted aggregate the chain computes is the
    commitment of the weighted sum of the quantized parameters."""
    scale = task.manifest.settings.param_scale
    a = commitment.quantize_state(torch.load(honest_weights, weights_only=True), scale)
    b = commitment.quantize_state(_trained(seed=3).state_dict(), scale)
    c_a, c_b = commitment.commit_values(task, a), commitment.commit_values(task, b)
    c_ab = commitment.commit_values(task, [x + y for x, y in zip(a, b, strict=True)])
    c_0 = commitment.commit_values(task, [0] * len(a))
    assert c_0 == commitment.from_hex(task.manifest.zero_commitment)
    lhs = commitment.add(commitment.decode(c_a), commitment.decode(c_b))
    rhs = commitment.add(commitment.decode(c_ab), commitment.decode(c_0))
    assert lhs == rhs
    assert c_ab != commitment.encode(lhs)  # affine, not linear: C(0) is not the identity
    s = aggregation.weighted_sum([a, b], [3, 5])
    assert commitment.commit_values(task, s.values) == commitment.aggregate([c_a, c_b], [3, 5], c_0)


def test_global_model_is_the_weighted_average_of_the_quantized_models(task, honest_weights):
    scale = task.manifest.settings.param_scale
    state = torch.load(honest_weights, weights_only=True)
    a = commitment.quantize_state(state, scale)
    gm = aggregation.weighted_sum([a, [-x for x in a]], [3, 1])
    template = build_model("digits-mlp").state_dict()
    avg = gm.to_state(template, scale)
    for k, v in avg.items():
        q = torch.tensor(commitment.quantize_state({k: state[k]}, scale), dtype=torch.float64)
        assert torch.allclose(v.to(torch.float64).reshape(-1), q * 2 / (4 * 2**scale), atol=1e-6)
    decoded = aggregation.GlobalModel.decode(gm.encode(), task.manifest.num_params)
    assert decoded == gm


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


def test_task_check_refuses_a_zero_commitment_that_is_not_the_circuits(task, tmp_path):
    from zkpot.proof.task import MANIFEST, audit_commitments

    audit_commitments(task)
    forged = tmp_path / "task"
    shutil.copytree(task.dir, forged)
    manifest = json.loads((forged / MANIFEST).read_text())
    manifest["zero_commitment"] = manifest["initial_commitment"]
    (forged / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(TaskError, match="zero_commitment does not match"):
        audit_commitments(load_task(forged))
    out = subprocess.run([sys.executable, "-m", "zkpot.cli", "task", "check", str(forged)],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "zero_commitment does not match" in out.stderr


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x01" * 63, "64 bytes"),
        (bytes(64), "identity"),
        ((1).to_bytes(32, "big") + (5).to_bytes(32, "big"), "not on the curve"),
        (b"\xff" * 64, "modulus"),
    ],
)
def test_malformed_commitments_are_refused(raw, message):
    with pytest.raises(commitment.CommitmentError, match=message):
        commitment.decode(raw)
    # G = (1, 2) is on the curve.
    assert commitment.decode((1).to_bytes(32, "big") + (2).to_bytes(32, "big")) == (1, 2)
