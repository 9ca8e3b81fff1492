#!/usr/bin/env bash
# Builds the real node tools from crates.io into $ZKPOT_CACHE/bin (default ~/.cache/zkpot/bin):
# polkadot-omni-node (runs the runtime as a parachain / in dev mode) and frame-omni-bencher
# (measures the pallet's weights). Both are of the stable2609 release the runtime pins.
#
# This takes hours on a small machine (about 1,400 crates, RocksDB's C++, wasmtime), so it
# is opt-in and never part of setup or CI. It is resumable: the target directory is kept in
# the cache, and a second run continues where the first stopped. It runs at the lowest CPU
# and I/O priority so that it can go on in the background while other work runs.
#
#   scripts/build-node.sh            # build what is missing, log in $ZKPOT_CACHE/logs
#   scripts/build-node.sh --status   # say what is built and how far the build is
set -euo pipefail

CACHE="${ZKPOT_CACHE:-$HOME/.cache/zkpot}"
ROOT="$CACHE"                   # cargo install puts binaries in $ROOT/bin
TARGET="$CACHE/node-target"
LOG_DIR="$CACHE/logs"
LOG="$LOG_DIR/build-node.log"
TIMES="$LOG_DIR/build-node.times"
# name@version: the versions whose published lock files pin this workspace's stable2609 crates.
TOOLS=("polkadot-omni-node@0.24.0" "frame-omni-bencher@0.28.0")
MIN_FREE_GB=30

mkdir -p "$LOG_DIR" "$TARGET"

binary_of() { echo "$ROOT/bin/${1%@*}"; }

if [ "${1:-}" = "--status" ]; then
	for tool in "${TOOLS[@]}"; do
		bin=$(binary_of "$tool")
		if [ -x "$bin" ]; then echo "built: $tool -> $bin"; else echo "missing: $tool"; fi
	done
	[ -f "$TIMES" ] && cat "$TIMES"
	echo "target dir: $(du -sh "$TARGET" 2>/dev/null | cut -f1) in $TARGET"
	[ -f "$LOG" ] && { echo "last log lines ($LOG):"; tail -n 3 "$LOG"; }
	exit 0
fi

# Build dependencies from Debian: clang/libclang for RocksDB's bindings, protoc for the
# networking crates' protobuf schemas.
need=()
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v clang >/dev/null || need+=(clang)
[ -n "$(ls /usr/lib/llvm-*/lib/libclang.so* 2>/dev/null)" ] || need+=(libclang-dev)
if [ ${#need[@]} -gt 0 ]; then
	echo "build-node: installing ${need[*]} from Debian"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"; } >>"$LOG" 2>&1
fi

free_gb=$(df -Pk "$CACHE" | awk 'NR==2 {print int($4/1048576)}')
if [ "$free_gb" -lt "$MIN_FREE_GB" ] && [ ! -d "$TARGET/release" ]; then
	echo "build-node: only ${free_gb} GB free under $CACHE; the node build needs about ${MIN_FREE_GB} GB" >&2
	exit 1
fi

# The host toolchain (rustup's, or Debian's when rustup has none) builds the node; no wasm
# runtime is part of these two binaries.
CARGO=cargo
command -v cargo >/dev/null || CARGO=/usr/bin/cargo

for tool in "${TOOLS[@]}"; do
	bin=$(binary_of "$tool")
	if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
		echo "build-node: $tool already built ($bin)"
		continue
	fi
	echo "build-node: building $tool with $($CARGO --version); log: $LOG"
	start=$(date +%s)
	echo "== $(date -u +%FT%TZ) start $tool" >>"$LOG"
	# --locked: the crate's own published lock file, so the versions are the release's.
	nice -n 19 ionice -c 3 "$CARGO" install --locked --root "$ROOT" --target-dir "$TARGET" \
		"${tool%@*}" --version "${tool#*@}" >>"$LOG" 2>&1
	end=$(date +%s)
	echo "$tool: built in $(((end - start) / 60)) min this run, $(du -sh "$TARGET" | cut -f1) target dir, $(date -u +%FT%TZ)" | tee -a "$TIMES"
done
