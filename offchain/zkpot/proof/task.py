"""Building, loading and auditing a task bundle.

``build_task`` turns an architecture, a data set and a threshold into the bundle described
by :class:`zkpot_schemas.TaskManifest`: the scored ONNX network with the initial weights,
ezkl settings, the compiled circuit, the verifying key and its VKA for the chain, the fixed
test set, the initial model's commitment and ``C(0)``, the commitment of the all-zero model
that the chain's aggregate needs. The proving key is made in the same setup and
kept in the key cache (it is large and never per round). The build is deterministic: the
same inputs and the same SRS give the same bytes, VKA included, so anyone can rebuild a task
and compare it with the VKA registered on chain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from zkpot_models import arch_spec, build_model, load_dataset, train_test_split
from zkpot_schemas import (
    AggregationRule,
    Artifact,
    CircuitSettings,
    InstanceLayout,
    RoundTiming,
    SrsReference,
    TaskManifest,
    TestSetReference,
    Weighting,
)

from zkpot import paths
from zkpot.proof import circuit, commitment, ezkl_ops, srs
from zkpot.proof.ezkl_ops import RunArgs

log = logging.getLogger(__name__)

#: File names inside a task directory.
MANIFEST = "task.json"
FILES = {
    "onnx": "network.onnx",
    "settings_file": "settings.json",
    "compiled": "network.ezkl",
    "vk": "vk.key",
    "vka": "vka.bin",
    "test_data": "test_set.npz",
    "witness_input": "input.json",
    "initial_weights": "initial.pt",
}


class TaskError(RuntimeError):
    """A task bundle is missing, damaged or inconsistent; the message names the file."""


@dataclass(frozen=True)
class TaskSpec:
    """What a task is built from."""

    name: str = "digits-mlp"
    architecture: str = "digits-mlp"
    dataset: str = "digits"
    data_dir: Path | None = None
    #: Samples of the test split fixed into the circuit.
    num_samples: int = 32
    #: Fraction of the data set held out as the test split, and the split's seed.
    test_fraction: float = 0.2
    split_seed: int = 0
    #: Seed of the initial global model.
    init_seed: int = 0
    min_score: int = 24
    run_args: RunArgs = RunArgs(logrows=16)
    timing: RoundTiming = RoundTiming(commit_blocks=4, reveal_blocks=4, aggregation_blocks=4)
    #: Every accepted contribution (up to the pallet's 64) with equal weight: FedAvg over
    #: the proven models, without the self-reported sample counts nobody can check. The
    #: publisher may leave out up to a third it could not obtain or check.
    aggregation: AggregationRule = AggregationRule(
        top=64, weighting=Weighting.EQUAL, min_included_percent=67
    )


@dataclass(frozen=True)
class Task:
    """A loaded, checked task bundle."""

    dir: Path
    manifest: TaskManifest

    def path(self, role: str) -> Path:
        """The file of an artifact role (``onnx``, ``vka``, ...)."""
        return self.dir / self.manifest.artifacts()[role].path

    def test_set(self) -> circuit.TestSet:
        """The fixed test samples."""
        return circuit.TestSet.load(self.path("test_data"))

    def vka_words(self) -> bytes:
        """The VKA as the chain carries it: its 32-byte words, without ezkl's length prefix."""
        return vka_words(self.path("vka").read_bytes())

    def pk_path(self) -> Path:
        """Where this task's proving key is cached."""
        return key_cache_dir(self.manifest.vk.sha256) / "pk.key"


def key_cache_dir(vk_sha256: str) -> Path:
    """Cache folder of a task's proving key, named by its verifying key's hash."""
    return paths.cache_dir() / "keys" / vk_sha256


def vka_words(vka_file: bytes) -> bytes:
    """Strips ezkl's bincode header (a little-endian u64 word count) from ``vka.bin``."""
    if len(vka_file) < 8:
        raise TaskError("vka.bin is truncated")
    count = int.from_bytes(vka_file[:8], "little")
    words = vka_file[8:]
    if len(words) != 32 * count:
        raise TaskError(f"vka.bin declares {count} words but holds {len(words)} bytes")
    return words


def _artifact(dir: Path, role: str) -> Artifact:
    path = dir / FILES[role]
    return Artifact(path=FILES[role], sha256=srs.sha256_file(path), size=path.stat().st_size)


