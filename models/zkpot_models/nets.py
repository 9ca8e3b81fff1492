"""PyTorch architectures a task can name, and safe loading of their weights.

A task fixes its architecture by name and the zk circuit is built from it, so every model
here uses only operations ezkl proves well (Linear, Conv2d, ReLU, AvgPool2d, Flatten) and
returns logits: no softmax (the score compares logits, and a softmax would only cost
constraints), no BatchNorm or Dropout (train/eval differences would make the proven network
differ from the trained one).

Parameter names are part of the interface: a worker's ``.pt`` file is a state dict keyed
by them (``l1.weight`` ... for the MLPs, ``conv.weight`` ... ``fc.bias`` for the CNNs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


class WeightsMismatchError(ValueError):
    """A state dict does not fit an architecture; the message names the first problem."""


@dataclass(frozen=True)
class ArchSpec:
    """A named architecture: what it takes, what it predicts, and how to build it."""

    name: str
    #: Shape of one sample, without the batch dimension: (64,) or (1, 8, 8).
    input_shape: tuple[int, ...]
    num_classes: int
    #: The data set it is meant for (a name ``load_dataset`` knows).
    dataset: str
    factory: Callable[[], nn.Module]


class MLP(nn.Module):
    """Linear -> ReLU -> Linear on flat inputs."""

    def __init__(self, inputs: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.l1 = nn.Linear(inputs, hidden)
        self.relu = nn.ReLU()
        self.l2 = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, classes) for ``x`` of shape (batch, inputs)."""
        return self.l2(self.relu(self.l1(x)))


class SmallCNN(nn.Module):
    """Conv2d -> ReLU -> AvgPool2d(2) -> Flatten -> Linear on (C, H, W) images."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        channels: int,
        kernel: int,
        classes: int,
        *,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__()
        in_channels, height, width = shape
        self.conv = nn.Conv2d(in_channels, channels, kernel, stride=stride, padding=padding)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        # The dense layer's width follows from the convolution's output size, so the
        # architectures below need not spell it out (and cannot get it wrong).
        out_h = ((height + 2 * padding - kernel) // stride + 1) // 2
        out_w = ((width + 2 * padding - kernel) // stride + 1) // 2
        self.fc = nn.Linear(channels * out_h * out_w, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, classes) for ``x`` of shape (batch, C, H, W)."""
        return self.fc(self.flatten(self.pool(self.relu(self.conv(x)))))


def _digits_mlp() -> nn.Module:
    return MLP(64, 16, 10)


def _digits_cnn() -> nn.Module:
    # 4 x 8 x 8 after the padded 3x3 convolution, 4 x 4 x 4 = 64 after pooling.
    return SmallCNN((1, 8, 8), 4, 3, 10, padding=1)


def _mnist7_mlp() -> nn.Module:
    # 49 * 16 + 16 + 16 * 10 + 10 = 970 parameters, about the digits MLP's circuit.
    return MLP(49, 16, 10)


def _mnist_mlp() -> nn.Module:
    return MLP(784, 32, 10)


def _mnist_cnn() -> nn.Module:
    # 4 x 12 x 12 after the strided 5x5 convolution, 4 x 6 x 6 = 144 after pooling.
    return SmallCNN((1, 28, 28), 4, 5, 10, stride=2)


def _cifar10_cnn() -> nn.Module:
    # 8 x 14 x 14 after the strided 5x5 convolution, 8 x 7 x 7 = 392 after pooling.
    return SmallCNN((3, 32, 32), 8, 5, 10, stride=2)


ARCHITECTURES: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        ArchSpec("digits-mlp", (64,), 10, "digits", _digits_mlp),
        ArchSpec("digits-cnn", (1, 8, 8), 10, "digits", _digits_cnn),
        ArchSpec("mnist7-mlp", (49,), 10, "mnist7", _mnist7_mlp),
        ArchSpec("mnist-mlp", (784,), 10, "mnist", _mnist_mlp),
        ArchSpec("mnist-cnn", (1, 28, 28), 10, "mnist", _mnist_cnn),
        ArchSpec("cifar10-cnn", (3, 32, 32), 10, "cifar10", _cifar10_cnn),
    )
}


def arch_spec(arch: str) -> ArchSpec:
    """The architecture called ``arch``; ``ValueError`` listing the known names otherwise."""
    try:
        return ARCHITECTURES[arch]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}"
        ) from None


def build_model(arch: str) -> nn.Module:
    """A fresh model of ``arch``; call ``torch.manual_seed`` first for reproducible weights."""
    return arch_spec(arch).factory()


def _expected_state(arch: str) -> dict[str, torch.Tensor]:
    # Building a model draws its initial weights from torch's global generator; checking a
    # file must not shift that stream, or a seeded run would depend on whether it loaded
    # weights first.
    with torch.random.fork_rng(devices=[]):
        return build_model(arch).state_dict()


def check_state_dict(arch: str, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raises :class:`WeightsMismatchError` unless ``state_dict`` fits ``arch`` exactly:
    the same keys, tensors of the same shapes, finite floating-point values. The message
    names the first problem found."""
    expected = _expected_state(arch)
    if not isinstance(state_dict, Mapping):
        raise WeightsMismatchError(
            f"expected a state dict (a mapping of names to tensors), got {type(state_dict).__name__}"
        )
    for key, ref in expected.items():
        if key not in state_dict:
            raise WeightsMismatchError(f"missing parameter {key!r} of {arch}")
        value = state_dict[key]
        if not isinstance(value, torch.Tensor):
            raise WeightsMismatchError(
                f"parameter {key!r} is a {type(value).__name__}, not a tensor"
            )
        if tuple(value.shape) != tuple(ref.shape):
            raise WeightsMismatchError(
                f"parameter {key!r} has shape {tuple(value.shape)}, {arch} needs {tuple(ref.shape)}"
            )
        if ref.is_floating_point():
            if not value.is_floating_point():
                raise WeightsMismatchError(
                    f"parameter {key!r} has dtype {value.dtype}, not floating point"
                )
            # NaN or infinite weights cannot be quantized into the circuit.
            if not bool(torch.isfinite(value).all()):
                raise WeightsMismatchError(f"parameter {key!r} has non-finite values")
    for key in state_dict:
        if key not in expected:
            raise WeightsMismatchError(f"unexpected parameter {key!r} for {arch}")


def load_weights(arch: str, path: str | os.PathLike[str]) -> nn.Module:
    """A model of ``arch`` (in eval mode, on the CPU) with the weights saved at ``path`` by
    ``torch.save(model.state_dict(), path)``.

    The file is read with ``weights_only=True``: only tensors and plain containers are
    unpickled, never arbitrary objects, since weights files come from other workers.
    Raises ``FileNotFoundError`` for a missing file and :class:`WeightsMismatchError` for
    one that is unreadable or does not fit ``arch``; both messages name the file.
    """
    spec = arch_spec(arch)
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file not found: {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for damaged/unsafe files
        raise WeightsMismatchError(
            f"{p}: not a readable state dict ({type(e).__name__}: {str(e).splitlines()[0]})"
            if str(e)
            else f"{p}: not a readable state dict ({type(e).__name__})"
        ) from e
    try:
        check_state_dict(spec.name, state)
    except WeightsMismatchError as e:
        raise WeightsMismatchError(f"{p}: {e}") from None
    with torch.random.fork_rng(devices=[]):
        model = build_model(spec.name)
    model.load_state_dict(state)
    return model.eval()
