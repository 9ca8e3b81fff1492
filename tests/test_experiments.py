"""``zkpot experiment``: the fixed-point emulation against ezkl's witness, every rule and
attack on a tiny grid (with what each mechanism stops and does not), the membership
attack's statistics, plugins, and the ``prove_every`` cross-check with real proofs."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from zkpot.experiments import attacks, config, engine, privacy, rules
from zkpot.proof import quantize
from zkpot.proof.task import ensure_task
from zkpot_models import build_model, train


@pytest.mark.parametrize("architecture", ["digits-mlp", "mnist7-mlp"])
def test_emulated_logits_equal_ezkls_witness(architecture: str) -> None:
    data = engine._data(architecture)
    x = data.whole.x[:200]
    for seed in range(3):
        torch.manual_seed(seed)
        model = build_model(architecture)
        if seed:
            train(model, data.train.x[:400], data.train.y[:400], epochs=seed, lr=0.01, batch_size=64, seed=seed)
        want = quantize.quantized_logits(data.task, model, x)
        got = quantize.emulated_logits(data.task, model.state_dict(), x)
        assert np.array_equal(got, want), (architecture, seed, int((got != want).sum()))


def test_emulation_refuses_what_it_does_not_reproduce() -> None:
    task = ensure_task(engine.task_spec("digits-mlp"))
    state = build_model("digits-mlp").state_dict()
    with pytest.raises(ValueError, match="MLPs"):
        quantize.emulated_logits(task, {**state, "l3.weight": state["l1.weight"]}, np.zeros((1, 64)))
    with pytest.raises(ValueError, match="integers"):
        quantize.emulated_logits(task, state, np.full((1, 64), 0.5))


TINY = {"clients": 4, "rounds": 2, "seeds": [0], "splits": ["iid", "dirichlet"],
        "byzantine_fractions": [0.0, 0.5], "mia_samples": 20, "workers": 1}


@pytest.fixture(scope="module")
def tiny() -> dict[tuple, dict]:
    cfg = config.load(overrides=TINY)
    results = list(engine.run_grid(cfg, progress=False))
    return {(r["rule"], r["attack"], r["fraction"], r["split"]): r for r in results}


def test_every_rule_meets_every_attack_on_the_same_grid(tiny: dict) -> None:
    cfg = config.load(overrides=TINY)
    assert len(tiny) == len(engine.grid(cfg)) == 2 * 5 * (1 + len(cfg.attacks))
    for (rule, _, _, _), r in tiny.items():
        assert len(r["rows"]) == 2
        for row in r["rows"]:
            assert 0 <= row["quantized_accuracy"] <= 1 and 0 <= row["float_accuracy"] <= 1
        for exposure in ("global", "individual"):
            assert 0 <= r["mia"][exposure]["auc"] <= 1
        assert r["exposes_individual"] == (rule != "zkpot")


def test_what_each_mechanism_stops_and_what_it_does_not(tiny: dict) -> None:
    for split in ("iid", "dirichlet"):
        def run(rule: str, attack: str, split: str = split) -> dict:
            return tiny[(rule, attack, 0.5, split)]

        # A model trained on flipped labels, or random weights, scores below the minimum:
        # ZKPoT never counts it; FedAvg counts everyone.
        for attack in ("label-flip", "random-weights"):
            assert all(row["byzantine_included"] == 0 for row in run("zkpot", attack)["rows"])
            assert all(row["byzantine_included"] == 2 for row in run("fedavg", attack)["rows"])
        # A Byzantine aggregator: ZKPoT's global model is fixed by the chain's commitment,
        # PoS and PoW take the leader's word.
        assert not any(row["poisoned"] for row in run("zkpot", "byzantine-leader")["rows"])
        for rule in ("pos", "pow"):
            rows = run(rule, "byzantine-leader")["rows"]
            assert all(row["poisoned"] == row["leader_byzantine"] for row in rows)
    # A free rider that resubmits the global model it was given is counted by ZKPoT once
    # that model reaches the minimum score: the proof is of performance, not of work.
    assert tiny[("zkpot", "free-rider", 0.5, "iid")]["rows"][-1]["byzantine_included"] == 2


def test_grids_are_reproducible() -> None:
    cfg = config.load(overrides={**TINY, "splits": ["iid"]})
    spec = engine.RunSpec("zkpot", "scaled", 0.5, "iid", 0)
    a, b = engine.run_one(cfg, spec), engine.run_one(cfg, spec)
    assert a["rows"] == b["rows"] and a["mia"] == b["mia"]


def test_report_files(tiny: dict, tmp_path: Path) -> None:
    from zkpot.experiments import report

    cfg = config.load(overrides=TINY)
    summary = report.write(cfg, list(tiny.values()), tmp_path, {"seconds": 1, "commit": "x", "command": "c"})
    for name in ("runs.json", "rounds.csv", "runs.csv", "summary.md", "final-accuracy-iid.png",
                 "accuracy-per-round-dirichlet.png", "membership-inference.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "| 50 % | label-flip |" in summary and "Membership inference" in summary
    assert len((tmp_path / "rounds.csv").read_text().splitlines()) == 1 + 2 * len(tiny)


def test_auc_and_advantage_match_their_definitions() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0.3, 1, 300).round(1), rng.normal(0, 1, 200).round(1)
    labels = np.r_[np.ones(300), np.zeros(200)]
    assert privacy.auc(pos, neg) == pytest.approx(roc_auc_score(labels, np.r_[pos, neg]))
    assert privacy.advantage(np.array([1.0, 2.0]), np.array([0.0, 0.5])) == 1.0
    assert privacy.advantage(np.array([1.0]), np.array([1.0])) == 0.0


def test_unknown_names_and_bad_configs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="known: "):
        rules.get("proof-of-vibes")
    with pytest.raises(ValueError, match="known: "):
        attacks.get("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text('splits = ["round-robin"]\nclients = 1\n')
    with pytest.raises(config.ConfigError) as e:
        config.load(bad)
    assert "splits" in str(e.value) and "clients" in str(e.value)


class _Mimic(attacks.Attack):
    """A plugin attack: resubmits the honest model, halved."""

    name: ClassVar[str] = "test-halved"

    def submit(self, global_state: attacks.State, local: attacks.State, rng: np.random.Generator) -> attacks.State:
        return {k: v / 2 for k, v in local.items()}


def test_an_attack_registered_outside_the_engine_runs() -> None:
    attacks.register(_Mimic)
    try:
        cfg = config.load(overrides={**TINY, "splits": ["iid"], "attacks": ["test-halved"]})
        r = engine.run_one(cfg, engine.RunSpec("fedavg", "test-halved", 0.5, "iid", 0))
        assert len(r["rows"]) == 2
        with pytest.raises(ValueError, match="taken"):
            attacks.register(_Mimic)
    finally:
        attacks.ATTACKS.classes.pop("test-halved")


def test_prove_every_makes_real_proofs_that_must_carry_the_simulated_score() -> None:
    cfg = config.load(overrides={**TINY, "splits": ["iid"], "rounds": 1, "clients": 3,
                                 "prove_every": 1, "prove_clients": 1})
    r = engine.run_one(cfg, engine.RunSpec("zkpot", "none", 0.0, "iid", 0))
    (proof,) = r["proofs"]
    assert proof["proven"] == proof["simulated"] and proof["round"] == 1
    # The same model with a simulated score one off: the run stops.
    data = engine._data("digits-mlp")
    model = build_model("digits-mlp")
    score = quantize.emulated_score(data.task, model.state_dict(), data.fixed)
    with pytest.raises(engine.ExperimentError, match="carries score"):
        engine._prove_and_check(data, model.state_dict(), score + 1, "test")
