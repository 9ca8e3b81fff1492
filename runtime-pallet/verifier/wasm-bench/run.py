#!/usr/bin/env python3
"""Times the wasm build of zkpot-verifier under wasmtime (what Substrate executes runtimes with).

    python run.py [WASM] [--runs N]

WASM defaults to $ZKPOT_CACHE/target-wasm-bench/wasm32v1-none/release/zkpot_verifier_wasm_bench.wasm
(built by run.sh). Needs the `wasmtime` package (run.sh puts it in a throwaway venv).
Prints one JSON object: for each export, milliseconds per run over B batches of N runs:
the fastest batch, the median batch, and the median batch's CPU time of this thread (wasmtime
runs the code on the calling thread, so on a busy machine CPU time is the steadier figure).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import time
from pathlib import Path

import wasmtime

CACHE = Path(os.environ.get("ZKPOT_CACHE", Path.home() / ".cache" / "zkpot"))
DEFAULT = CACHE / "target-wasm-bench" / "wasm32v1-none" / "release" / "zkpot_verifier_wasm_bench.wasm"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wasm", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--runs", type=int, default=1, help="runs per batch (N)")
    ap.add_argument("--batches", type=int, default=30, help="batches (B)")
    args = ap.parse_args()

    engine = wasmtime.Engine()
    t = time.perf_counter()
    module = wasmtime.Module.from_file(engine, str(args.wasm))
    compile_ms = (time.perf_counter() - t) * 1e3
    store = wasmtime.Store(engine)
    inst = wasmtime.Instance(store, module, [])
    ex = inst.exports(store)

    def call(name: str, *a: int) -> int:
        return ex[name](store, *a)

    assert call("parse_and_verify_n", 1) == 0, "the fixture does not verify in wasm"
    assert call("verify_tampered") == 12, "a changed score is not rejected with PairingFailed"

    def per_run_ms(name: str) -> dict:
        wall, cpu = [], []
        for _ in range(args.batches):
            t, c = time.perf_counter(), time.thread_time()
            assert call(name, args.runs) == 0, name
            cpu.append((time.thread_time() - c) / args.runs * 1e3)
            wall.append((time.perf_counter() - t) / args.runs * 1e3)
        mid = len(wall) // 2
        return {"min": round(min(wall), 2), "median": round(sorted(wall)[mid], 2),
                "median_cpu": round(sorted(cpu)[mid], 2)}

    result = {
        "wasm": str(args.wasm),
        "wasm_bytes": args.wasm.stat().st_size,
        "wasmtime": importlib.metadata.version("wasmtime"),
        "compile_ms": round(compile_ms),
        "runs_per_batch": args.runs,
        "batches": args.batches,
        "parse_and_verify_ms": per_run_ms("parse_and_verify_n"),
        "verify_ms": per_run_ms("verify_n"),
        "parse_vka_ms": per_run_ms("parse_vka_n"),
        "heap_bytes": call("heap_bytes"),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
