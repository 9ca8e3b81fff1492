"""Model commitments: KZG commitments to a model's quantized parameters.

A task circuit lays the model's parameters out in one *unblinded* advice column
(ezkl's ``param_visibility = "polycommit"``). The KZG commitment to that column is

    C(q) = sum_j q_j * L_j  +  B

where ``q`` is the vector of quantized parameters in ezkl's order, ``L_j`` are the SRS's
Lagrange points and ``B`` is the sum of the Lagrange points of the column's last rows,
which halo2 reserves for blinding and ezkl fills with 1. ``C`` is deterministic (SRS and
values only), it is the first G1 point of every proof of the task, and it is
affine-homomorphic: ``C(a) + C(b) = C(a + b) + C(0)``, with ``C(0) = B``. That is what
lets the chain compute the global model's commitment from the contributions' commitments
alone (see docs/protocol.md).

Encoding, as the chain stores it: 64 bytes, x then y, each 32 bytes big-endian (exactly
the bytes ezkl writes at the start of a proof). ezkl's Python API gives points with
little-endian hex coordinates; :func:`from_ezkl` converts.

The quantized parameters are ``round(w * 2**param_scale)`` (halves away from zero, as
ezkl rounds) of the state dict's tensors in order, each flattened row-major: this is
ezkl's order for the architectures here, and ``zkpot.proof.task.build_task`` checks it against
ezkl's own witness for every task it builds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zkpot.proof.ezkl_ops import FIELD_MODULUS

if TYPE_CHECKING:
    import torch

    from zkpot.proof.task import Task

#: BN254 base field modulus: the coordinates of G1 points are below it.
BASE_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583

#: Bytes of an encoded commitment.
COMMITMENT_BYTES = 64

#: An affine G1 point; ``None`` is the point at infinity.
Point = tuple[int, int] | None


class CommitmentError(ValueError):
    """Bytes that are not a valid commitment, or values that cannot be committed."""


# -- encoding -----------------------------------------------------------------------------


def decode(raw: bytes) -> tuple[int, int]:
    """A commitment's point, checked: 64 bytes, coordinates below the modulus, on the
    curve ``y^2 = x^3 + 3``, not the identity."""
    if len(raw) != COMMITMENT_BYTES:
        raise CommitmentError(f"a commitment has {COMMITMENT_BYTES} bytes, got {len(raw)}")
    x, y = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if x >= BASE_MODULUS or y >= BASE_MODULUS:
        raise CommitmentError("a coordinate is not below the base field modulus")
    if x == 0 and y == 0:
        raise CommitmentError("the commitment is the identity")
    if (y * y - x * x * x - 3) % BASE_MODULUS != 0:
        raise CommitmentError("the point is not on the curve")
    return x, y


def encode(point: Point) -> bytes:
    """64 bytes, x then y big-endian. The identity has no such encoding."""
    if point is None:
        raise CommitmentError("the identity cannot be a commitment")
    return point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def to_hex(raw: bytes) -> str:
    """``0x`` and 128 hex digits, as the chain client passes commitments."""
    decode(raw)
    return "0x" + raw.hex()


def from_hex(value: str) -> bytes:
    """Parses and checks ``0x`` + 128 hex digits."""
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError as e:
        raise CommitmentError(f"not hex: {value[:20]}...") from e
    decode(raw)
    return raw


def from_ezkl(point: Any) -> bytes:
    """An ezkl ``PyG1Affine`` (little-endian hex ``x`` and ``y``) in the chain's encoding."""
    x = bytes.fromhex(str(point.x).removeprefix("0x"))[::-1]
    y = bytes.fromhex(str(point.y).removeprefix("0x"))[::-1]
    raw = x.rjust(32, b"\0") + y.rjust(32, b"\0")
    decode(raw)
    return raw


def from_proof(proof: bytes, offset: int = 0) -> bytes:
    """The commitment a proof carries at ``offset`` (0 for ezkl's polycommit circuits)."""
    raw = proof[offset:offset + COMMITMENT_BYTES]
    decode(raw)
    return raw


# -- group arithmetic (affine, for checks and tests; the chain does its own) --------------


def add(p: Point, q: Point) -> Point:
    """``p + q``."""
    if p is None:
        return q
    if q is None:
        return p
    (x1, y1), (x2, y2) = p, q
    if x1 == x2 and (y1 + y2) % BASE_MODULUS == 0:
        return None
    if p == q:
        lam = 3 * x1 * x1 * pow(2 * y1, -1, BASE_MODULUS) % BASE_MODULUS
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, BASE_MODULUS) % BASE_MODULUS
    x3 = (lam * lam - x1 - x2) % BASE_MODULUS
    return x3, (lam * (x1 - x3) - y1) % BASE_MODULUS


