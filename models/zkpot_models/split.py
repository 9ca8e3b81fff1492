"""Splitting a data set across federated clients, IID or non-IID; seeded and deterministic.

Both functions return one sorted int64 index array per client; the arrays are disjoint and
together cover every sample.
"""

from __future__ import annotations

import math

import numpy as np

#: Dirichlet draws tried before giving up on ``min_size``: enough that a feasible request
#: practically always succeeds, bounded so an infeasible one fails in seconds.
MAX_ATTEMPTS = 1000


def _check_clients(n_samples: int, num_clients: int) -> None:
    if isinstance(num_clients, bool) or not isinstance(num_clients, int | np.integer):
        raise ValueError(f"num_clients must be an integer, not {num_clients!r}")
    if num_clients < 1:
        raise ValueError(f"num_clients must be at least 1, not {num_clients}")
    if num_clients > n_samples:
        raise ValueError(
            f"cannot split {n_samples} samples across {num_clients} clients "
            "(every client needs at least one)"
        )


def split_iid(n_samples: int, num_clients: int, seed: int) -> list[np.ndarray]:
    """A uniformly random partition of ``range(n_samples)`` into ``num_clients`` parts whose
    sizes differ by at most one."""
    if n_samples < 0:
        raise ValueError(f"n_samples must not be negative, not {n_samples}")
    _check_clients(n_samples, num_clients)
    perm = np.random.default_rng(seed).permutation(n_samples)
    return [np.sort(part).astype(np.int64) for part in np.array_split(perm, num_clients)]


def split_dirichlet(
    labels: np.ndarray, num_clients: int, alpha: float, seed: int, min_size: int = 1
) -> list[np.ndarray]:
    """A non-IID partition of the samples by label: each class is divided among the clients
    in proportions drawn from Dirichlet(``alpha``), so a small ``alpha`` (0.1) gives each
    client a few dominant classes and a large one (100) approaches an IID split.

    The whole draw is repeated (up to :data:`MAX_ATTEMPTS` times) until every client has at
    least ``min_size`` samples; a ``ValueError`` says so if none does.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, not of shape {labels.shape}")
    _check_clients(len(labels), num_clients)
    if not (isinstance(alpha, int | float | np.floating) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a positive finite number, not {alpha!r}")
    if min_size < 0:
        raise ValueError(f"min_size must not be negative, not {min_size}")
    if min_size * num_clients > len(labels):
        raise ValueError(
            f"{num_clients} clients with at least {min_size} samples each need "
            f"{min_size * num_clients} samples, there are {len(labels)}"
        )
    rng = np.random.default_rng(seed)
    classes = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    owner = np.empty(len(labels), dtype=np.int64)
    for _ in range(MAX_ATTEMPTS):
        for idx in classes:
            shuffled = rng.permutation(idx)
            proportions = rng.dirichlet(np.full(num_clients, float(alpha)))
            # Cumulative cut points: client k gets the k-th slice of the shuffled class.
            cuts = (np.cumsum(proportions) * len(idx)).astype(np.int64)[:-1]
            counts = np.diff(np.concatenate(([0], cuts, [len(idx)])))
            owner[shuffled] = np.repeat(np.arange(num_clients), counts)
        if np.bincount(owner, minlength=num_clients).min() >= min_size:
            # flatnonzero is already sorted.
            return [np.flatnonzero(owner == k).astype(np.int64) for k in range(num_clients)]
    raise ValueError(
        f"no Dirichlet(alpha={alpha}) split gave all {num_clients} clients at least "
        f"{min_size} samples in {MAX_ATTEMPTS} attempts; raise alpha or lower min_size"
    )
