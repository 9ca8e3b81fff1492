"""The federated-learning strategy: a weighted sum of quantized models, exactly.

The global model of a round is *defined* as the integer vector ``s = sum_i w_i q_i`` of the
included contributions' quantized parameters ``q_i`` (in the circuit's order), with the
weights ``w_i`` the chain chose from proven data (equal, or proven scores) and
``W = sum_i w_i``. Its float form, which the next round trains from, is
``s / (W * 2**param_scale)``: FedAvg over the quantized models. Because ``s`` is exact, its
commitment ``C(s)`` must equal the aggregate ``A`` that the chain computed from the
contributions' commitments, and every worker checks that before training from it.

Kept apart from transport and from the chain: vectors and weights in, vectors out, and the
file format in which an aggregator serves ``s``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from zkpot.proof.commitment import signed
from zkpot.proof.ezkl_ops import FIELD_MODULUS

#: First bytes of a served global model.
MAGIC = b"ZKPS"
#: Format version.
VERSION = 1
_HEADER = struct.Struct(">4sBQI")
#: Largest total weight (a sum of at most 2^16 u32 weights fits).
MAX_TOTAL_WEIGHT = 2**48


class AggregationError(ValueError):
    """The models cannot be summed, or a served sum is malformed; the message says why."""


@dataclass(frozen=True)
class GlobalModel:
    """``s`` (field elements) and ``W``: a round's global model, exactly."""

    values: tuple[int, ...]
    total_weight: int

    def encode(self) -> bytes:
        """``MAGIC | version u8 | W u64 | n u32 | n x 32-byte big-endian field elements``."""
        head = _HEADER.pack(MAGIC, VERSION, self.total_weight, len(self.values))
        return head + b"".join(v.to_bytes(32, "big") for v in self.values)

    @staticmethod
    def encoded_size(num_params: int) -> int:
        """Bytes of the encoding of a model with ``num_params`` parameters."""
        return _HEADER.size + 32 * num_params

    @classmethod
    def decode(cls, data: bytes, num_params: int) -> GlobalModel:
        """Parses a served global model of a task with ``num_params`` parameters; refuses
        a wrong magic, version, length or weight, and values outside the field."""
        if len(data) < _HEADER.size:
            raise AggregationError("the global model file is truncated")
        magic, version, total, n = _HEADER.unpack_from(data)
        if magic != MAGIC or version != VERSION:
            raise AggregationError("not a zkpot global model file (magic or version)")
        if n != num_params:
            raise AggregationError(f"the global model has {n} parameters, the task {num_params}")
        if not 1 <= total <= MAX_TOTAL_WEIGHT:
            raise AggregationError(f"total weight {total} out of range")
        if len(data) != cls.encoded_size(n):
            raise AggregationError(f"the global model file has {len(data)} bytes, expected {cls.encoded_size(n)}")
        values = []
        for i in range(n):
            off = _HEADER.size + 32 * i
            v = int.from_bytes(data[off:off + 32], "big")
            if v >= FIELD_MODULUS:
                raise AggregationError(f"parameter {i} is not a field element")
            values.append(v)
        return cls(values=tuple(values), total_weight=total)

    def to_state(self, template: Mapping[str, torch.Tensor], param_scale: int) -> dict[str, torch.Tensor]:
        """The float model ``s / (W * 2**param_scale)`` shaped like ``template``."""
        if sum(t.numel() for t in template.values()) != len(self.values):
            raise AggregationError("the global model does not fit the architecture")
        scale = float(self.total_weight * 2**param_scale)
        flat = torch.tensor([signed(v) / scale for v in self.values], dtype=torch.float64)
        out: dict[str, torch.Tensor] = {}
        at = 0
        for name, t in template.items():
            n = t.numel()
            out[name] = flat[at:at + n].reshape(t.shape).to(t.dtype)
            at += n
        return out


def weighted_sum(vectors: Sequence[Sequence[int]], weights: Sequence[int]) -> GlobalModel:
    """``s = sum_i w_i q_i`` over the field; every vector must have the same length and
    every weight must be positive."""
    if not vectors or len(vectors) != len(weights):
        raise AggregationError("one weight per model, at least one model")
    n = len(vectors[0])
    for i, (v, w) in enumerate(zip(vectors, weights, strict=True)):
        if len(v) != n:
            raise AggregationError(f"model {i} has {len(v)} parameters, model 0 has {n}")
        if not isinstance(w, int) or w <= 0:
            raise AggregationError(f"model {i}: weight must be a positive integer, got {w!r}")
    total = sum(weights)
    if total > MAX_TOTAL_WEIGHT:
        raise AggregationError("total weight too large")
    values = tuple(
        sum(w * q[j] for q, w in zip(vectors, weights, strict=True)) % FIELD_MODULUS for j in range(n)
    )
    return GlobalModel(values=values, total_weight=total)


def of_single(values: Sequence[int]) -> GlobalModel:
    """A single model (``W = 1``), e.g. the initial model, as a global model."""
    return GlobalModel(values=tuple(v % FIELD_MODULUS for v in values), total_weight=1)
