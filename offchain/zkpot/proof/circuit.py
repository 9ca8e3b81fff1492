"""The ZKPoT statement as a network that ezkl turns into a circuit.

"My private model, committed by the KZG commitment of its quantized parameters, classifies
at least S samples of the task's fixed test set correctly."

The circuit is the task's classifier followed by a scoring head that uses no constants:

    L      = model(x)                       logits, shape (N, C)
    t      = sum_j L[i, j] * onehot[i, j]   the true class's logit, shape (N, 1)
    d      = t - L + onehot                 d[i, y_i] = 1 > 0; d[i, j] = L[i, y_i] - L[i, j]
    ok     = relu(sign(d))                  1 where d > 0, else 0
    score  = sum_i prod_j ok[i, j]          samples whose true logit beats every other

A sample counts only when its true class's logit is *strictly* greater than every other
logit: ties count as wrong, so a model whose logits are all equal (or all zero) scores 0.

Why no constants: with ezkl's ``param_visibility = "polycommit"`` every constant tensor of
the graph becomes a private, committed parameter that the prover chooses. A threshold or mask
written as a constant would let a prover move it. The test set ``x`` and the labels
(``onehot``) are the circuit's *inputs* with visibility ``fixed``, so they are baked into
the verifying key, and the head uses only ops on those inputs (ReLU of a zero constant is
folded by ezkl into a parameter-free op). Reductions use ``prod``, not ``min``/``max``,
which ezkl would lay out with shuffle arguments that the reusable verifier lacks.

Public instances (see ``InstanceLayout``): [0] the score. The model commitment is not an
instance: it is the proof's first G1 point (bytes 0..64), the KZG commitment of the
parameter column (see ``zkpot.proof.commitment``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

#: ONNX opset: reductions take their axes as attributes, which ezkl reads directly.
ONNX_OPSET = 12

#: The score's index among the proof's public instances, and their number.
SCORE_INDEX = 0
NUM_INSTANCES = 1
#: Where the model commitment sits in the proof bytes.
COMMITMENT_OFFSET = 0


class ScoredModel(nn.Module):
    """The classifier followed by the constant-free scoring head."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:  # noqa: D102
        logits = self.classifier(x)
        true_logit = (logits * onehot).sum(dim=1, keepdim=True)
        ok = torch.relu(torch.sign(true_logit - logits + onehot))
        return ok.prod(dim=1).sum().reshape(1)


@dataclass(frozen=True)
class TestSet:
    """The fixed samples of a task: inputs as the model takes them, and labels."""

    x: np.ndarray
    y: np.ndarray
    num_classes: int

    def onehot(self) -> np.ndarray:
        """Labels one-hot encoded as float32, shape (N, C)."""
        out = np.zeros((len(self.y), self.num_classes), dtype=np.float32)
        out[np.arange(len(self.y)), self.y] = 1.0
        return out

    def save(self, path: Path) -> None:
        """Writes ``x``, ``y`` and ``num_classes`` to an ``.npz`` file, deterministically."""
        buf = io.BytesIO()
        np.savez(buf, x=self.x.astype(np.float32), y=self.y.astype(np.int64),
                 num_classes=np.int64(self.num_classes))
        path.write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> TestSet:
        """Reads a file written by :meth:`save` (no pickled objects are accepted)."""
        with np.load(path, allow_pickle=False) as f:
            return cls(x=f["x"], y=f["y"], num_classes=int(f["num_classes"]))


def strictly_correct(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per sample: whether the true class's logit is strictly greater than all others.

    This is the circuit's rule, computed directly; ties are wrong.
    """
    logits = np.asarray(logits)
    true = logits[np.arange(len(y)), y]
    others = logits.copy().astype(np.float64)
    others[np.arange(len(y)), y] = -np.inf
    return true > others.max(axis=1)


def witness_input(test: TestSet) -> dict[str, list[list[float]]]:
    """The ezkl input file: the circuit's two inputs, flattened."""
    return {"input_data": [test.x.reshape(-1).tolist(), test.onehot().reshape(-1).tolist()]}


def export_onnx(classifier: nn.Module, test: TestSet, path: Path) -> None:
    """Exports the scored network with the classifier's current weights.

    The export is deterministic: same architecture and weights give the same bytes.
    """
    model = ScoredModel(classifier).eval()
    x = torch.from_numpy(np.ascontiguousarray(test.x, dtype=np.float32))
    onehot = torch.from_numpy(test.onehot())
    with torch.no_grad():
        torch.onnx.export(
            model,
            (x, onehot),
            str(path),
            input_names=["x", "onehot"],
            output_names=["score"],
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def export_logits_onnx(classifier: nn.Module, x: np.ndarray, path: Path) -> None:
    """Exports the classifier alone (logits out), used to read the quantized logits that
    ezkl computes with the task's fixed-point settings."""
    with torch.no_grad():
        torch.onnx.export(
            classifier.eval(),
            (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),),
            str(path),
            input_names=["x"],
            output_names=["logits"],
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
