#!/usr/bin/env bash
# Builds zkpot-verifier for wasm32v1-none (with the sysroot scripts/rust-env.sh provides) and
# times it under wasmtime: runtime-pallet/verifier/wasm-bench/run.sh [--runs N]
# The wasmtime Python package goes into a throwaway venv ($WASM_BENCH_VENV, default
# /tmp/zkpot-wasm-bench-venv), not the project's. Build outputs stay in $ZKPOT_CACHE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../../scripts/rust-env.sh
source "$here/../../../scripts/rust-env.sh"
export CARGO_TARGET_DIR="$ZKPOT_CACHE/target-wasm-bench"
(cd "$here" && $ZKPOT_CARGO build --release --target wasm32v1-none)
venv="${WASM_BENCH_VENV:-/tmp/zkpot-wasm-bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q wasmtime
fi
exec "$venv/bin/python" "$here/run.py" "$CARGO_TARGET_DIR/wasm32v1-none/release/zkpot_verifier_wasm_bench.wasm" "$@"
