"""The heavy ezkl steps (key setup and proving), run as their own process.

This module imports ezkl and nothing heavier on purpose: with PyTorch loaded in the same
process, ezkl's prover ran on one core instead of all of them (measured: 51 s instead of
35 s for the digits task on 2 cores). The prover starts it as
``python -m zkpot.proof.prove_step {setup|prove} ...`` and reads its result from stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from zkpot.proof import ezkl_ops


def main(argv: list[str] | None = None) -> int:
    """Runs one step; prints one JSON line; exit 0 on success, 1 with a message on error."""
    p = argparse.ArgumentParser(prog="python -m zkpot.proof.prove_step")
    sub = p.add_subparsers(dest="step", required=True)
    s = sub.add_parser("setup")
    s.add_argument("compiled", type=Path)
    s.add_argument("witness", type=Path)
    s.add_argument("srs", type=Path)
    s.add_argument("vk", type=Path)
    s.add_argument("pk", type=Path)
    r = sub.add_parser("prove")
    r.add_argument("compiled", type=Path)
    r.add_argument("witness", type=Path)
    r.add_argument("srs", type=Path)
    r.add_argument("pk", type=Path)
    r.add_argument("proof", type=Path)
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        if args.step == "setup":
            ezkl_ops.setup(args.compiled, args.vk, args.pk, args.srs, args.witness)
            out: dict = {}
        else:
            data = ezkl_ops.prove(args.witness, args.compiled, args.pk, args.proof, args.srs)
            raw = ezkl_ops.proof_file_bytes(args.proof)
            out = {"instances": data["instances"][0], "proof": "0x" + raw.hex()}
    except (ezkl_ops.EzklError, OSError) as e:
        print(str(e).splitlines()[0] if str(e) else type(e).__name__, file=sys.stderr)
        return 1
    out["seconds"] = time.perf_counter() - start
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
