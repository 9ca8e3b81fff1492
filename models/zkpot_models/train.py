"""Local training as workers do it: Adam and cross-entropy, on CUDA when there is a GPU.

Inputs are fed exactly as given: no rescaling happens here, so the numbers a model is
trained on are the numbers the circuit later sees (the data module documents the scale).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

#: Samples per forward pass when predicting, to bound memory on large test sets.
PREDICT_BATCH = 4096


@dataclass(frozen=True)
class TrainResult:
    """How a training run went."""

    #: Mean cross-entropy over the last epoch's batches.
    loss: float
    #: Accuracy on the training samples after the last epoch.
    train_accuracy: float
    seconds: float
    samples: int
    #: The torch device trained on, e.g. "cpu" or "cuda".
    device: str


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given; for ``None`` (or ``"auto"``) CUDA when available, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _tensor_x(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    device: str | None = None,
    progress: bool = False,
) -> TrainResult:
    """Trains ``model`` in place on ``(x, y)`` with Adam and cross-entropy, shuffling into
    mini-batches each epoch, and returns a :class:`TrainResult`. The model ends in eval
    mode on the CPU, ready to save or export.

    Deterministic on the CPU for a given ``seed`` (and initial weights); on CUDA, kernels
    may differ in the last bits. ``progress`` shows a tqdm bar over the epochs.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(
            f"training needs one label per sample and at least one sample; "
            f"got {len(x)} samples and {len(y)} labels"
        )
    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(
            f"need epochs >= 0, batch_size >= 1 and lr > 0; got {epochs}, {batch_size}, {lr}"
        )
    dev = pick_device(device)
    start = time.perf_counter()
    # The shuffle has its own generator so it depends only on the seed; the global seed
    # covers anything in the model that draws random numbers while training.
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    xt = _tensor_x(x).to(dev)
    yt = torch.from_numpy(y.astype(np.int64)).to(dev)
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    bar = None
    if progress:
        from tqdm import tqdm  # only imported when a bar is wanted

        bar = tqdm(total=epochs, desc="training", unit="epoch", leave=False)
    n = len(yt)
    epoch_loss = float("nan")
    try:
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen).to(dev)
            total = torch.zeros((), device=dev)
            for i in range(0, n, batch_size):
                batch = perm[i : i + batch_size]
                opt.zero_grad()
                loss = loss_fn(model(xt[batch]), yt[batch])
                loss.backward()
                opt.step()
                # Accumulated on the device: a .item() per batch would sync with the GPU.
                total += loss.detach() * len(batch)
            epoch_loss = float(total.item()) / n
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{epoch_loss:.4f}")
        model.eval()
        with torch.no_grad():
            correct = sum(
                int((model(xt[i : i + PREDICT_BATCH]).argmax(1) == yt[i : i + PREDICT_BATCH]).sum())
                for i in range(0, n, PREDICT_BATCH)
            )
    finally:
        if bar is not None:
            bar.close()
        # Back on the CPU even when training failed (e.g. CUDA out of memory), so the
        # caller's model never stays stranded on the GPU.
        model.to("cpu")
    return TrainResult(
        loss=epoch_loss,
        train_accuracy=correct / n,
        seconds=time.perf_counter() - start,
        samples=n,
        device=str(dev),
    )


def predict_logits(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's logits on ``x`` as a float32 array of shape (n, num_classes), computed
    in eval mode on whatever device the model is on."""
    model.eval()
    param = next(model.parameters(), None)
    dev = param.device if param is not None else torch.device("cpu")
    xt = _tensor_x(x)
    out = []
    with torch.no_grad():
        # range(0, max(n, 1)) runs the model once even on no samples, so an empty input
        # still gives the (0, num_classes) shape rather than a guessed one.
        for i in range(0, max(len(xt), 1), PREDICT_BATCH):
            out.append(model(xt[i : i + PREDICT_BATCH].to(dev)).float().cpu())
    return torch.cat(out).numpy()


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy (argmax of the logits against ``y``) of the float model on ``(x, y)``."""
    y = np.asarray(y)
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(
            f"evaluation needs one label per sample and at least one sample; "
            f"got {len(x)} samples and {len(y)} labels"
        )
    return float((predict_logits(model, x).argmax(1) == y).mean())
