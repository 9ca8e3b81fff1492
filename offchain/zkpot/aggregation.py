"""The federated-learning strategy: FedAvg, weighted by sample counts.

Kept apart from transport and from the chain: it takes state dicts and sample counts and
returns the average, refusing inputs that do not belong together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


class AggregationError(ValueError):
    """The models cannot be averaged; the message says which and why."""


def fedavg(models: Sequence[tuple[Mapping[str, torch.Tensor], int]]) -> dict[str, torch.Tensor]:
    """The weighted average ``sum_i n_i * w_i / sum_i n_i`` of state dicts ``w_i`` trained
    on ``n_i`` samples. All models must have the same keys and shapes and finite values;
    every sample count must be positive. Computed in float64, returned in each tensor's
    original dtype."""
    if not models:
        raise AggregationError("nothing to aggregate")
    first, _ = models[0]
    keys = list(first.keys())
    total = 0
    for i, (state, samples) in enumerate(models):
        if not isinstance(samples, int) or samples <= 0:
            raise AggregationError(f"model {i}: sample count must be a positive integer, got {samples!r}")
        if list(state.keys()) != keys:
            raise AggregationError(f"model {i}: its parameters differ from model 0's")
        for k in keys:
            if state[k].shape != first[k].shape:
                raise AggregationError(
                    f"model {i}: {k} has shape {tuple(state[k].shape)}, expected {tuple(first[k].shape)}"
                )
            if not torch.isfinite(state[k]).all():
                raise AggregationError(f"model {i}: {k} has non-finite values")
        total += samples
    out: dict[str, torch.Tensor] = {}
    for k in keys:
        acc = torch.zeros(first[k].shape, dtype=torch.float64)
        for state, samples in models:
            acc += state[k].detach().to(torch.float64) * (samples / total)
        out[k] = acc.to(first[k].dtype)
    return out