def fixed_test_set(spec: TaskSpec) -> tuple[circuit.TestSet, circuit.TestSet]:
    """(The samples fixed into the circuit, the whole test split)."""
    ds = load_dataset(spec.dataset, None if spec.data_dir is None else str(spec.data_dir))
    _, test = train_test_split(ds, spec.test_fraction, spec.split_seed)
    shape = arch_spec(spec.architecture).input_shape
    num_classes = arch_spec(spec.architecture).num_classes
    if len(test.y) < spec.num_samples:
        raise TaskError(f"the test split has {len(test.y)} samples, fewer than {spec.num_samples}")
    x = test.x.reshape((len(test.y), *shape)).astype(np.float32)
    whole = circuit.TestSet(x=x, y=test.y.astype(np.int64), num_classes=num_classes)
    fixed = circuit.TestSet(x=x[: spec.num_samples], y=whole.y[: spec.num_samples], num_classes=num_classes)
    return fixed, whole


def initial_model(spec: TaskSpec) -> torch.nn.Module:
    """The seeded initial global model."""
    torch.manual_seed(spec.init_seed)
    return build_model(spec.architecture)


def _normalise_settings(path: Path) -> dict:
    """Makes ezkl's settings reproducible: drops the wall-clock timestamp, and sorts the
    lists ezkl fills from hash sets in no fixed order. Their order decides the order of the
    circuit's columns, and so the verifying key and the VKA."""
    data = json.loads(path.read_text())
    data["timestamp"] = 0
    for key in ("required_range_checks", "required_lookups"):
        if isinstance(data.get(key), list):
            data[key] = sorted(data[key], key=lambda v: json.dumps(v, sort_keys=True))
    path.write_text(json.dumps(data, sort_keys=True))
    return data


