"""What Byzantine clients do. An attack may change the labels a client trains on, replace
what it submits, and replace the global model when its client aggregates; the engine
calls these hooks and knows nothing else about it.

Add one without touching the engine: subclass :class:`Attack`, decorate it with
:func:`register` in a module of your own, and name that module in the configuration's
``plugins``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from zkpot.experiments.registry import Registry

State = dict[str, torch.Tensor]

#: Attacks by name.
ATTACKS: Registry[Attack] = Registry("attack")
register = ATTACKS.register
get = ATTACKS.get


def _combine(a: State, b: State, wa: float, wb: float) -> State:
    return {k: wa * a[k] + wb * b[k] for k in a}


class Attack:
    """An honest client; subclasses override what they change."""

    name: ClassVar[str] = ""
    #: Whether the client trains at all (a free rider does not).
    trains: ClassVar[bool] = True

    def labels(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The labels the client trains on."""
        return y

    def submit(self, global_state: State, local: State, rng: np.random.Generator) -> State:
        """What the client submits after training ``local`` from ``global_state``."""
        return local

    def poison(self, aggregate: State, global_state: State, rng: np.random.Generator) -> State | None:
        """The global model it serves when it aggregates (``None``: the honest one)."""
        return None


@register
class Honest(Attack):
    """No attack (the Byzantine fraction 0 runs with it)."""

    name = "none"


@register
class LabelFlip(Attack):
    """Trains on labels shifted by one class (data poisoning)."""

    name = "label-flip"

    def labels(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # noqa: D102
        return (y + 1) % 10


def _random_like(state: State, rng: np.random.Generator) -> State:
    return {k: torch.from_numpy(rng.normal(0.0, 0.5, size=tuple(v.shape)).astype(np.float32))
            for k, v in state.items()}


@register
class RandomWeights(Attack):
    """Submits random weights without training."""

    name = "random-weights"
    trains = False

    def submit(self, global_state: State, local: State, rng: np.random.Generator) -> State:  # noqa: D102
        return _random_like(global_state, rng)


@register
class SignFlip(Attack):
    """Model poisoning: submits the global model minus its honest update."""

    name = "sign-flip"

    def submit(self, global_state: State, local: State, rng: np.random.Generator) -> State:  # noqa: D102
        return _combine(global_state, local, 2.0, -1.0)


@register
class Scaled(Attack):
    """Model poisoning: submits its honest update boosted five times."""

    name = "scaled"
    factor: ClassVar[float] = 5.0

    def submit(self, global_state: State, local: State, rng: np.random.Generator) -> State:  # noqa: D102
        return _combine(global_state, local, 1.0 - self.factor, self.factor)


@register
class FreeRider(Attack):
    """Does no work: resubmits the global model it was given, slightly perturbed so that
    its commitment is new."""

    name = "free-rider"
    trains = False

    def submit(self, global_state: State, local: State, rng: np.random.Generator) -> State:  # noqa: D102
        return {k: v + torch.from_numpy(rng.normal(0.0, 1e-3, size=tuple(v.shape)).astype(np.float32))
                for k, v in global_state.items()}


@register
class ByzantineLeader(Attack):
    """Trains honestly; when it aggregates, serves random weights instead of the
    aggregate (where a rule lets the aggregator decide the global model)."""

    name = "byzantine-leader"

    def poison(self, aggregate: State, global_state: State, rng: np.random.Generator) -> State | None:  # noqa: D102
        return _random_like(aggregate, rng)
