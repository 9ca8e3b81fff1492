#!/usr/bin/env python3
"""Writes the seed corpus of the `verify` fuzz target from the committed fixtures.

    python3 runtime-pallet/verifier/fuzz/seed.py [CORPUS_DIR]

Default CORPUS_DIR: $ZKPOT_CACHE/fuzz-corpus/verify (ZKPOT_CACHE defaults to ~/.cache/zkpot).
Each fixture gives one input in the target's layout (see fuzz_targets/verify.rs): its valid
triple, and a second one with the instances of another fixture, so the fuzzer starts from
both accepting and rejecting runs that reach the pairing. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load(d: Path) -> tuple[bytes, bytes, list[bytes]]:
    """(VKA words without ezkl's u64 prefix, proof bytes, big-endian instances)."""
    vka = (d / "vka.bin").read_bytes()[8:]
    doc = json.loads((d / "proof.json").read_text())
    proof = bytes(doc["proof"]) if isinstance(doc["proof"], list) else bytes.fromhex(
        doc["hex_proof"].removeprefix("0x"))
    instances = [bytes.fromhex(v)[::-1] for col in doc["instances"] for v in col]
    return vka, proof, instances


def encode(vka: bytes, instances: list[bytes], proof: bytes) -> bytes:
    return (len(vka) // 32).to_bytes(2, "little") + len(instances).to_bytes(2, "little") + vka + \
        b"".join(instances) + proof


def main() -> None:
    cache = Path(os.environ.get("ZKPOT_CACHE", Path.home() / ".cache" / "zkpot"))
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else cache / "fuzz-corpus" / "verify"
    out.mkdir(parents=True, exist_ok=True)
    fixtures = {d.name: load(d) for d in sorted(FIXTURES.iterdir()) if (d / "vka.bin").is_file()}
    names = list(fixtures)
    seeds = []
    for i, name in enumerate(names):
        vka, proof, instances = fixtures[name]
        seeds.append(encode(vka, instances, proof))
        other = fixtures[names[(i + 1) % len(names)]][2]
        seeds.append(encode(vka, (other + instances)[: len(instances)], proof))
    for seed in seeds:
        (out / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    print(f"{len(seeds)} seeds in {out}")


if __name__ == "__main__":
    main()
