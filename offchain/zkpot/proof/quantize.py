"""The quantized model: its logits and accuracy exactly as the circuit computes them.

ezkl evaluates the network in fixed point (inputs at ``input_scale`` bits, parameters at
``param_scale`` bits, with its own rescaling). To know the score a proof will carry, and the
quantized model's accuracy on the whole test split, this module runs the task's classifier
through ezkl's witness generation with the task's settings and reads the integer logits;
the scoring rule is then applied in numpy (``circuit.strictly_correct``). A test checks that
this equals the score in the proof.

Simulations that score thousands of models (``zkpot experiment``) use
:func:`emulated_logits` instead: the same fixed-point arithmetic for the MLP
architectures, reimplemented in numpy and checked against ezkl's witness by a test.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from zkpot_models import evaluate

from zkpot.proof import circuit, ezkl_ops
from zkpot.proof.commitment import quantize_tensor
from zkpot.proof.ezkl_ops import RunArgs
from zkpot.proof.task import Task


def task_run_args(task: Task) -> RunArgs:
    """The run arguments a task's circuit was built with (logrows left to ezkl)."""
    s = task.manifest.settings
    return RunArgs(
        input_scale=s.input_scale,
        param_scale=s.param_scale,
        scale_rebase_multiplier=s.scale_rebase_multiplier,
        num_inner_cols=s.num_inner_cols,
        decomp_base=s.decomp_base,
        decomp_legs=s.decomp_legs,
    )


def quantized_logits(task: Task, model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Integer logits of ``model`` on ``x`` in the task's fixed point (scale in the result's
    ``scale`` attribute is not needed: comparisons are done on the integers)."""
    with tempfile.TemporaryDirectory(prefix="zkpot-quant-") as tmp:
        d = Path(tmp)
        circuit.export_logits_onnx(model, x, d / "logits.onnx")
        ezkl_ops.gen_settings(d / "logits.onnx", d / "settings.json", task_run_args(task))
        ezkl_ops.compile_circuit(d / "logits.onnx", d / "logits.ezkl", d / "settings.json")
        (d / "input.json").write_text(
            json.dumps({"input_data": [np.asarray(x, dtype=np.float32).reshape(-1).tolist()]})
        )
        w = ezkl_ops.gen_witness(d / "input.json", d / "logits.ezkl", d / "witness.json")
    values = [ezkl_ops.felt_to_signed(ezkl_ops.felt_le_hex_to_int(v)) for v in w["outputs"][0]]
    return np.asarray(values, dtype=np.int64).reshape(len(x), -1)


def _rescale(v: np.ndarray, bits: int) -> np.ndarray:
    """``v / 2**bits`` rounded to the nearest integer, halves away from zero: how ezkl's
    rescaling rounds (measured against its witness)."""
    half = 1 << (bits - 1)
    return np.sign(v) * ((np.abs(v) + half) >> bits)


def emulated_logits(task: Task, state: Mapping[str, torch.Tensor], x: np.ndarray) -> np.ndarray:
    """The integer logits ezkl computes for an MLP (``l1``, ReLU, ``l2``) of the task's
    architecture, without ezkl: parameters rounded half away from zero at ``param_scale``
    bits (as ``commitment.quantize_state``), integer inputs at scale 0, the hidden layer at
    ``param_scale``, the output's product rescaled from twice that back to ``param_scale``
    before its bias is added.
    Refuses settings or layers it does not reproduce."""
    s = task.manifest.settings
    if s.input_scale != 0 or s.scale_rebase_multiplier != 1 or set(state) != {
            "l1.weight", "l1.bias", "l2.weight", "l2.bias"}:
        raise ValueError("emulated_logits reproduces MLPs at input scale 0 and rebase multiplier 1 only")
    p = s.param_scale

    def q(name: str) -> np.ndarray:
        return quantize_tensor(state[name], p)

    xi = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if not np.array_equal(xi, np.round(xi)):
        raise ValueError("inputs at scale 0 must be integers")
    h = np.maximum(xi.astype(np.int64) @ q("l1.weight").T + q("l1.bias"), 0)
    return _rescale(h @ q("l2.weight").T, p) + q("l2.bias")


def emulated_score(task: Task, state: Mapping[str, torch.Tensor], test: circuit.TestSet) -> int:
    """:func:`quantized_score` by :func:`emulated_logits`."""
    return int(circuit.strictly_correct(emulated_logits(task, state, test.x), test.y).sum())


def quantized_score(task: Task, model: torch.nn.Module, test: circuit.TestSet) -> int:
    """Samples of ``test`` the quantized model classifies correctly (ties wrong)."""
    return int(circuit.strictly_correct(quantized_logits(task, model, test.x), test.y).sum())


@dataclass(frozen=True)
class AccuracyReport:
    """Float and quantized accuracy of a model on a test set."""

    samples: int
    float_accuracy: float
    quantized_accuracy: float

    @property
    def gap_points(self) -> float:
        """Float minus quantized accuracy, in percentage points."""
        return 100.0 * (self.float_accuracy - self.quantized_accuracy)


def accuracy_report(task: Task, model: torch.nn.Module, test: circuit.TestSet) -> AccuracyReport:
    """Compares the float model with its quantized self on ``test``."""
    correct = quantized_score(task, model, test)
    return AccuracyReport(
        samples=len(test.y),
        float_accuracy=float(evaluate(model, test.x, test.y)),
        quantized_accuracy=correct / len(test.y),
    )
