"""One ZKPoT round on the real dev chain, driven by a small substrate-interface script.

Three workers register, set session keys, commit and reveal real ezkl proofs (the pallet's
fixture proofs, made by ``runtime-pallet/pallet-zkpot/fixtures/generate.py``); a fourth
reveals a proof whose score it raised by one. The runtime verifies the proofs natively in
wasm, elects the leader and the block authors, computes the global model's commitment from
the contributions' commitments (checked against the commitment ezkl computes for the
summed parameters), takes the leader's publication, and two session rotations later
``Session.Validators`` are the elected workers instead of the genesis authority."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from substrateinterface import Keypair
from zkpot import paths
from zkpot.chain.client import ChainClient
from zkpot.chain.protocol import commit_digest
from zkpot.worker.keys import session_keys_proof

from tests.conftest import ZKPOT, DevnetProcess, free_port, require_built_chain

FIXTURES = paths.REPO_ROOT / "runtime-pallet" / "pallet-zkpot" / "fixtures" / "digits"
UNIT = 10**12


def _proof(name: str) -> tuple[bytes, list[bytes]]:
    proof = (FIXTURES / f"{name}.proof").read_bytes()
    raw = (FIXTURES / f"{name}.instances").read_bytes()
    return proof, [raw[i : i + 32] for i in range(0, len(raw), 32)]


@pytest.fixture()
def chain(tmp_path: Path) -> Any:
    require_built_chain()
    devnet = DevnetProcess(free_port(), log=tmp_path / "devnet.log")
    client = ChainClient(devnet.url)
    try:
        yield client
    finally:
        client.close()
        devnet.stop()


def _new_blocks(c: ChainClient, count: int) -> None:
    c._call(lambda s: s.rpc_request("dev_newBlock", [{"count": count}]))


def _until(c: ChainClient, number: int) -> None:
    best = c.best_number()
    if number > best:
        _new_blocks(c, number - best)


def _off_rotation(c: ChainClient) -> None:
    """Chopsticks builds one block per transaction; pallet-session declares a rotation
    block full, so a transaction would wait there. Step over those blocks."""
    if (c.best_number() + 1) % 10 == 0:
        _new_blocks(c, 1)


def _submit(c: ChainClient, kp: Keypair, pallet: str, call: str, params: dict[str, Any],
            **kw: Any) -> Any:
    _off_rotation(c)
    return c.submit(kp, pallet, call, params, **kw)


def _round(c: ChainClient, task: int) -> dict[str, Any]:
    return c.query("Zkpot", "Rounds", [task])


def test_register_commit_reveal_elect_and_the_authors_change(chain: ChainClient) -> None:
    c = chain
    meta = json.loads((FIXTURES / "meta.json").read_text())
    alice = Keypair.create_from_uri("//Alice")
    genesis_authors = c.query("Session", "Validators")
    assert genesis_authors == [alice.ss58_address]

    workers = {name: Keypair.create_from_uri(f"//zkpot-chain-round-{name}")
               for name in ("w0", "w1", "w2", "cheat")}
    for kp in workers.values():
        _submit(c, alice, "Balances", "transfer_keep_alive",
                {"dest": kp.ss58_address, "value": 1000 * UNIT})
    for kp in workers.values():
        _submit(c, kp, "Zkpot", "register_worker", {})
        keys, pop = session_keys_proof(kp)
        _submit(c, kp, "Session", "set_keys", {"keys": keys, "proof": pop})

    receipt = _submit(c, alice, "Zkpot", "register_task", {
        "vka": "0x" + (FIXTURES / "vka.bin").read_bytes().hex(),
        "artifacts": {"onnx": "0x" + "11" * 32, "settings": "0x" + "22" * 32,
                      "test_set": "0x" + "33" * 32},
        "layout": meta["layout"],
        "min_score": 20,
        "initial_model": {"commitment": meta["proofs"]["weak"]["commitment"],
                          "uri": "0x" + b"https://example.org/initial.pt".hex()},
        "zero_commitment": meta["zero_commitment"],
        "aggregation": {"top": 64, "weighting": "Equal", "min_included_percent": 100},
        "timing": {"commit_blocks": 12, "reveal_blocks": 12, "aggregation_blocks": 6},
    }, sudo=True)
    [registered] = receipt.events_of("Zkpot", "TaskRegistered")
    task = int(registered["task"])

    rnd = _round(c, task)
    if rnd is None or rnd["phase"] != "Commit":
        _new_blocks(c, 1)
        rnd = _round(c, task)
    assert rnd["phase"] == "Commit", rnd
    index = int(rnd["index"])

    proofs = {"w0": _proof("w0"), "w1": _proof("w1"), "w2": _proof("w2")}
    honest_proof, honest_instances = _proof("w3")
    score_index = meta["layout"]["score_index"]
    raised = bytearray(honest_instances[score_index])
    raised[-1] += 1  # one more sample claimed than proven: the proof no longer matches
    forged = list(honest_instances)
    forged[score_index] = bytes(raised)
    proofs["cheat"] = (honest_proof, forged)

    for name, kp in workers.items():
        proof, instances = proofs[name]
        digest = commit_digest(kp.public_key, task, index, proof, instances)
        _submit(c, kp, "Zkpot", "commit",
                {"task": task, "round": index, "digest": "0x" + digest.hex(), "ack": None})

    _until(c, int(rnd["commit_end"]))
    assert _round(c, task)["phase"] == "Reveal"
    rejected = None
    for name, kp in workers.items():
        proof, instances = proofs[name]
        r = _submit(c, kp, "Zkpot", "reveal", {
            "task": task, "round": index, "proof": "0x" + proof.hex(),
            "instances": [["0x" + i.hex() for i in instances]],
            # The task's own verification weight: the reveal is charged for it.
            "verify_weight_bound": c.query("Zkpot", "Tasks", [task])["verify_weight"],
        })
        if name == "cheat":
            [rejected] = r.events_of("Zkpot", "ProofRejected")
        else:
            [accepted] = r.events_of("Zkpot", "ProofAccepted")
            assert int(accepted["score"]) == meta["proofs"][name]["score"]
            assert accepted["commitment"] == meta["proofs"][name]["commitment"]
    # The runtime's verifier (wasm) says what it found: the raised score breaks the pairing.
    assert rejected is not None and rejected["reason"] == {"InvalidProof": "PairingFailed"}, rejected

    _until(c, int(rnd["reveal_end"]))
    election = c.query("Zkpot", "Elections", [(task, index)])
    ranking = [(str(who), int(score)) for who, score in election["ranking"]]
    honest = ("w0", "w1", "w2")
    assert sorted(s for _, s in ranking) == sorted(meta["proofs"][n]["score"] for n in honest)
    assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)
    elected = sorted(str(a) for a in election["authors"])
    assert elected == sorted(workers[n].ss58_address for n in honest)
    assert workers["cheat"].ss58_address not in elected

    # The chain computed the global model's commitment from the three commitments alone;
    # ezkl computed the same point from the sum of the three models' parameters.
    [expected] = [a for a in meta["aggregates"] if a["members"] == list(honest)]
    aggregate = election["aggregate"]
    assert aggregate["commitment"] == expected["commitment"]
    assert sorted((str(w), int(x)) for w, x in aggregate["included"]) == sorted(
        (workers[n].ss58_address, 1) for n in honest)
    assert int(aggregate["total_weight"]) == 3

    # The leader names where the sum is served; the commitment is the chain's, not its word.
    leader = next(kp for kp in workers.values() if kp.ss58_address == ranking[0][0])
    _submit(c, leader, "Zkpot", "publish_model", {
        "task": task, "round": index, "uri": "0x" + b"http://127.0.0.1:1/global".hex(),
        # substrate-interface sees BoundedVec<AccountId> as a one-field composite.
        "included": [[who for who, _ in ranking]],
    })
    model = c.query("Zkpot", "Tasks", [task])["global_model"]
    assert model["commitment"] == expected["commitment"]

    _status_matches_storage(c, task, index, workers, ranking)

    # The authors are queued at the next rotation and author from the one after.
    _until(c, (c.best_number() // 10 + 2) * 10 + 1)
    validators = sorted(str(v) for v in c.query("Session", "Validators"))
    assert validators == elected
    assert alice.ss58_address not in validators


def _status_matches_storage(c: ChainClient, task: int, index: int, workers: dict[str, Keypair],
                            ranking: list[tuple[str, int]]) -> None:
    """``zkpot status --json`` (a separate process) against the same storage read here
    with substrate-interface."""
    out = subprocess.run([*ZKPOT, "status", "--chain", c.url, "--task", str(task), "--json",
                          "--events", "500"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    assert snap["block"]["number"] == c.block_number(snap["block"]["hash"]) > 0
    (t,) = snap["tasks"]
    info = c.query("Zkpot", "Tasks", [task], block_hash=snap["block"]["hash"])
    assert t["id"] == task and t["min_score"] == int(info["min_score"]) and t["status"] == str(info["status"])
    assert t["global_model"]["commitment"] == info["global_model"]["commitment"]
    assert t["verify_weight_ref_time"] == int(info["verify_weight"]["ref_time"])
    rnd = c.query("Zkpot", "Rounds", [task], block_hash=snap["block"]["hash"])
    assert t["round"]["index"] == int(rnd["index"])
    [election] = [e for e in t["elections"] if e["round"] == index]
    assert [(w, s) for w, s in election["ranking"]] == ranking
    assert election["leader"] == ranking[0][0] and election["published"]["by"] == ranking[0][0]
    assert election["published"]["uri"] == "http://127.0.0.1:1/global"
    stored = {str(k): v for k, v in c.query_map("Zkpot", "Workers", block_hash=snap["block"]["hash"])}
    assert {w["account"]: w["deposit"] for w in snap["workers"]} == {k: int(v["deposit"]) for k, v in stored.items()}
    assert {kp.ss58_address for kp in workers.values()} <= set(stored)
    # The round's proofs as events: the accepted scores, and the forged one with the
    # verifier's reason.
    events = [p for p in snap["proofs"]["events"] if p["round"] == index]
    assert sorted((p["who"], p["score"]) for p in events if p["accepted"]) == sorted(ranking)
    assert [(p["who"], p["reason"]) for p in events if not p["accepted"]] == [
        (workers["cheat"].ss58_address, "InvalidProof: PairingFailed")]
    # The text view names the same round, scores and rejection.
    text = subprocess.run([*ZKPOT, "status", "--chain", c.url, "--task", str(task), "--events", "500"],
                          capture_output=True, text=True, timeout=120)
    assert text.returncode == 0 and f"election {index}: leader {ranking[0][0][:8]}" in text.stdout, text.stdout
    assert f"{workers['cheat'].ss58_address[:8]}…: InvalidProof: PairingFailed" in text.stdout, text.stdout
