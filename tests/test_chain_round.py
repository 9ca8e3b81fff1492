"""One ZKPoT round on the real dev chain, driven by a small substrate-interface script.

Three workers register, set session keys, commit and reveal real ezkl proofs (the pallet's
fixture proofs, made by ``runtime-pallet/pallet-zkpot/fixtures/generate.py``); a fourth
reveals a proof whose score it raised by one. The runtime verifies the proofs natively in
wasm, elects the leader and the block authors, and two session rotations later
``Session.Validators`` are the elected workers instead of the genesis authority."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from substrateinterface import Keypair
from zkpot import paths
from zkpot.chain import ChainClient
from zkpot.keys import session_keys_proof
from zkpot.protocol import commit_digest

from tests.conftest import DevnetProcess, free_port, require_built_chain

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
               for name in ("w0", "w1", "w3", "cheat")}
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
        "initial_model": {"commitment": "0x" + "00" * 31 + "01",
                          "uri": "0x" + b"https://example.org/initial.pt".hex()},
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

    proofs = {"w0": _proof("w0"), "w1": _proof("w1"), "w3": _proof("w3")}
    honest_proof, honest_instances = _proof("w2")
    raised = bytearray(honest_instances[1])
    raised[-1] += 1  # score 29 claimed as 30: the proof no longer matches
    proofs["cheat"] = (honest_proof, [honest_instances[0], bytes(raised)])

    for name, kp in workers.items():
        proof, instances = proofs[name]
        digest = commit_digest(kp.public_key, task, index, proof, instances)
        _submit(c, kp, "Zkpot", "commit",
                {"task": task, "round": index, "digest": "0x" + digest.hex()})

    _until(c, int(rnd["commit_end"]))
    assert _round(c, task)["phase"] == "Reveal"
    rejected = None
    for name, kp in workers.items():
        proof, instances = proofs[name]
        r = _submit(c, kp, "Zkpot", "reveal", {
            "task": task, "round": index, "proof": "0x" + proof.hex(),
            "instances": [["0x" + i.hex() for i in instances]],
        })
        if name == "cheat":
            [rejected] = r.events_of("Zkpot", "ProofRejected")
        else:
            [accepted] = r.events_of("Zkpot", "ProofAccepted")
            assert int(accepted["score"]) == meta["proofs"][name]["score"]
            assert accepted["commitment"] == meta["proofs"][name]["commitment"]
    assert rejected is not None and "InvalidProof" in rejected["reason"], rejected

    _until(c, int(rnd["reveal_end"]))
    election = c.query("Zkpot", "Elections", [(task, index)])
    ranking = [(str(who), int(score)) for who, score in election["ranking"]]
    assert ranking == [(workers["w1"].ss58_address, 30), (workers["w0"].ss58_address, 29),
                       (workers["w3"].ss58_address, 28)]
    elected = sorted(str(a) for a in election["authors"])
    assert elected == sorted(workers[n].ss58_address for n in ("w1", "w0", "w3"))
    assert workers["cheat"].ss58_address not in elected

    # The authors are queued at the next rotation and author from the one after.
    _until(c, (c.best_number() // 10 + 2) * 10 + 1)
    validators = sorted(str(v) for v in c.query("Session", "Validators"))
    assert validators == elected
    assert alice.ss58_address not in validators
