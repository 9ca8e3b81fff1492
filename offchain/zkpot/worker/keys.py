"""The worker's signing key: sr25519 from a mnemonic, a seed or a dev URI.

The secret comes from a file that only its owner can read, or from an environment
variable. It is never logged, never written anywhere, and never part of an exception
message: errors name the source (file or variable), not its content.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from substrateinterface import Keypair, KeypairType


class KeyLoadError(ValueError):
    """The key could not be loaded; the message names the source, never the secret."""


#: Longest secret accepted (a 24-word mnemonic with a derivation path fits easily).
MAX_SECRET_LEN = 1024


@dataclass(frozen=True)
class LoadedKey:
    """A keypair and where it came from."""

    keypair: Keypair
    source: str

    def __repr__(self) -> str:  # never show the secret, even in a debugger's repr
        return f"LoadedKey(address={self.keypair.ss58_address}, source={self.source})"


def _keypair(secret: str, source: str) -> Keypair:
    secret = secret.strip()
    if not secret:
        raise KeyLoadError(f"{source} is empty")
    if len(secret) > MAX_SECRET_LEN:
        raise KeyLoadError(f"{source} is too long to be a key")
    try:
        if secret.startswith("0x") and len(secret) == 66:
            return Keypair.create_from_seed(secret, crypto_type=KeypairType.SR25519)
        if secret.startswith("//") or "//" in secret or " " in secret:
            return Keypair.create_from_uri(secret, crypto_type=KeypairType.SR25519)
    except Exception:  # noqa: BLE001
        # `from None`: the library's own message may echo the secret.
        raise KeyLoadError(
            f"{source} does not hold a valid sr25519 mnemonic, seed or URI"
        ) from None
    raise KeyLoadError(f"{source} does not hold a valid sr25519 mnemonic, seed or URI")


def from_file(path: Path) -> LoadedKey:
    """Loads a key from a file that must be readable by its owner only (mode 0600 or
    stricter) and owned by the user running the worker."""
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise KeyLoadError(f"key file not found: {path}") from e
    if not stat.S_ISREG(st.st_mode):
        raise KeyLoadError(f"key file is not a regular file: {path}")
    if st.st_mode & 0o077:
        raise KeyLoadError(
            f"key file {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
            "run: chmod 600 " + str(path)
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise KeyLoadError(f"key file {path} belongs to another user")
    if st.st_size > MAX_SECRET_LEN:
        raise KeyLoadError(f"key file {path} is too large to be a key")
    return LoadedKey(_keypair(path.read_text(), f"key file {path}"), f"file {path}")


def from_env(var: str) -> LoadedKey:
    """Loads a key from the environment variable ``var``."""
    value = os.environ.get(var)
    if value is None:
        raise KeyLoadError(f"environment variable {var} is not set")
    return LoadedKey(_keypair(value, f"environment variable {var}"), f"env {var}")


def session_keys_proof(keypair: Keypair) -> tuple[dict[str, str], str]:
    """Session keys of the zkpot runtime for ``keypair`` used as its own Aura key, and the
    proof of possession pallet-session requires: the Aura key's signature of
    ``b"POP_" + account`` (the owner as SCALE encodes an AccountId32)."""
    signature = keypair.sign(b"POP_" + keypair.public_key)
    return {"aura": "0x" + keypair.public_key.hex()}, "0x" + signature.hex()
