#!/usr/bin/env bash
# Runs every test: the Rust workspace (verifier, pallet in its mock runtime, runtime) and
# the Python suite (prover, dev chain, substrate-interface and polkadot.js clients,
# workers). Expects scripts/setup.sh to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=rust-env.sh
source scripts/rust-env.sh

echo "==> cargo test" >&2
(cd runtime-pallet && $ZKPOT_CARGO test --locked --workspace)
echo "==> pallet benchmarks (each runs once in the mock runtime)" >&2
(cd runtime-pallet && $ZKPOT_CARGO test --locked -p pallet-zkpot --features runtime-benchmarks)

echo "==> ruff" >&2
.venv/bin/ruff check offchain models schemas tests

echo "==> pytest" >&2
.venv/bin/python -m pytest "$@"
