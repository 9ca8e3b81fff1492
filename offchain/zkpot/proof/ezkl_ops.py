"""Thin, typed wrappers over the ezkl calls this project makes.

One place for ezkl's quirks: which calls return awaitables in this version (only
``create_evm_vka`` in 23.0.5, though others were coroutines in other releases), how its
field elements are written (little-endian hex), and the run arguments of a ZKPoT circuit.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ezkl

#: The ezkl release the artifacts and the native verifier are made for.
EZKL_VERSION = "23.0.5"

#: BN254 scalar field modulus: instances are elements of this field.
FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617


class EzklError(RuntimeError):
    """An ezkl call failed; the message names the step."""


@dataclass(frozen=True)
class RunArgs:
    """The circuit choices of a task (see docs/prover.md for why these values)."""

    input_scale: int = 0
    param_scale: int = 6
    scale_rebase_multiplier: int = 1
    num_inner_cols: int = 1
    decomp_base: int = 16384
    decomp_legs: int = 2
    logrows: int | None = None
    #: ``polycommit`` for task circuits; ``hashed`` (Poseidon) only to compare with the
    #: statement tasks had before (scripts/bench_statement.py).
    param_visibility: str = "polycommit"

    def to_ezkl(self) -> ezkl.PyRunArgs:
        """As ezkl's run arguments: test set fixed, parameters committed (``polycommit``:
        one unblinded column whose KZG commitment is the proof's first point), score
        public."""
        ra = ezkl.PyRunArgs()
        ra.input_visibility = "fixed"
        ra.param_visibility = self.param_visibility
        ra.output_visibility = "public"
        ra.input_scale = self.input_scale
        ra.param_scale = self.param_scale
        ra.scale_rebase_multiplier = self.scale_rebase_multiplier
        ra.num_inner_cols = self.num_inner_cols
        ra.decomp_base = self.decomp_base
        ra.decomp_legs = self.decomp_legs
        if self.logrows is not None:
            ra.logrows = self.logrows
        return ra


def _sync(result: Any) -> Any:
    """Resolves ``result`` if this ezkl version returned an awaitable for it."""
    if inspect.isawaitable(result):
        async def wait() -> Any:
            return await result

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(wait())
        raise EzklError("an ezkl coroutine was called from a running event loop; use a worker")
    return result


def _check(ok: Any, step: str) -> None:
    if ok is False:
        raise EzklError(f"ezkl {step} failed")


def gen_settings(onnx: Path, settings: Path, run_args: RunArgs) -> dict[str, Any]:
    """Writes and returns the circuit settings; ``run_args.logrows`` overrides ezkl's pick."""
    try:
        _check(ezkl.gen_settings(str(onnx), str(settings), py_run_args=run_args.to_ezkl()), "gen_settings")
    except RuntimeError as e:
        raise EzklError(f"ezkl gen_settings: {e}") from e
    data = json.loads(settings.read_text())
    if run_args.logrows is not None and data["run_args"]["logrows"] != run_args.logrows:
        data["run_args"]["logrows"] = run_args.logrows
        settings.write_text(json.dumps(data))
    return data


def compile_circuit(onnx: Path, compiled: Path, settings: Path) -> None:
    """Compiles the ONNX network into ezkl's circuit file (the weights are inside)."""
    try:
        _check(ezkl.compile_circuit(str(onnx), str(compiled), str(settings)), "compile_circuit")
    except RuntimeError as e:
        raise EzklError(f"ezkl compile_circuit: {e}") from e


def gen_witness(
    data: Path, compiled: Path, out: Path, *, vk: Path | None = None, srs: Path | None = None
) -> dict[str, Any]:
    """Runs the circuit on its inputs; returns the witness (outputs and, given the
    verifying key and the SRS, the parameters' commitment in ``processed_params``)."""
    kwargs = {} if vk is None else {"vk_path": str(vk), "srs_path": str(srs)}
    try:
        return _sync(ezkl.gen_witness(str(data), str(compiled), str(out), **kwargs))
    except RuntimeError as e:
        raise EzklError(f"ezkl gen_witness: {e}") from e


def gen_srs(path: Path, logrows: int) -> None:
    """Makes a local SRS. INSECURE: this machine knew its secret; development only."""
    ezkl.gen_srs(str(path), logrows)


def setup(compiled: Path, vk: Path, pk: Path, srs: Path, witness: Path) -> None:
    """Makes the verifying and proving keys; the fixed test set comes from ``witness``."""
    try:
        _check(
            ezkl.setup(str(compiled), str(vk), str(pk), srs_path=str(srs), witness_path=str(witness)),
            "setup",
        )
    except RuntimeError as e:
        raise EzklError(f"ezkl setup: {e}") from e


def prove(witness: Path, compiled: Path, pk: Path, proof: Path, srs: Path) -> dict[str, Any]:
    """Proves; writes ``proof.json`` and returns its content."""
    try:
        return _sync(ezkl.prove(str(witness), str(compiled), str(pk), str(proof), srs_path=str(srs)))
    except RuntimeError as e:
        raise EzklError(f"ezkl prove: {e}") from e


def verify(proof: Path, settings: Path, vk: Path, srs: Path) -> bool:
    """ezkl's own verifier."""
    try:
        return bool(ezkl.verify(str(proof), str(settings), str(vk), srs_path=str(srs)))
    except RuntimeError:
        return False


async def create_vka(vk: Path, settings: Path, vka: Path, srs: Path) -> None:
    """Writes the verifying key artifact the reusable (and our native) verifier reads."""
    try:
        result = ezkl.create_evm_vka(str(vk), str(settings), str(vka), srs_path=str(srs))
        if inspect.isawaitable(result):
            result = await result
        _check(result, "create_evm_vka")
    except RuntimeError as e:
        raise EzklError(f"ezkl create_evm_vka: {e}") from e


def proof_file_bytes(path: Path) -> bytes:
    """The raw proof bytes of an ezkl ``proof.json`` (its ``hex_proof``; ``proof`` itself is
    a list of byte values in ezkl 23)."""
    data = json.loads(Path(path).read_text())
    hex_proof = data.get("hex_proof")
    if isinstance(hex_proof, str):
        return bytes.fromhex(hex_proof.removeprefix("0x"))
    proof = data.get("proof")
    if isinstance(proof, list) and all(isinstance(b, int) and 0 <= b < 256 for b in proof):
        return bytes(proof)
    raise ValueError(f"{path}: not an ezkl proof file (no hex_proof or proof bytes)")


def felt_le_hex_to_int(value: str) -> int:
    """An ezkl field element (little-endian hex, as in proof.json and witnesses) as an int."""
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"a field element has 32 bytes, got {len(raw)}")
    n = int.from_bytes(raw, "little")
    if n >= FIELD_MODULUS:
        raise ValueError("field element not below the modulus")
    return n


def int_to_be32(n: int) -> bytes:
    """A field element as the chain carries it: 32 bytes, big-endian."""
    if not 0 <= n < FIELD_MODULUS:
        raise ValueError("not a field element")
    return n.to_bytes(32, "big")


def felt_to_signed(n: int) -> int:
    """A field element read as a signed integer (ezkl's fixed-point convention)."""
    return n - FIELD_MODULUS if n > FIELD_MODULUS // 2 else n
