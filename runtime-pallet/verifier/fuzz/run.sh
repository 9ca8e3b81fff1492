#!/usr/bin/env bash
# Builds the `verify` fuzz target with libFuzzer and runs it: one process, one job.
#
#   runtime-pallet/verifier/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
#
# SECONDS defaults to 600 (the run recorded in docs/verifier.md). cargo-fuzz needs a nightly
# toolchain, which the project does not use: this script does what `cargo fuzz run verify`
# does with the project's stable rustc (scripts/rust-env.sh) and RUSTC_BOOTSTRAP=1, i.e.
# sanitizer-coverage instrumentation (inline 8-bit counters, PC table, comparison tracing)
# and --cfg fuzzing, with debug assertions and overflow checks on. No AddressSanitizer: the
# verifier is safe Rust. The corpus is seeded from the committed fixtures (seed.py) and kept,
# with any crash artifacts, in $ZKPOT_CACHE (default ~/.cache/zkpot), outside the checkout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${1:-600}"
shift || true
# shellcheck source=../../../scripts/rust-env.sh
source "$here/../../../scripts/rust-env.sh"
export CARGO_TARGET_DIR="$ZKPOT_CACHE/target-fuzz"
host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros (as cargo-fuzz does).
(cd "$here" && $ZKPOT_CARGO build --release --bin verify --target "$host")
corpus="$ZKPOT_CACHE/fuzz-corpus/verify"
artifacts="$ZKPOT_CACHE/fuzz-artifacts/verify"
mkdir -p "$corpus" "$artifacts"
python3 "$here/seed.py" "$corpus"
exec "$CARGO_TARGET_DIR/$host/release/verify" "$corpus" -max_total_time="$secs" \
	-artifact_prefix="$artifacts/" -print_final_stats=1 "$@"
