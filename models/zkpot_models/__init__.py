"""PyTorch models and data of zkpot: the architectures a task can name, loaders of the
published data formats (nothing is ever downloaded), federated client splits and local
training.

Pixel values are kept as the source's integers in float32 (see :mod:`zkpot_models.data`).
"""

from zkpot_models.data import (
    DATASETS,
    Dataset,
    DatasetError,
    as_images,
    load_cifar10,
    load_dataset,
    load_digits,
    load_mnist,
    load_mnist7,
    train_test_split,
)
from zkpot_models.nets import (
    ARCHITECTURES,
    ArchSpec,
    WeightsMismatchError,
    arch_spec,
    build_model,
    check_state_dict,
    load_weights,
)
from zkpot_models.split import split_dirichlet, split_iid
from zkpot_models.train import TrainResult, evaluate, pick_device, predict_logits, train

__all__ = [
    "ARCHITECTURES",
    "DATASETS",
    "ArchSpec",
    "Dataset",
    "DatasetError",
    "TrainResult",
    "WeightsMismatchError",
    "arch_spec",
    "as_images",
    "build_model",
    "check_state_dict",
    "evaluate",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_mnist7",
    "load_weights",
    "pick_device",
    "predict_logits",
    "split_dirichlet",
    "split_iid",
    "train",
    "train_test_split",
]
