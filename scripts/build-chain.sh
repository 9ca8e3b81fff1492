#!/usr/bin/env bash
# Builds the wasm runtime, the chain-spec tool and the verifier CLI, then writes the raw
# chain specs of chain-spec/*.json into $ZKPOT_CACHE/chain-spec. Idempotent and
# incremental: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=rust-env.sh
source scripts/rust-env.sh

echo "==> building the runtime (native and wasm), zkpot-chain-spec and zkpot-verify" >&2
(cd runtime-pallet && $ZKPOT_CARGO build --locked -p zkpot-chain-spec -p zkpot-verifier --bins)

out="$ZKPOT_CACHE/chain-spec"
mkdir -p "$out"
for spec in chain-spec/*.json; do
	name=$(basename "$spec" .json)
	# The tool embeds the wasm runtime built together with it.
	"$CARGO_TARGET_DIR/debug/zkpot-chain-spec" --spec "$spec" --out "$out/$name.raw.json"
done
echo "==> raw chain specs in $out" >&2