def build_task(
    spec: TaskSpec, out_dir: Path, *, srs_file: Path | None = None, srs_ref: SrsReference | None = None
) -> Task:
    """Builds the bundle into ``out_dir`` (replaced atomically) and caches its proving key."""
    fixed, _ = fixed_test_set(spec)
    if spec.min_score > spec.num_samples:
        raise TaskError("min_score exceeds the number of fixed samples")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".task-", dir=out_dir.parent))
    try:
        model = initial_model(spec)
        torch.save(model.state_dict(), work / FILES["initial_weights"])
        fixed.save(work / FILES["test_data"])
        (work / FILES["witness_input"]).write_text(json.dumps(circuit.witness_input(fixed)))
        circuit.export_onnx(model, fixed, work / FILES["onnx"])

        settings_path = work / FILES["settings_file"]
        ezkl_ops.gen_settings(work / FILES["onnx"], settings_path, spec.run_args)
        settings = _normalise_settings(settings_path)
        logrows = int(settings["run_args"]["logrows"])
        ezkl_ops.compile_circuit(work / FILES["onnx"], work / FILES["compiled"], settings_path)

        if srs_file is None or srs_ref is None:
            srs_file, srs_ref = srs.dev_srs(logrows)
        if srs_ref.logrows != logrows:
            raise TaskError(f"the SRS has logrows {srs_ref.logrows}, the circuit needs {logrows}")

        # The keys need a witness (the fixed test set); the parameters' commitment in the
        # witness needs the keys: witness, setup, witness again with the verifying key.
        witness_path = work / "witness.json"
        ezkl_ops.gen_witness(work / FILES["witness_input"], work / FILES["compiled"], witness_path)
        pk_tmp = work / "pk.key"
        log.info("making the task's keys (logrows %d); this takes a while", logrows)
        ezkl_ops.setup(work / FILES["compiled"], work / FILES["vk"], pk_tmp, srs_file, witness_path)
        asyncio.run(ezkl_ops.create_vka(work / FILES["vk"], settings_path, work / FILES["vka"], srs_file))
        witness = ezkl_ops.gen_witness(
            work / FILES["witness_input"], work / FILES["compiled"], witness_path,
            vk=work / FILES["vk"], srs=srs_file,
        )
        initial = commitment.from_ezkl(witness["processed_params"]["polycommit"][0][0])
        # The chain's aggregate and every worker's check rest on knowing the circuit's
        # parameter order and rounding: check ours against ezkl's own witness.
        params = commitment.quantize_state(model.state_dict(), int(settings["run_args"]["param_scale"]))
        ours = commitment.kzg_commit(work / FILES["vk"], settings_path, srs_file, params)
        if ours != initial:
            raise TaskError(
                f"{spec.architecture}: the parameters in state-dict order do not commit to what "
                "ezkl's witness holds; this architecture's parameter order is not supported"
            )
        zero = commitment.kzg_commit(work / FILES["vk"], settings_path, srs_file, [0] * len(params))
        ra = settings["run_args"]
        manifest = TaskManifest(
            name=spec.name,
            architecture=spec.architecture,
            ezkl_version=ezkl_ops.EZKL_VERSION,
            settings=CircuitSettings(
                input_scale=ra["input_scale"],
                param_scale=ra["param_scale"],
                scale_rebase_multiplier=ra["scale_rebase_multiplier"],
                num_inner_cols=ra["num_inner_cols"],
                decomp_base=ra["decomp_base"],
                decomp_legs=ra["decomp_legs"],
                logrows=logrows,
            ),
            instances=InstanceLayout(
                num_instances=circuit.NUM_INSTANCES,
                score_index=circuit.SCORE_INDEX,
                commitment_offset=circuit.COMMITMENT_OFFSET,
            ),
            test_set=TestSetReference(
                dataset=spec.dataset,
                num_samples=spec.num_samples,
                num_classes=fixed.num_classes,
                test_fraction=spec.test_fraction,
                split_seed=spec.split_seed,
                selection=(
                    f"first {spec.num_samples} samples of the test split "
                    f"(fraction {spec.test_fraction}, seed {spec.split_seed})"
                ),
            ),
            min_score=spec.min_score,
            srs=srs_ref,
            timing=spec.timing,
            aggregation=spec.aggregation,
            initial_commitment=commitment.to_hex(initial),
            zero_commitment=commitment.to_hex(zero),
            num_params=len(params),
            **{role: _artifact(work, role) for role in FILES},
        )
        (work / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n")
        keys = key_cache_dir(manifest.vk.sha256)
        keys.mkdir(parents=True, exist_ok=True)
        pk_tmp.replace(keys / "pk.key")
        witness_path.unlink()

        if out_dir.exists():
            shutil.rmtree(out_dir)
        work.replace(out_dir)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return load_task(out_dir)


def load_task(task_dir: Path, *, check_hashes: bool = True) -> Task:
    """Reads ``task.json`` and checks every artifact against its recorded hash."""
    manifest_path = task_dir / MANIFEST
    if not manifest_path.is_file():
        raise TaskError(f"not a task directory (no {MANIFEST}): {task_dir}")
    try:
        manifest = TaskManifest.model_validate_json(manifest_path.read_text())
    except ValueError as e:
        first = str(e).splitlines()
        raise TaskError(f"{manifest_path}: {' '.join(first[:3])}") from e
    task = Task(dir=task_dir, manifest=manifest)
    if check_hashes:
        for role, art in manifest.artifacts().items():
            path = task_dir / art.path
            if not path.is_file():
                raise TaskError(f"missing artifact {role}: {path}")
            if srs.sha256_file(path) != art.sha256:
                raise TaskError(f"artifact {role} does not match its hash in {MANIFEST}: {path}")
    return task


def audit_commitments(task: Task) -> None:
    """Recomputes ``C(0)`` and the initial model's commitment from the task's circuit and
    compares them with the manifest (a worker also compares them with the chain's)."""
    from zkpot_models import load_weights

    zero = commitment.zero_commitment(task)
    if commitment.to_hex(zero) != task.manifest.zero_commitment:
        raise TaskError("zero_commitment does not match the task's circuit (C(0) differs)")
    model = load_weights(task.manifest.architecture, task.path("initial_weights"))
    if commitment.to_hex(commitment.model_commitment(task, model.state_dict())) != task.manifest.initial_commitment:
        raise TaskError("initial_commitment does not match the initial weights")


def default_task_dir() -> Path:
    """Where the embedded digits task is built."""
    return paths.cache_dir() / "tasks" / TaskSpec().name


def ensure_task(spec: TaskSpec) -> Task:
    """The task of ``spec``, built into the cache (``tasks/<name>``) on first use."""
    d = paths.cache_dir() / "tasks" / spec.name
    try:
        return load_task(d)
    except TaskError:
        log.info("building the %s task into %s", spec.name, d)
        return build_task(spec, d)


def ensure_default_task() -> Task:
    """The embedded digits task, built on first use."""
    return ensure_task(TaskSpec())
