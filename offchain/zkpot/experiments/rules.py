"""Consensus rules, each as a leader choice, a selection of contributions and an
aggregation, applied to one round's submissions. How faithful each is to the system it
stands for is said in its docstring and in ``docs/experiments.md``.

Add one like an attack: subclass :class:`Rule`, decorate with :func:`register`, name the
module in ``plugins``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from zkpot.experiments.attacks import Attack, State
from zkpot.experiments.registry import Registry
from zkpot.proof import circuit, quantize
from zkpot.proof.commitment import quantize_tensor
from zkpot.proof.task import Task

#: Rules by name.
RULES: Registry[Rule] = Registry("rule")
register = RULES.register
get = RULES.get


@dataclass
class Submission:
    """One client's model for the round."""

    client: int
    byzantine: bool
    state: State


@dataclass
class Context:
    """What a rule may use besides the submissions."""

    task: Task
    #: The task's fixed test samples (the score's samples).
    fixed: circuit.TestSet
    min_score: int
    candidates: int
    global_state: State
    attack: Attack
    rng: np.random.Generator
    #: Per client: stake (PoS) and compute power (PoW), fixed for a run.
    stake: np.ndarray
    compute: np.ndarray


@dataclass
class Outcome:
    """What the round decided."""

    global_state: State
    leader: int | None
    included: list[int]
    #: Per client, the score the rule selected by (proven or recomputed), if any.
    scores: dict[int, int] = field(default_factory=dict)
    #: The leader (or the aggregator that decided the model) is Byzantine.
    leader_byzantine: bool = False
    #: A Byzantine aggregator's model became the global model.
    poisoned: bool = False


def mean_state(states: Sequence[State]) -> State:
    """FedAvg with equal weights, in float."""
    return {k: torch.stack([s[k] for s in states]).mean(0) for k in states[0]}


def quantized_mean(states: Sequence[State], param_scale: int) -> State:
    """ZKPoT's global model: the exact sum of the quantized parameters over ``W``
    dequantized, ``s / (W 2^p)`` (``aggregation.GlobalModel.to_state``)."""
    scale = 2.0**param_scale
    return {k: torch.from_numpy(sum(quantize_tensor(s[k], param_scale) for s in states)
                                / (len(states) * scale)).float()
            for k in states[0]}


def _float_score(state: State, fixed: circuit.TestSet, template: torch.nn.Module) -> int:
    template.load_state_dict(state)
    with torch.no_grad():
        logits = template(torch.from_numpy(fixed.x)).numpy()
    return int(circuit.strictly_correct(logits, fixed.y).sum())


def _ranked(scores: dict[int, int], rng: np.random.Generator) -> list[int]:
    # Ties fall to a per-round random order (the chain's tie-break is the earlier reveal).
    order = {c: r for r, c in enumerate(rng.permutation(sorted(scores)))}
    return sorted(scores, key=lambda c: (-scores[c], order[c]))


class Rule:
    """A consensus rule."""

    name: ClassVar[str] = ""
    #: What it makes public beyond the global model: individual client models.
    exposes_individual: ClassVar[bool] = False

    def round(self, ctx: Context, subs: list[Submission], template: torch.nn.Module) -> Outcome:
        """Decides one round."""
        raise NotImplementedError

    @classmethod
    def _drawn(cls, ctx: Context, subs: list[Submission], weight: np.ndarray) -> Outcome:
        """A leader drawn in proportion to ``weight`` averages every model."""
        leader = int(ctx.rng.choice(len(weight), p=weight / weight.sum()))
        return cls._led(ctx, subs, leader, [s.client for s in subs], mean_state([s.state for s in subs]))

    @staticmethod
    def _led(ctx: Context, subs: list[Submission], leader: int, included: list[int],
             aggregate: State, scores: dict[int, int] | None = None) -> Outcome:
        """The leader aggregates and its word is the global model (no verification)."""
        byz = next(s.byzantine for s in subs if s.client == leader)
        poison = ctx.attack.poison(aggregate, ctx.global_state, ctx.rng) if byz else None
        return Outcome(poison if poison is not None else aggregate, leader, included, scores or {},
                       leader_byzantine=byz, poisoned=poison is not None)


