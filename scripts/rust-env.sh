# shellcheck shell=bash
# Sourced by the build scripts: chooses the Rust toolchain that can build the wasm runtime
# and exports the environment for it. Idempotent; says which path it took.
#
# 1. A rustup toolchain with a wasm target (wasm32v1-none or wasm32-unknown-unknown)
#    builds everything as usual.
# 2. Otherwise (rustup here cannot add targets) Debian's rustc-web/cargo-web 1.96 with its
#    std sources (rust-web-src) is used. Debian ships no prebuilt std for wasm, so core and
#    alloc are compiled for `wasm32v1-none` once with RUSTC_BOOTSTRAP=1 -Zbuild-std and kept
#    as a sysroot in the cache; a two-line `rustc` wrapper points Debian's rustc at that
#    sysroot. substrate-wasm-builder then sees an ordinary toolchain with the wasm32v1-none
#    target installed (its probes and incremental rebuilds stay fast), and host builds use
#    Debian's own std through the same sysroot. Debian's cargo and rustc must be the ones
#    invoked, so the wrapper and /usr/bin go first on PATH, ahead of rustup's proxies.
#
# Build outputs and caches stay outside the checkout: $ZKPOT_CACHE (default ~/.cache/zkpot).

export ZKPOT_CACHE="${ZKPOT_CACHE:-$HOME/.cache/zkpot}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ZKPOT_CACHE/target}"
mkdir -p "$ZKPOT_CACHE" "$CARGO_TARGET_DIR"
# The target dir is outside the workspace: tell substrate-wasm-builder where the workspace
# (and its Cargo.lock) is, so the wasm runtime builds with the locked dependencies.
WASM_BUILD_WORKSPACE_HINT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../runtime-pallet" && pwd)"
export WASM_BUILD_WORKSPACE_HINT

zkpot_rustup_has_wasm() {
	command -v rustup >/dev/null 2>&1 &&
		rustup target list --installed 2>/dev/null | grep -qE '^(wasm32v1-none|wasm32-unknown-unknown)$'
}

zkpot_debian_rust_ok() {
	[ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] &&
		[ -e /usr/lib/rustlib/src/rust/library/Cargo.lock ] &&
		/usr/bin/rustc --print target-list 2>/dev/null | grep -qx wasm32v1-none
}

# Builds core, alloc and compiler_builtins for wasm32v1-none with Debian's rustc and
# installs them as a sysroot beside links to Debian's host std.
zkpot_debian_wasm_sysroot() {
	local version root sysroot seed
	version=$(/usr/bin/rustc --version | cut -d' ' -f2)
	root="$ZKPOT_CACHE/rust-sysroot/$version"
	sysroot="$root/sysroot"
	if [ ! -f "$root/complete" ]; then
		echo "rust: building core and alloc for wasm32v1-none with Debian's rustc $version (once)" >&2
		rm -rf "$root"
		seed="$root/seed"
		mkdir -p "$seed/src" "$sysroot/lib/rustlib/wasm32v1-none/lib"
		printf '[package]\nname = "sysroot-seed"\nversion = "0.0.0"\nedition = "2021"\n[profile.release]\npanic = "abort"\n[workspace]\n' >"$seed/Cargo.toml"
		echo '#![no_std]' >"$seed/src/lib.rs"
		# Bitcode is embedded as in rustup's own std: the runtime is built with LTO.
		(cd "$seed" && env -u CARGO_TARGET_DIR PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc \
			RUSTFLAGS="-C embed-bitcode=yes" RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -q --release --target wasm32v1-none \
			-Zbuild-std=core,alloc) >&2 || return 1
		cp "$seed"/target/wasm32v1-none/release/deps/lib{core,alloc,compiler_builtins}-*.rlib \
			"$sysroot/lib/rustlib/wasm32v1-none/lib/" || return 1
		local d
		for d in x86_64-unknown-linux-gnu src etc; do
			[ -e "/usr/lib/rustlib/$d" ] && ln -sfn "/usr/lib/rustlib/$d" "$sysroot/lib/rustlib/$d"
		done
		mkdir -p "$root/bin"
		printf '#!/bin/sh\nexec /usr/bin/rustc --sysroot "%s" "$@"\n' "$sysroot" >"$root/bin/rustc"
		chmod +x "$root/bin/rustc"
		rm -rf "$seed"
		# Wasm artifacts compiled against an earlier sysroot no longer link with this one.
		rm -rf "$CARGO_TARGET_DIR"/*/wbuild
		touch "$root/complete"
	fi
	export PATH="$root/bin:/usr/bin:$PATH"
	export RUSTC="$root/bin/rustc"
}

if [ -z "${ZKPOT_RUST_ENV:-}" ]; then
	if zkpot_rustup_has_wasm; then
		export ZKPOT_RUST_ENV=rustup
		export ZKPOT_CARGO="cargo"
		echo "rust: using rustup's $(rustc --version | cut -d' ' -f1-2) with its wasm target" >&2
	else
		if ! zkpot_debian_rust_ok; then
			echo "rust: rustup has no wasm target; installing Debian's rustc-web, cargo-web, rust-web-src and lld-22" >&2
			SUDO=""
			[ "$(id -u)" -ne 0 ] && SUDO="sudo"
			{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
				rustc-web cargo-web rust-web-src lld-22; } >&2 ||
				{ echo "rust: could not install Debian's Rust packages" >&2; return 1 2>/dev/null || exit 1; }
		fi
		zkpot_debian_rust_ok || { echo "rust: Debian's rustc-web is not usable" >&2; return 1 2>/dev/null || exit 1; }
		zkpot_debian_wasm_sysroot || { echo "rust: building the wasm sysroot failed" >&2; return 1 2>/dev/null || exit 1; }
		export ZKPOT_RUST_ENV=debian
		export ZKPOT_CARGO="/usr/bin/cargo"
		export RUSTDOC=/usr/bin/rustdoc
		echo "rust: rustup has no wasm target; using Debian's $(/usr/bin/rustc --version | cut -d' ' -f1-2) with a wasm32v1-none sysroot built by -Zbuild-std" >&2
	fi
fi
