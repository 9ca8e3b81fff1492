"""The protocol's encodings on the worker's side (see docs/protocol.md).

The commit digest must be byte for byte what the pallet computes:
``blake2_256(SCALE((account, task, round, proof, instances)))``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def compact(n: int) -> bytes:
    """SCALE compact encoding of a non-negative integer."""
    if n < 0:
        raise ValueError("compact integers are non-negative")
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    raw = n.to_bytes((n.bit_length() + 7) // 8, "little")
    if len(raw) > 67:
        raise ValueError("integer too large for compact encoding")
    return bytes([((len(raw) - 4) << 2) | 3]) + raw


def commit_digest(
    account: bytes, task: int, round: int, proof: bytes, instances: Sequence[bytes]
) -> bytes:
    """The 32-byte digest a worker commits for a proof and its public instances
    (``account``: the 32-byte public key; instances: 32-byte big-endian field elements)."""
    if len(account) != 32:
        raise ValueError("an account id has 32 bytes")
    if any(len(i) != 32 for i in instances):
        raise ValueError("instances are 32-byte field elements")
    encoded = (
        account
        + task.to_bytes(4, "little")
        + round.to_bytes(4, "little")
        + compact(len(proof))
        + proof
        + compact(len(instances))
        + b"".join(instances)
    )
    return hashlib.blake2b(encoded, digest_size=32).digest()