def neg(p: Point) -> Point:
    """``-p``."""
    return None if p is None else (p[0], (-p[1]) % BASE_MODULUS)


def mul(p: Point, k: int) -> Point:
    """``k * p`` for an integer ``k`` (negative allowed)."""
    if k < 0:
        return mul(neg(p), -k)
    out: Point = None
    while k:
        if k & 1:
            out = add(out, p)
        p = add(p, p)
        k >>= 1
    return out


def aggregate(commitments: Sequence[bytes], weights: Sequence[int], zero: bytes) -> bytes:
    """``sum w_i C_i - (W - 1) C(0)``: the commitment of ``sum w_i q_i``, as the chain
    computes it (a cross-check for tools and tests)."""
    if len(commitments) != len(weights) or not commitments:
        raise CommitmentError("one weight per commitment, at least one")
    acc: Point = None
    for c, w in zip(commitments, weights, strict=True):
        acc = add(acc, mul(decode(c), w))
    acc = add(acc, mul(decode(zero), -(sum(weights) - 1)))
    return encode(acc)


# -- quantized parameters -----------------------------------------------------------------


def quantize_tensor(tensor: torch.Tensor, param_scale: int) -> np.ndarray:
    """One parameter tensor as the circuit holds it: ``round(w * 2**param_scale)``, halves
    away from zero (as ezkl rounds), as int64 of the tensor's shape."""
    scaled = tensor.detach().cpu().numpy().astype(np.float64) * float(2**param_scale)
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)


def quantize_state(state: Mapping[str, torch.Tensor], param_scale: int) -> list[int]:
    """The model's parameters as the circuit holds them (:func:`quantize_tensor`), in
    state-dict order, each tensor flattened row-major."""
    out: list[int] = []
    for name, tensor in state.items():
        if not np.isfinite(tensor.detach().cpu().numpy()).all():
            raise CommitmentError(f"{name} has non-finite values")
        out.extend(int(v) for v in quantize_tensor(tensor, param_scale).reshape(-1))
    return out


def to_field(values: Sequence[int]) -> list[int]:
    """Signed integers as field elements (negatives as ``p - |v|``)."""
    return [v % FIELD_MODULUS for v in values]


def signed(value: int) -> int:
    """A field element read as a signed integer (above ``p/2`` is negative)."""
    return value - FIELD_MODULUS if value > FIELD_MODULUS // 2 else value


def kzg_commit(vk: Path, settings: Path, srs_file: Path, values: Sequence[int]) -> bytes:
    """The commitment of a parameter vector (signed integers or field elements) under a
    circuit's verifying key, settings and SRS, computed by ezkl (``kzg_commit``)."""
    import ezkl

    felts = [(v % FIELD_MODULUS).to_bytes(32, "little").hex() for v in values]
    try:
        points = ezkl.kzg_commit(felts, str(vk), str(settings), str(srs_file))
    except BaseException as e:  # ezkl panics surface as pyo3's PanicException
        if isinstance(e, KeyboardInterrupt | SystemExit):
            raise
        raise CommitmentError(f"ezkl kzg_commit: {str(e).splitlines()[0] if str(e) else e!r}") from e
    if len(points) != 1:
        raise CommitmentError(f"the parameters span {len(points)} columns; one is supported")
    return from_ezkl(points[0])


def commit_values(task: Task, values: Sequence[int]) -> bytes:
    """The commitment of a parameter vector under the task's circuit."""
    from zkpot.proof import srs

    expected = task.manifest.num_params
    if len(values) != expected:
        raise CommitmentError(f"the task's model has {expected} parameters, got {len(values)}")
    return kzg_commit(
        task.path("vk"), task.path("settings_file"), srs.resolve(task.manifest.srs), values
    )


def model_commitment(task: Task, state: Mapping[str, torch.Tensor]) -> bytes:
    """The commitment of a model's weights, as a proof of it carries it."""
    return commit_values(task, quantize_state(state, task.manifest.settings.param_scale))


def zero_commitment(task: Task) -> bytes:
    """``C(0)``, the commitment of the all-zero model (registered with the task)."""
    return commit_values(task, [0] * task.manifest.num_params)