@register
class ZkPoT(Rule):
    """ZKPoT as the pallet runs it: the score is the quantized model's count of correct
    fixed test samples (what a proof attests, here by the cross-checked emulation), a
    contribution counts if it reaches ``min_score``, the leader is the top score, every
    counted contribution enters the exact quantized sum with equal weight, and the chain
    fixes its commitment: a Byzantine aggregator's other model is refused by every worker,
    who take it from the next of the ``candidates`` best-ranked contributors; with no
    honest candidate the round ends without a new model."""

    name = "zkpot"

    def round(self, ctx: Context, subs: list[Submission], template: torch.nn.Module) -> Outcome:  # noqa: D102
        scores = {s.client: quantize.emulated_score(ctx.task, s.state, ctx.fixed) for s in subs}
        accepted = {c: sc for c, sc in scores.items() if sc >= ctx.min_score}
        if not accepted:
            return Outcome(ctx.global_state, None, [], scores)
        ranking = _ranked(accepted, ctx.rng)
        by_client = {s.client: s for s in subs}
        aggregate = quantized_mean([by_client[c].state for c in ranking],
                                   ctx.task.manifest.settings.param_scale)
        leader = ranking[0]
        honest = [c for c in ranking[: ctx.candidates] if not by_client[c].byzantine]
        leader_byz = by_client[leader].byzantine
        if leader_byz and ctx.attack.poison(aggregate, ctx.global_state, ctx.rng) is not None and not honest:
            return Outcome(ctx.global_state, leader, ranking, scores, leader_byzantine=True)
        return Outcome(aggregate, leader, ranking, scores, leader_byzantine=leader_byz)


@register
class FedAvg(Rule):
    """Plain FedAvg: an honest server averages every client's model, no selection."""

    name = "fedavg"
    exposes_individual = True  # to the server

    def round(self, ctx: Context, subs: list[Submission], template: torch.nn.Module) -> Outcome:  # noqa: D102
        return Outcome(mean_state([s.state for s in subs]), None, [s.client for s in subs])


@register
class ProofOfStake(Rule):
    """PoS-style: the leader is drawn with probability proportional to stake (equal
    stakes here), receives every model, averages them and publishes the result
    unverified."""

    name = "pos"
    exposes_individual = True  # to the leader

    def round(self, ctx: Context, subs: list[Submission], template: torch.nn.Module) -> Outcome:  # noqa: D102
        return self._drawn(ctx, subs, ctx.stake)


@register
class ProofOfWork(Rule):
    """PoW-style: the leader is drawn with probability proportional to compute power (a
    log-normal spread over clients, fixed per run), receives every model, averages them
    and publishes the result unverified."""

    name = "pow"
    exposes_individual = True  # to the leader

    def round(self, ctx: Context, subs: list[Submission], template: torch.nn.Module) -> Outcome:  # noqa: D102
        return self._drawn(ctx, subs, ctx.compute)


@register
class ProofOfFederatedLearning(Rule):
    """Learning-based consensus in the style of proof of federated learning: every model
    is published, everyone recomputes its accuracy on the public test samples (float), the
    models reaching ``min_score`` are selected, the best one's owner leads and averages
    them; the leader's aggregate is not verified."""

    name = "pofl"
    exposes_individual = True  # to everyone

    def round(self, ctx: Context, subs: list[Submission], template: torch.nn.Module) -> Outcome:  # noqa: D102
        scores = {s.client: _float_score(s.state, ctx.fixed, template) for s in subs}
        accepted = {c: sc for c, sc in scores.items() if sc >= ctx.min_score}
        if not accepted:
            return Outcome(ctx.global_state, None, [], scores)
        ranking = _ranked(accepted, ctx.rng)
        by_client = {s.client: s for s in subs}
        return self._led(ctx, subs, ranking[0], ranking,
                         mean_state([by_client[c].state for c in ranking]), scores)
