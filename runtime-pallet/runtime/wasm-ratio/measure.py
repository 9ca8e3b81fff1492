"""Native/wasm time ratio of proof verification and its unit operations (docs/weights.md).

Builds nothing itself; expects, from this directory (with scripts/rust-env.sh sourced):

    cargo build --release --lib --target wasm32v1-none   # the wasm module
    cargo build --release --bin native                   # the native binary

then `python measure.py TARGET_DIR [ITERATIONS] [ROUNDS]`:

- prints each fixture's VerifyCost (from the VKA);
- verifies every fixture ITERATIONS times per round, ROUNDS rounds, natively and in
  wasmtime (Cranelift, as Substrate's executor), and prints the median time per
  verification of each and the ratio;
- times the unit operations (pairing check, MSM of n terms, field multiplication and
  inversion, Keccak, on-curve checks) both ways.

Needs the `wasmtime` package from PyPI.
"""

import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import wasmtime

HERE = pathlib.Path(__file__).resolve().parent
VERIFIER = HERE.parent.parent / "verifier" / "fixtures"
DIGITS = HERE.parent.parent / "pallet-zkpot" / "fixtures" / "digits"


def unhex(s):
    return bytes.fromhex(s[2:] if s.startswith("0x") else s)


def fixtures():
    for name in ["zkpot-mlp", "cnn-public", "sigmoid-hashed"]:
        d = VERIFIER / name
        words = (d / "vka.bin").read_bytes()[8:]
        j = json.loads((d / "proof.json").read_text())
        p = j.get("proof")
        if isinstance(p, list):
            proof = bytes(p)
        elif isinstance(p, str):
            proof = unhex(p)
        else:
            proof = unhex(j["hex_proof"])
        inst = b"".join(unhex(v)[::-1] for col in j["instances"] for v in col)
        yield name, words, proof, inst
    yield "digits", (DIGITS / "vka.bin").read_bytes(), (DIGITS / "w0.proof").read_bytes(), (
        DIGITS / "w0.instances"
    ).read_bytes()


_KEEP = []


def tmp_cost(words, proof, inst):
    d = tempfile.TemporaryDirectory()
    _KEEP.append(d)
    t = pathlib.Path(d.name)
    (t / "vka").write_bytes(words)
    (t / "proof").write_bytes(proof)
    (t / "instances").write_bytes(inst)
    return d.name


def main():
    target = pathlib.Path(sys.argv[1])
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    native = target / "release" / "native"
    module_path = target / "wasm32v1-none" / "release" / "zkpot_wasm_ratio.wasm"
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(module_path))
    print(f"iterations {iterations} rounds {rounds}")
    ratios = []
    for name, words, proof, inst in fixtures():
        with tempfile.TemporaryDirectory() as tmp:
            t = pathlib.Path(tmp)
            (t / "vka").write_bytes(words)
            (t / "proof").write_bytes(proof)
            (t / "instances").write_bytes(inst)
            out = subprocess.run(
                [str(native), "verify", tmp, str(iterations), str(rounds)], check=True, capture_output=True, text=True
            ).stdout.split()
        native_ns = statistics.median(int(x) for x in out) / iterations
        cost = subprocess.run([str(native), "cost", tmp_cost(words, proof, inst)], check=True,
                              capture_output=True, text=True).stdout.strip()
        print(f"{name}: vka_bytes {len(words)} {cost}")

        store = wasmtime.Store(engine)
        instance = wasmtime.Instance(store, module, [])
        exports = instance.exports(store)
        memory = exports["memory"]
        ptrs = []
        for data in (words, proof, inst):
            ptr = exports["input"](store, len(data))
            memory.write(store, data, ptr)
            ptrs.append((ptr, len(data)))
        args = [x for pair in ptrs for x in pair]
        assert exports["verify_n"](store, *args, 1) == 1, name
        times = []
        for _ in range(rounds):
            start = time.perf_counter_ns()
            ok = exports["verify_n"](store, *args, iterations)
            times.append(time.perf_counter_ns() - start)
            assert ok == iterations, name
        wasm_ns = statistics.median(times) / iterations
        ratio = wasm_ns / native_ns
        ratios.append(ratio)
        print(f"{name}: native {native_ns / 1e6:.3f} ms wasm {wasm_ns / 1e6:.3f} ms ratio {ratio:.2f}")
    print(f"max ratio {max(ratios):.2f}")

    print("units: name size native_ns wasm_ns ratio (per run of the operation)")
    store = wasmtime.Store(engine)
    exports = wasmtime.Instance(store, module, []).exports(store)
    units = [("pairing_check", 0, 0, 4), ("field_mul", 2, 100000, 4), ("field_inverse", 3, 1000, 4),
             ("keccak", 4, 65536, 8), ("on_curve", 5, 256, 8)]
    units += [("msm", 1, n, 4) for n in (8, 16, 32, 64, 128, 256, 512)]
    for name, op, n, iters in units:
        out = subprocess.run([str(native), "unit", str(op), str(n), str(iters), str(rounds)],
                             check=True, capture_output=True, text=True).stdout.split()
        native_ns = statistics.median(int(x) for x in out) / iters
        times = []
        for _ in range(rounds):
            start = time.perf_counter_ns()
            exports["unit_n"](store, op, n, 0)
            prep = time.perf_counter_ns() - start
            start = time.perf_counter_ns()
            exports["unit_n"](store, op, n, iters)
            times.append(time.perf_counter_ns() - start - prep)
        wasm_ns = statistics.median(times) / iters
        print(f"unit {name} {n} {native_ns:.0f} {wasm_ns:.0f} {wasm_ns / native_ns:.2f}")


if __name__ == "__main__":
    main()
