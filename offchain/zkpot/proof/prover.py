"""Proving: a worker's weights in, ``proof.json`` out.

The steps, and what each one guards:

1. the weights must fit the task's architecture (checked before anything else);
2. the scored network with these weights is exported and compiled with the task's settings,
   and ezkl computes the witness: the score and the model's KZG commitment;
3. a score below the task's minimum stops here, before any proving time is spent;
4. the proof is made with the task's proving key, made once per task and cached on disk.

Steps 2 and 4 run in child processes (``python -m zkpot.proof.prover witness`` and
``python -m zkpot.proof.prove_step``): ezkl holds the interpreter lock while it works, so the
event loop stays free, and the prover runs in a process without PyTorch, which would
otherwise pin it to one core. ``prove_async`` is the API for the async worker;
``prove_weights`` is the same for scripts and the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from zkpot import paths
from zkpot.proof import circuit, commitment, ezkl_ops, srs
from zkpot.proof.task import Task, TaskError, load_task

log = logging.getLogger(__name__)


class ProverError(RuntimeError):
    """Proving was refused or failed; the message says why in one line."""


class BelowThreshold(ProverError):
    """The model's score is below the task's minimum: no proof is made."""


@dataclass(frozen=True)
class Witnessed:
    """A model run through the task's circuit: what a proof of it would state."""

    compiled: str
    witness: str
    #: The model commitment, ``0x`` and 128 hex digits (see ``zkpot.proof.commitment``).
    commitment_hex: str
    score: int
    seconds: float


@dataclass(frozen=True)
class ProofResult:
    """A proof and what it states."""

    proof_path: str
    proof_hex: str
    instances: list[int]
    #: The model commitment, ``0x`` and 128 hex digits: the proof's bytes at the layout's
    #: commitment offset.
    commitment_hex: str
    score: int
    witness_seconds: float
    prove_seconds: float

    @property
    def proof_bytes(self) -> bytes:
        """The raw proof bytes, as the chain carries them."""
        return bytes.fromhex(self.proof_hex.removeprefix("0x"))

    def instances_be32(self) -> list[bytes]:
        """Public instances as the chain carries them: 32-byte big-endian field elements."""
        return [ezkl_ops.int_to_be32(n) for n in self.instances]


def _load_task(task_dir: Path) -> Task:
    try:
        return load_task(task_dir)
    except TaskError as e:
        raise ProverError(str(e)) from e


def check_weights(task: Task, weights: Path) -> None:
    """Refuses a weights file that is missing or does not fit the task's architecture."""
    from zkpot_models import WeightsMismatchError, load_weights

    try:
        load_weights(task.manifest.architecture, weights)
    except FileNotFoundError as e:
        raise ProverError(str(e)) from e
    except WeightsMismatchError as e:
        raise ProverError(f"weights do not fit {task.manifest.architecture}: {e}") from e


def witness_in_process(task: Task, weights: Path, work_dir: Path) -> Witnessed:
    """Step 2 in this process (it loads PyTorch): export, compile, witness."""
    from zkpot_models import load_weights

    start = time.perf_counter()
    work_dir.mkdir(parents=True, exist_ok=True)
    model = load_weights(task.manifest.architecture, weights).eval()
    onnx, compiled, wit = work_dir / "network.onnx", work_dir / "network.ezkl", work_dir / "witness.json"
    circuit.export_onnx(model, task.test_set(), onnx)
    ezkl_ops.compile_circuit(onnx, compiled, task.path("settings_file"))
    data = ezkl_ops.gen_witness(
        task.path("witness_input"), compiled, wit, vk=task.path("vk"), srs=srs.resolve(task.manifest.srs)
    )
    layout = task.manifest.instances
    instances = [ezkl_ops.felt_le_hex_to_int(v) for v in data["outputs"][0]]
    if len(instances) != layout.num_instances:
        raise ProverError(f"the circuit has {len(instances)} public values, the task {layout.num_instances}")
    columns = data["processed_params"].get("polycommit") or []
    if len(columns) != 1 or len(columns[0]) != 1:
        raise ProverError("the task's circuit does not commit its parameters in one column")
    return Witnessed(
        compiled=str(compiled),
        witness=str(wit),
        commitment_hex=commitment.to_hex(commitment.from_ezkl(columns[0][0])),
        score=ezkl_ops.felt_to_signed(instances[layout.score_index]),
        seconds=time.perf_counter() - start,
    )


