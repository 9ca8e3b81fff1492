"""Membership inference: the loss-threshold attack of Yeom et al. (CSF 2018).

The attacker holds a model and a sample and guesses "member of the training data" when the
model's loss on it is low. Its quality over a set of members and non-members is the area
under the ROC curve of the score ``-loss`` (0.5: no better than a coin) and the
membership advantage ``max over thresholds of (true-positive rate - false-positive
rate)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class AttackResult:
    """AUC and advantage of one attack."""

    auc: float
    advantage: float


def losses(model: nn.Module, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy of ``model`` on ``(x, y)``."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        return nn.functional.cross_entropy(logits, torch.from_numpy(y.astype(np.int64)),
                                           reduction="none").numpy()


def loss_threshold(model: nn.Module, members: tuple[np.ndarray, np.ndarray],
                   non_members: tuple[np.ndarray, np.ndarray]) -> AttackResult:
    """The attack against ``model`` on the given members and non-members."""
    score_in = -losses(model, *members)
    score_out = -losses(model, *non_members)
    return AttackResult(auc(score_in, score_out), advantage(score_in, score_out))


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a member > score of a non-member), ties counting one half."""
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    # Average ranks of tied values.
    i = 0
    while i < len(sorted_v):
        j = i
        while j + 1 < len(sorted_v) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def advantage(pos: np.ndarray, neg: np.ndarray) -> float:
    """max over thresholds of TPR - FPR (guess member when score >= threshold)."""
    best = 0.0
    for t in np.unique(np.concatenate([pos, neg])):
        best = max(best, float((pos >= t).mean() - (neg >= t).mean()))
    return best