async def _child(module: str, *args: str, timeout: float) -> dict:
    """Runs ``python -m module args``; its last stdout line is JSON, its stderr the error."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        raise ProverError(f"{args[0]} failed: {lines[-1] if lines else f'exit code {proc.returncode}'}")
    return json.loads(out.decode().strip().splitlines()[-1])


async def witness_async(task: Task, weights: Path, work_dir: Path, timeout: float = 600) -> Witnessed:
    """Step 2 in a child process: the score and commitment of the model in ``weights``."""
    data = await _child(
        "zkpot.proof.prover", "witness", str(task.dir), str(weights), str(work_dir), timeout=timeout
    )
    return Witnessed(**data)


async def ensure_proving_key(task: Task, timeout: float = 3600) -> Path:
    """The task's proving key from the cache, made once if absent.

    Setup is deterministic, so a key made here belongs to the task's verifying key; that is
    checked, and a mismatch (another SRS, a damaged bundle) is an error.
    """
    pk = task.pk_path()
    if pk.is_file():
        return pk
    srs_file = srs.resolve(task.manifest.srs)
    pk.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=pk.parent) as tmp:
        tmpd = Path(tmp)
        wit = tmpd / "witness.json"
        ezkl_ops.gen_witness(task.path("witness_input"), task.path("compiled"), wit)
        log.info("making the proving key of task %s (once)", task.manifest.name)
        await _child(
            "zkpot.proof.prove_step", "setup", str(task.path("compiled")), str(wit), str(srs_file),
            str(tmpd / "vk.key"), str(tmpd / "pk.key"), timeout=timeout,
        )
        if srs.sha256_file(tmpd / "vk.key") != task.manifest.vk.sha256:
            raise ProverError("the proving key made here does not match the task's verifying key")
        (tmpd / "pk.key").replace(pk)
    return pk


async def prove_async(
    task_dir: Path,
    weights: Path,
    out_dir: Path,
    *,
    progress: bool = False,
    expected_seconds: float = 40.0,
    timeout: float = 3600,
    min_score: int | None = -1,
) -> ProofResult:
    """Proves that the model in ``weights`` reaches its score on the task; writes
    ``out_dir/proof.json``. Refuses, before proving, weights of the wrong shape and scores
    below ``min_score`` (-1: the bundle's minimum; the chain's registered minimum may
    differ; ``None``: no check, since a proof of a low score is still a valid proof, which
    tests and the demo's Byzantine workers need). With ``progress``, a bar shows the
    proving time."""
    task = _load_task(task_dir)
    check_weights(task, weights)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".prove-", dir=out_dir))
    try:
        w = await witness_async(task, weights, work)
        minimum = task.manifest.min_score if min_score == -1 else min_score
        if minimum is not None and w.score < minimum:
            raise BelowThreshold(
                f"score {w.score}/{task.manifest.test_set.num_samples} is below the task's "
                f"minimum {minimum}: no proof made"
            )
        pk = await ensure_proving_key(task)
        srs_file = srs.resolve(task.manifest.srs)
        tmp_proof = work / "proof.json"
        step = asyncio.ensure_future(_child(
            "zkpot.proof.prove_step", "prove", w.compiled, w.witness, str(srs_file), str(pk),
            str(tmp_proof), timeout=timeout,
        ))
        if progress:
            await _show_progress(step, expected_seconds)
        data = await step
        instances = [ezkl_ops.felt_le_hex_to_int(v) for v in data["instances"]]
        layout = task.manifest.instances
        if len(instances) != layout.num_instances:
            raise ProverError(f"the proof has {len(instances)} instances, the task {layout.num_instances}")
        raw = bytes.fromhex(str(data["proof"]).removeprefix("0x"))
        carried = commitment.to_hex(commitment.from_proof(raw, layout.commitment_offset))
        if carried != w.commitment_hex:
            raise ProverError("the proof carries another commitment than the witness computed")
        proof_path = out_dir / "proof.json"
        tmp_proof.replace(proof_path)
        return ProofResult(
            proof_path=str(proof_path),
            proof_hex=data["proof"],
            instances=instances,
            commitment_hex=w.commitment_hex,
            score=instances[layout.score_index],
            witness_seconds=w.seconds,
            prove_seconds=data["seconds"],
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _show_progress(step: asyncio.Future, expected: float) -> None:
    from tqdm import tqdm

    start = time.monotonic()
    with tqdm(total=round(expected), desc="proving", unit="s", file=sys.stderr, leave=False) as bar:
        while not step.done():
            await asyncio.wait({step}, timeout=0.5)
            bar.n = min(round(time.monotonic() - start), bar.total)
            bar.refresh()


def verify_natively(task: Task, proof: Path, timeout: float = 600) -> str | None:
    """What ``zkpot-verify`` (the runtime's verifier, built natively) says of ``proof``
    against the task's VKA — ``"valid"`` or its error — or ``None`` where it is not built."""
    binary = paths.rust_binary("zkpot-verify")
    if not binary.is_file():
        return None
    out = subprocess.run([str(binary), "--vka", str(task.path("vka")), "--proof", str(proof)],
                         capture_output=True, text=True, timeout=timeout)
    return out.stdout.strip() or out.stderr.strip()


def prove_weights(task_dir: Path, weights: Path, out_dir: Path) -> ProofResult:
    """:func:`prove_async` for code without an event loop."""
    return asyncio.run(prove_async(task_dir, weights, out_dir))


def result_json(result: ProofResult) -> str:
    """The result as JSON (without the proof bytes)."""
    d = asdict(result)
    d.pop("proof_hex")
    return json.dumps(d, indent=2)


def main(argv: list[str] | None = None) -> int:
    """``python -m zkpot.proof.prover witness TASK_DIR WEIGHTS WORK_DIR``: prints a JSON line."""
    p = argparse.ArgumentParser(prog="python -m zkpot.proof.prover")
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("witness")
    w.add_argument("task_dir", type=Path)
    w.add_argument("weights", type=Path)
    w.add_argument("work_dir", type=Path)
    args = p.parse_args(argv)
    try:
        result = witness_in_process(_load_task(args.task_dir), args.weights, args.work_dir)
    except (ProverError, ezkl_ops.EzklError, ValueError, OSError) as e:
        print(str(e).splitlines()[0] if str(e) else type(e).__name__, file=sys.stderr)
        return 1
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
